package utf8

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	std "unicode/utf8"
)

// autobahn holds the sequences of the Autobahn TestSuite's case 6 (UTF-8
// handling), plus a few more; whether each is valid is taken from
// unicode/utf8.
var autobahn = []string{
	"",
	"48656c6c6f2d c2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121", // 6.2: Hello-µ@ßöäüàá-UTF-8!!
	"cebae1bdb9cf83cebcceb5",                     // 6.5.1: κόσμε
	"cebae1bdb9cf83cebcceb5eda080656469746564",   // 6.3.1: surrogate inside
	"cebae1bdb9cf83cebcceb5f4908080656469746564", // 6.4.1-6.4.4: above U+10FFFF
	"00", "c280", "e0a080", "f0908080", // 6.7: first possible sequence of each length
	"f888808080", "fc8480808080", // 6.8: first impossible sequences
	"7f", "dfbf", "efbfbf", "f48fbfbf", // 6.9: last possible sequences
	"f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf", // 6.10: last impossible sequences
	"ed9fbf", "ee8080", "efbfbd", "f48fbfbf", "f4908080", // 6.11: other boundaries
	"80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf", "808182838485868788898a8b8c8d8e8f", // 6.12: unexpected continuations
	"c020c120c220df20", "e020ef20", "f020f720", "f820fb20", "fc20fd20", // 6.13: lonely start bytes
	"c0", "e080", "f08080", "f8808080", "fc80808080", // 6.14: last byte missing
	"df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf",
	"c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf", // 6.15: concatenation of incomplete sequences
	"fe", "ff", "fefeffff", // 6.16: impossible bytes
	"c0af", "e080af", "f08080af", "f8808080af", "fc80808080af", // 6.17: overlong ASCII
	"c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf", // 6.18: maximum overlong
	"c080", "e08080", "f0808080", "f880808080", "fc8080808080", // 6.19: overlong NUL
	"eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf", // 6.20: single surrogates
	"eda080edb080", "eda080edbfbf", "edadbfedb080", "edafbfedbfbf", // 6.21: paired surrogates
	"efbfbe", "efbfbf", "f09fbfbe", "f09fbfbf", "f48fbfbe", "f48fbfbf", // 6.22: non-characters (valid)
	"efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf", // 6.23: specials
	"f4808080", "f3bfbfbf", "f1808080", "e1808080", "ec808080", "ee80",
	"41424344454647e282ac48494a4b4c4d4e4f50f09f9880", // ASCII words around multibyte
}

func autobahnInputs(t testing.TB) [][]byte {
	var in [][]byte
	for _, s := range autobahn {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatalf("bad hex %q: %v", s, err)
		}
		in = append(in, b)
	}
	return in
}

// Every proper prefix of the encoding of every Unicode scalar value, computed
// by brute force with unicode/utf8.
var (
	prefixesOnce sync.Once
	prefixes     map[string]bool
)

func properPrefixes() map[string]bool {
	prefixesOnce.Do(func() {
		prefixes = make(map[string]bool)
		var buf [4]byte
		for r := rune(0); r <= std.MaxRune; r++ {
			if !std.ValidRune(r) {
				continue
			}
			n := std.EncodeRune(buf[:], r)
			for i := 1; i < n; i++ {
				prefixes[string(buf[:i])] = true
			}
		}
	})
	return prefixes
}

// viable reports whether some continuation of p is valid UTF-8: p is valid
// followed by at most three bytes that begin the encoding of a code point.
func viable(p []byte) bool {
	pre := properPrefixes()
	for t := 0; t <= 3 && t <= len(p); t++ {
		if std.Valid(p[:len(p)-t]) && (t == 0 || pre[string(p[len(p)-t:])]) {
			return true
		}
	}
	return false
}

// failAt returns the length of the shortest prefix of p that is not viable, or
// -1 if p is viable. Viability is prefix-closed, so a binary search finds it.
func failAt(p []byte) int {
	if viable(p) {
		return -1
	}
	lo, hi := 0, len(p) // p[:lo] viable, p[:hi] not
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if viable(p[:m]) {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// checkSplits writes p to a Validator in pieces ending at the given offsets
// and checks each Write result against the brute-force reference: a Write
// fails exactly when the stream up to its end is no longer viable (§8.1
// fail-fast), and Complete matches unicode/utf8.Valid.
func checkSplits(t *testing.T, p []byte, cuts []int) {
	t.Helper()
	fail := failAt(p)
	var v Validator
	start := 0
	for _, end := range append(cuts, len(p)) {
		want := fail < 0 || end < fail
		if got := v.Write(p[start:end]); got != want {
			t.Fatalf("% x split at %v: Write(p[%d:%d]) = %v, want %v (first non-viable prefix length %d)",
				p, cuts, start, end, got, want, fail)
		}
		start = end
	}
	if got, want := v.Complete(), std.Valid(p); got != want {
		t.Fatalf("% x split at %v: Complete() = %v, want %v", p, cuts, got, want)
	}
	if got, want := Valid(p), std.Valid(p); got != want {
		t.Fatalf("Valid(% x) = %v, want %v", p, got, want)
	}
}

// TestValidatorSplits checks the Autobahn case 6 sequences (§8.1) with every
// single split point, two split points, and one byte at a time.
func TestValidatorSplits(t *testing.T) {
	for _, p := range autobahnInputs(t) {
		for i := 0; i <= len(p); i++ {
			checkSplits(t, p, []int{i})
			for j := i; j <= len(p) && len(p) <= 24; j++ {
				checkSplits(t, p, []int{i, j})
			}
		}
		var each []int
		for i := 1; i < len(p); i++ {
			each = append(each, i)
		}
		checkSplits(t, p, each)
	}
}

// TestValidatorFailFast pins the examples of Autobahn cases 6.3 and 6.4: the
// failure is reported at the byte that makes the stream impossible, not at
// the end of the code point or message (§8.1).
func TestValidatorFailFast(t *testing.T) {
	tests := []struct {
		hex    string
		failAt int // index of the first byte whose Write fails
	}{
		{"cebae1bdb9cf83cebcceb5eda080656469746564", 12},   // ed a0: surrogate
		{"cebae1bdb9cf83cebcceb5f4908080656469746564", 12}, // f4 90: above U+10FFFF
		{"f4908080", 1},
		{"e080af", 1},    // overlong
		{"c0", 0},        // always overlong
		{"f5", 0},        // above U+10FFFF
		{"e1e1", 1},      // lead byte where a continuation is needed
		{"ed9fbfed", -1}, // valid so far
	}
	for _, tt := range tests {
		p, _ := hex.DecodeString(tt.hex)
		var v Validator
		got := -1
		for i, c := range p {
			if !v.Write([]byte{c}) {
				got = i
				break
			}
		}
		if got != tt.failAt {
			t.Errorf("% x byte by byte: first failing Write at %d, want %d", p, got, tt.failAt)
		}
		if tt.failAt >= 0 {
			// Failure is sticky, even for input that would be valid alone.
			if v.Write([]byte("a")) || v.Complete() {
				t.Errorf("% x: Validator recovered after failing", p)
			}
		}
	}
}

func TestValidatorIncomplete(t *testing.T) {
	var v Validator
	if !v.Write([]byte("κόσμε\xce")) {
		t.Fatal("Write of a valid prefix failed")
	}
	if v.Complete() {
		t.Error("Complete() = true in the middle of a code point")
	}
	if !v.Write([]byte("\xba")) || !v.Complete() {
		t.Error("code point split across writes not accepted")
	}
	if !v.Write(nil) || !v.Complete() {
		t.Error("empty Write changed the state")
	}
}

func TestValidatorReset(t *testing.T) {
	var v Validator
	v.Write([]byte{0xff})
	v.Reset()
	if !v.Write([]byte("ok")) || !v.Complete() {
		t.Error("Reset did not clear a failure")
	}
	v.Write([]byte{0xe2, 0x82})
	v.Reset()
	if !v.Complete() {
		t.Error("Reset did not clear an incomplete code point")
	}
}

// TestValidMatchesStdlib checks Valid and Validator against unicode/utf8 for
// all inputs of up to 4 bytes over an alphabet of boundary bytes, after
// prefixes of 0-9 ASCII bytes so the 8-byte fast path is crossed at every
// alignment.
func TestValidMatchesStdlib(t *testing.T) {
	alpha := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	for pad := range 10 {
		buf := bytes.Repeat([]byte("a"), pad)
		var rec func(depth int)
		rec = func(depth int) {
			want := std.Valid(buf)
			if got := Valid(buf); got != want {
				t.Fatalf("Valid(% x) = %v, want %v", buf, got, want)
			}
			var v Validator
			if got := v.Write(buf) && v.Complete(); got != want {
				t.Fatalf("Validator(% x) = %v, want %v", buf, got, want)
			}
			if depth == 0 {
				return
			}
			for _, c := range alpha {
				buf = append(buf, c)
				rec(depth - 1)
				buf = buf[:len(buf)-1]
			}
		}
		depth := 4
		if pad > 0 {
			depth = 3
		}
		rec(depth)
	}
}

// TestValidAllRunes checks every code point and every surrogate, encoded
// the way UTF-8 would if surrogates were allowed.
func TestValidAllRunes(t *testing.T) {
	var buf [4]byte
	for r := rune(0); r <= std.MaxRune; r++ {
		n := std.EncodeRune(buf[:], r)
		if r >= 0xD800 && r <= 0xDFFF {
			buf[0], buf[1], buf[2], n = 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F), 3
		}
		want := std.ValidRune(r)
		if got := Valid(buf[:n]); got != want {
			t.Fatalf("Valid(U+%04X % x) = %v, want %v", r, buf[:n], got, want)
		}
	}
}

func TestRandomDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "hello world ", "κόσμε", "€", "😀", "\xed\xa0\x80", "\xf4\x90", "\xc0\xaf", "\x80", "\xff", "\xe2\x82", "\xf0\x9f"}
	for range 2000 {
		var p []byte
		for range r.IntN(30) {
			p = append(p, pieces[r.IntN(len(pieces))]...)
		}
		var cuts []int
		for i := 1; i < len(p); i++ {
			if r.IntN(5) == 0 {
				cuts = append(cuts, i)
			}
		}
		checkSplits(t, p, cuts)
	}
}

func TestAllocs(t *testing.T) {
	p := []byte(strings.Repeat("κόσμε hello ", 100))
	var v Validator
	if n := testing.AllocsPerRun(100, func() { v.Write(p); Valid(p) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzValidator splits the input at fuzzer-chosen points and checks every
// Write and the final Complete against the brute-force reference.
func FuzzValidator(f *testing.F) {
	for _, p := range autobahnInputs(f) {
		f.Add(p, uint64(0x0123456789abcdef))
	}
	f.Fuzz(func(t *testing.T, p []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, uint64(len(p))))
		var cuts []int
		for i := 1; i < len(p); i++ {
			if r.IntN(4) == 0 {
				cuts = append(cuts, i)
			}
		}
		checkSplits(t, p, cuts)
	})
}

var benchSizes = []int{16, 128, 1 << 10, 16 << 10, 1 << 20}

func benchText(kind string, n int) []byte {
	var unit string
	switch kind {
	case "ascii":
		unit = "The quick brown fox jumps over the lazy dog. "
	case "mixed":
		unit = "Hello, κόσμε! Привет, мир. こんにちは世界。 مرحبا 😀 "
	}
	b := []byte(strings.Repeat(unit, n/len(unit)+1))[:n]
	for !std.Valid(b) { // do not cut a code point in half
		b = b[:len(b)-1]
	}
	return slices.Clip(b)
}

func BenchmarkValidator(b *testing.B) {
	for _, kind := range []string{"ascii", "mixed"} {
		for _, n := range benchSizes {
			p := benchText(kind, n)
			b.Run(fmt.Sprintf("%s/%d/Validator", kind, n), func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				var v Validator
				for b.Loop() {
					v.Reset()
					if !v.Write(p) || !v.Complete() {
						b.Fatal("invalid")
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%d/Valid", kind, n), func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					if !Valid(p) {
						b.Fatal("invalid")
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%d/unicode-utf8", kind, n), func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					if !std.Valid(p) {
						b.Fatal("invalid")
					}
				}
			})
		}
	}
}
