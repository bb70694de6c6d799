package frame

import (
	"bytes"
	"errors"
	"testing"
)

// Wire examples from §5.7 and boundary cases of the length encoding (§5.2).
var headerTests = []struct {
	name string
	wire []byte
	h    Header
}{
	{"§5.7 unmasked text Hello", []byte{0x81, 0x05}, Header{Fin: true, Opcode: OpText, Length: 5}},
	{"§5.7 masked text Hello", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d},
		Header{Fin: true, Opcode: OpText, Masked: true, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Length: 5}},
	{"§5.7 first fragment", []byte{0x01, 0x03}, Header{Opcode: OpText, Length: 3}},
	{"§5.7 last fragment", []byte{0x80, 0x02}, Header{Fin: true, Opcode: OpContinuation, Length: 2}},
	{"§5.7 unmasked ping", []byte{0x89, 0x05}, Header{Fin: true, Opcode: OpPing, Length: 5}},
	{"§5.7 masked pong", []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d},
		Header{Fin: true, Opcode: OpPong, Masked: true, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Length: 5}},
	{"§5.7 256 bytes binary", []byte{0x82, 0x7e, 0x01, 0x00}, Header{Fin: true, Opcode: OpBinary, Length: 256}},
	{"§5.7 64KiB binary", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, Opcode: OpBinary, Length: 65536}},
	{"empty close", []byte{0x88, 0x00}, Header{Fin: true, Opcode: OpClose}},
	{"7-bit max 125", []byte{0x82, 0x7d}, Header{Fin: true, Opcode: OpBinary, Length: 125}},
	{"16-bit min 126", []byte{0x82, 0x7e, 0x00, 0x7e}, Header{Fin: true, Opcode: OpBinary, Length: 126}},
	{"16-bit max 65535", []byte{0x82, 0x7e, 0xff, 0xff}, Header{Fin: true, Opcode: OpBinary, Length: 65535}},
	{"64-bit max", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
		Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 1<<63 - 1}},
	{"RSV bits kept as on the wire", []byte{0xf1, 0x00}, Header{Fin: true, Rsv: Rsv1 | Rsv2 | Rsv3, Opcode: OpText}},
	{"RSV1 only", []byte{0x41, 0x00}, Header{Rsv: Rsv1, Opcode: OpText}},
	{"reserved opcode decoded as is", []byte{0x83, 0x00}, Header{Fin: true, Opcode: 0x3}},
	{"reserved control opcode decoded as is", []byte{0x8f, 0x00}, Header{Fin: true, Opcode: 0xf}},
}

func TestParse(t *testing.T) {
	for _, tt := range headerTests {
		// Trailing bytes (the payload) must be ignored.
		in := append(append([]byte(nil), tt.wire...), 0xde, 0xad)
		h, n, err := Parse(in)
		if err != nil || h != tt.h || n != len(tt.wire) {
			t.Errorf("%s: Parse(% x) = %+v, %d, %v; want %+v, %d, nil", tt.name, in, h, n, err, tt.h, len(tt.wire))
		}
		if got := Size(tt.h.Length, tt.h.Masked); got != len(tt.wire) {
			t.Errorf("%s: Size = %d, want %d", tt.name, got, len(tt.wire))
		}
	}
}

func TestPut(t *testing.T) {
	for _, tt := range headerTests {
		b := make([]byte, MaxHeaderSize)
		n := Put(b, tt.h)
		if !bytes.Equal(b[:n], tt.wire) {
			t.Errorf("%s: Put(%+v) = % x, want % x", tt.name, tt.h, b[:n], tt.wire)
		}
		// A buffer of exactly Size bytes is enough.
		exact := make([]byte, Size(tt.h.Length, tt.h.Masked))
		if n := Put(exact, tt.h); n != len(exact) || !bytes.Equal(exact, tt.wire) {
			t.Errorf("%s: Put into exact buffer = % x, want % x", tt.name, exact[:n], tt.wire)
		}
	}
}

// TestParseShortHeader checks that every proper prefix of a header asks for
// more bytes rather than failing or returning a header.
func TestParseShortHeader(t *testing.T) {
	for _, tt := range headerTests {
		for i := range len(tt.wire) {
			h, n, err := Parse(tt.wire[:i])
			if err != ErrShortHeader || n != 0 || h != (Header{}) {
				t.Errorf("%s: Parse(% x) = %+v, %d, %v; want ErrShortHeader", tt.name, tt.wire[:i], h, n, err)
			}
		}
	}
}

// TestParseLengthErrors checks §5.2: "the minimal number of bytes MUST be
// used to encode the length" and "the most significant bit MUST be 0".
func TestParseLengthErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		err  error
	}{
		{"16-bit 0", []byte{0x82, 0x7e, 0x00, 0x00}, ErrNonMinimalLength},
		{"16-bit 125", []byte{0x82, 0x7e, 0x00, 0x7d}, ErrNonMinimalLength},
		{"64-bit 0", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0}, ErrNonMinimalLength},
		{"64-bit 125", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x7d}, ErrNonMinimalLength},
		{"64-bit 65535", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, ErrNonMinimalLength},
		{"64-bit MSB set", []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, ErrLengthMSB},
		{"64-bit all ones", []byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrLengthMSB},
		// The error is reported as soon as the length is known, before the
		// masking key has arrived.
		{"16-bit 1, masked, key missing", []byte{0x82, 0xfe, 0x00, 0x01}, ErrNonMinimalLength},
		{"64-bit MSB, masked, key missing", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, ErrLengthMSB},
	}
	for _, tt := range tests {
		h, n, err := Parse(tt.wire)
		if err != tt.err || n != 0 || h != (Header{}) {
			t.Errorf("%s: Parse(% x) = %+v, %d, %v; want %v", tt.name, tt.wire, h, n, err, tt.err)
		}
	}
	if errors.Is(ErrNonMinimalLength, ErrLengthMSB) || ErrShortHeader == ErrNonMinimalLength {
		t.Error("error values are not distinct")
	}
}

// TestPutParseRoundTrip covers every first byte and the length boundaries of
// the three encodings (§5.2).
func TestPutParseRoundTrip(t *testing.T) {
	lengths := []int64{0, 1, 125, 126, 127, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<63 - 1}
	b := make([]byte, MaxHeaderSize)
	for b0 := range 256 {
		for _, l := range lengths {
			for _, masked := range []bool{false, true} {
				h := Header{
					Fin:    b0&0x80 != 0,
					Rsv:    byte(b0) & 0x70,
					Opcode: Opcode(b0 & 0x0f),
					Masked: masked,
					Length: l,
				}
				if masked {
					h.Key = [4]byte{byte(b0), 0xa5, 0x5a, byte(l)}
				}
				n := Put(b, h)
				if b[0] != byte(b0) {
					t.Fatalf("Put(%+v): first byte %#x, want %#x", h, b[0], b0)
				}
				if n != Size(l, masked) {
					t.Fatalf("Put(%+v) = %d bytes, Size = %d", h, n, Size(l, masked))
				}
				got, gn, err := Parse(b[:n])
				if err != nil || got != h || gn != n {
					t.Fatalf("Parse(Put(%+v)) = %+v, %d, %v", h, got, gn, err)
				}
			}
		}
	}
}

func TestPutIgnoresOutOfRangeBits(t *testing.T) {
	b := make([]byte, MaxHeaderSize)
	n := Put(b, Header{Rsv: 0xff, Opcode: 0xf1, Length: 3})
	if want := []byte{0x71, 0x03}; !bytes.Equal(b[:n], want) {
		t.Errorf("Put = % x, want % x", b[:n], want)
	}
}

func TestPutNegativeLengthPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Put with a negative length did not panic")
		}
	}()
	Put(make([]byte, MaxHeaderSize), Header{Length: -1})
}

func TestSize(t *testing.T) {
	tests := []struct {
		length int64
		masked bool
		want   int
	}{
		{0, false, 2}, {125, false, 2}, {126, false, 4}, {65535, false, 4},
		{65536, false, 10}, {1<<63 - 1, false, 10},
		{0, true, 6}, {125, true, 6}, {126, true, 8}, {65535, true, 8},
		{65536, true, 14}, {1<<63 - 1, true, MaxHeaderSize},
	}
	for _, tt := range tests {
		if got := Size(tt.length, tt.masked); got != tt.want {
			t.Errorf("Size(%d, %v) = %d, want %d", tt.length, tt.masked, got, tt.want)
		}
	}
}

// TestOpcode checks the opcode classes of §5.2 for all 16 values.
func TestOpcode(t *testing.T) {
	names := map[Opcode]string{
		OpContinuation: "continuation", OpText: "text", OpBinary: "binary",
		OpClose: "close", OpPing: "ping", OpPong: "pong",
	}
	for o := range Opcode(16) {
		wantControl := o >= 0x8
		if o.IsControl() != wantControl {
			t.Errorf("%#x.IsControl() = %v", byte(o), o.IsControl())
		}
		name, defined := names[o]
		if o.IsReserved() == defined {
			t.Errorf("%#x.IsReserved() = %v", byte(o), o.IsReserved())
		}
		if !defined {
			name = "opcode 0x" + string("0123456789abcdef"[o])
		}
		if o.String() != name {
			t.Errorf("%#x.String() = %q, want %q", byte(o), o.String(), name)
		}
	}
}

// FuzzParse checks that Parse never panics and that every header it accepts
// is in minimal form: Put re-encodes it to the same bytes (§5.2).
func FuzzParse(f *testing.F) {
	for _, tt := range headerTests {
		f.Add(tt.wire)
	}
	f.Add([]byte{0x82, 0x7e, 0x00, 0x7d})
	f.Add([]byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("Parse(% x) = %+v, %d with error %v", b, h, n, err)
			}
			// No header is longer than MaxHeaderSize (§5.2).
			if err == ErrShortHeader && len(b) >= MaxHeaderSize {
				t.Fatalf("ErrShortHeader for %d bytes", len(b))
			}
			return
		}
		if h.Length < 0 {
			t.Fatalf("negative length %d", h.Length)
		}
		if n != Size(h.Length, h.Masked) || n > len(b) {
			t.Fatalf("Parse(% x): n = %d, Size = %d", b, n, Size(h.Length, h.Masked))
		}
		out := make([]byte, MaxHeaderSize)
		if m := Put(out, h); !bytes.Equal(out[:m], b[:n]) {
			t.Fatalf("Put(Parse(% x)) = % x", b[:n], out[:m])
		}
		// Any prefix is short; the header alone parses the same.
		if _, _, err := Parse(b[:n-1]); err != ErrShortHeader {
			t.Fatalf("Parse of %d-byte prefix: %v", n-1, err)
		}
		if h2, n2, err := Parse(b[:n]); h2 != h || n2 != n || err != nil {
			t.Fatalf("Parse of header alone = %+v, %d, %v", h2, n2, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	wire := []byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	buf := make([]byte, MaxHeaderSize)
	h := Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 256}
	b.ReportAllocs()
	for b.Loop() {
		Put(buf, h)
	}
}

// TestAppend: a whole frame, masked with its key (§5.3), parses back to its
// header and payload; the RFC's examples of §5.7 come out byte for byte.
func TestAppend(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	if got := Append(nil, Header{Fin: true, Opcode: OpText}, []byte("Hello")); string(got) != "\x81\x05\x48\x65\x6c\x6c\x6f" {
		t.Errorf("unmasked Hello: %x", got)
	}
	if got := Append([]byte("x"), Header{Fin: true, Opcode: OpText, Masked: true, Key: key}, []byte("Hello")); string(got) != "x\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" {
		t.Errorf("masked Hello after x: %x", got)
	}
	payload := make([]byte, 300)
	b := Append(nil, Header{Opcode: OpBinary, Length: 7}, payload) // Length is the payload's
	h, n, err := Parse(b)
	if err != nil || h.Length != 300 || h.Fin || len(b) != n+300 {
		t.Fatalf("Parse = %+v, %d, %v of %d bytes", h, n, err, len(b))
	}
}
