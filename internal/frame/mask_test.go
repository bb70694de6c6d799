package frame

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// maskRef is the byte-wise algorithm of §5.3:
// transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4).
func maskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

// TestMaskRFCExample checks the masked "Hello" of §5.7.
func TestMaskRFCExample(t *testing.T) {
	b := []byte("Hello")
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	if next := Mask(key, 0, b); next != 1 {
		t.Errorf("Mask returned %d, want 1", next)
	}
	if want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(b, want) {
		t.Errorf("masked Hello = % x, want % x", b, want)
	}
	Mask(key, 0, b)
	if string(b) != "Hello" {
		t.Errorf("unmasked = %q, want Hello", b)
	}
}

// TestMaskReference compares Mask with the byte-wise definition of §5.3 for
// every length 0..300, every key offset and several start alignments, and
// checks that the bytes around b are left alone.
func TestMaskReference(t *testing.T) {
	key := [4]byte{0x12, 0x9a, 0xc7, 0x3e}
	src := make([]byte, 600+16)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	got := make([]byte, len(src))
	want := make([]byte, len(src))
	for n := 0; n <= 600; n++ { // past 256 bytes: the AVX2 loop, with SSE2 blocks behind it
		for pos := range 4 {
			for off := range 8 {
				copy(got, src)
				copy(want, src)
				gn := Mask(key, pos, got[off:off+n])
				wn := maskRef(key, pos, want[off:off+n])
				if gn != wn || !bytes.Equal(got, want) {
					t.Fatalf("len %d pos %d offset %d: Mask differs from §5.3 reference (next %d, want %d)", n, pos, off, gn, wn)
				}
			}
		}
	}
}

func TestMaskRandomLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		n := r.IntN(1 << 20)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := append([]byte(nil), b...)
		key := [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		pos := r.IntN(4)
		if gn, wn := Mask(key, pos, b), maskRef(key, pos, want); gn != wn || !bytes.Equal(b, want) {
			t.Fatalf("len %d pos %d: Mask differs from reference", n, pos)
		}
	}
}

// TestMaskSplit checks that a payload unmasked in arbitrary pieces, chaining
// the returned offset, equals one unmasked whole (§5.3 across partial reads).
func TestMaskSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	for range 200 {
		b := make([]byte, r.IntN(2000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := append([]byte(nil), b...)
		maskRef(key, 0, want)
		pos := 0
		for rest := b; len(rest) > 0; {
			k := r.IntN(len(rest) + 1)
			pos = Mask(key, pos, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("len %d: piecewise Mask differs from whole", len(b))
		}
	}
}

func TestMaskPosReducedModulo4(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	got := make([]byte, 20)
	want := make([]byte, 20)
	if gn, wn := Mask(key, 6, got), maskRef(key, 2, want); gn != wn || !bytes.Equal(got, want) {
		t.Errorf("Mask with pos 6 = % x (%d), want as pos 2: % x (%d)", got, gn, want, wn)
	}
}

func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 1000)
	if n := testing.AllocsPerRun(100, func() { Mask([4]byte{1, 2, 3, 4}, 1, b) }); n != 0 {
		t.Errorf("Mask allocates %v times", n)
	}
}

func FuzzMask(f *testing.F) {
	f.Add([]byte("Hello"), uint32(0x37fa213d), 0)
	f.Add(make([]byte, 100), uint32(0x01020304), 3)
	f.Fuzz(func(t *testing.T, b []byte, k uint32, pos int) {
		key := [4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
		pos &= 3
		want := append([]byte(nil), b...)
		wn := maskRef(key, pos, want)
		if gn := Mask(key, pos, b); gn != wn || !bytes.Equal(b, want) {
			t.Fatalf("Mask(% x, %d) differs from reference", key, pos)
		}
	})
}

var maskSizes = []int{16, 128, 1 << 10, 16 << 10, 1 << 20}

func BenchmarkMask(b *testing.B) {
	for _, n := range maskSizes {
		buf := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Mask([4]byte{1, 2, 3, 4}, 1, buf)
			}
		})
	}
}

// BenchmarkMaskBytewise measures the §5.3 reference for comparison.
func BenchmarkMaskBytewise(b *testing.B) {
	for _, n := range maskSizes {
		buf := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				maskRef([4]byte{1, 2, 3, 4}, 1, buf)
			}
		})
	}
}
