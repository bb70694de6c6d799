package load

import (
	"bytes"
	"errors"
	"github.com/wsx-go/wsx/internal/frame"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// §5.7: a single-frame masked text message "Hello", with the mask key 37 fa 21 3d.
func TestFrameMaskedHello(t *testing.T) {
	got := Frame(frame.OpText, []byte("Hello"), false)
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if !bytes.Equal(got, want) {
		t.Fatalf("Frame = % x, want % x", got, want)
	}
}

// §5.2: 7-bit, 16-bit and 64-bit payload lengths, and RSV1 for a compressed message (RFC 7692 §6).
func TestFrameLengths(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head []byte
	}{
		{125, []byte{0x82, 0x80 | 125}},
		{126, []byte{0x82, 0x80 | 126, 0x00, 0x7e}},
		{0xffff, []byte{0x82, 0x80 | 126, 0xff, 0xff}},
		{0x10000, []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		f := Frame(frame.OpBinary, make([]byte, tc.n), false)
		if !bytes.HasPrefix(f, tc.head) || len(f) != len(tc.head)+4+tc.n {
			t.Errorf("n=%d: header % x, len %d", tc.n, f[:len(tc.head)], len(f))
		}
	}
	if f := Frame(frame.OpText, nil, true); f[0] != 0xc1 {
		t.Errorf("RSV1 frame starts %#x, want 0xc1", f[0])
	}
}

// RFC 7692 §7.2.1/§7.2.2: a compressed message drops the 00 00 ff ff tail and inflates back.
func TestDeflateRoundTrip(t *testing.T) {
	p := Scenario{Size: 4096, Text: true}.Payload()
	c := Deflate(p)
	if len(c) >= len(p) || bytes.HasSuffix(c, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("compressed %d -> %d bytes, tail % x", len(p), len(c), c[max(0, len(c)-4):])
	}
	got, err := Inflate(c)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("Inflate: %v, equal=%v", err, bytes.Equal(got, p))
	}
}

func TestTextPayloadIsValidUTF8(t *testing.T) {
	for size := 4000; size < 4100; size++ {
		p := Scenario{Size: size, Text: true}.Payload()
		if !utf8.Valid(p) || len(p) > size || len(p) < size-3 {
			t.Fatalf("size %d: %d bytes, valid=%v", size, len(p), utf8.Valid(p))
		}
	}
}

// serverStream is what a server might send: "Hel"+"lo" fragmented with a ping between the
// fragments (§5.4, §5.5.2), a 300-byte binary message (16-bit length) and an empty text message.
func serverStream() ([]byte, [][]byte) {
	big := bytes.Repeat([]byte{0xab}, 300)
	var s []byte
	s = append(s, 0x01, 0x03, 'H', 'e', 'l')
	s = append(s, 0x89, 0x02, 'p', 'i')
	s = append(s, 0x80, 0x02, 'l', 'o')
	s = append(s, 0x82, 126, 0x01, 0x2c)
	s = append(s, big...)
	s = append(s, 0x81, 0x00)
	return s, [][]byte{[]byte("Hello"), big, {}}
}

// The echo parser counts whole messages, skipping control frames, however the bytes are split
// across reads.
func TestEchoReaderSplitReads(t *testing.T) {
	stream, msgs := serverStream()
	for _, chunk := range []int{1, 2, 3, 7, len(stream)} {
		a, b := net.Pipe()
		go func() {
			for i := 0; i < len(stream); i += chunk {
				a.Write(stream[i:min(i+chunk, len(stream))])
			}
			a.Close()
		}()
		e := newEchoReader(b, nil, 16) // a buffer smaller than a message
		e.buf = e.buf[:16]
		e.keep = true
		var got [][]byte
		for len(got) < len(msgs) {
			n, err := e.readSome()
			if err != nil {
				t.Fatalf("chunk %d: after %d messages: %v", chunk, len(got), err)
			}
			for range n {
				got = append(got, append([]byte(nil), e.last...)) // the last one stands for all
			}
		}
		if last := got[len(got)-1]; !bytes.Equal(last, msgs[len(msgs)-1]) {
			t.Errorf("chunk %d: last message %q", chunk, last)
		}
		if chunk == 1 && !bytes.Equal(got[0], msgs[0]) {
			t.Errorf("fragmented message reassembled as %q", got[0])
		}
		b.Close()
	}
}

func TestEchoReaderRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"masked server frame §5.1": {[]byte{0x82, 0x81, 1, 2, 3, 4, 5}, nil},
		"close frame":              {[]byte{0x88, 0x02, 0x03, 0xe8}, ErrClosed},
		"reserved opcode 0x3":      {[]byte{0x83, 0x00}, nil},
	} {
		e := newEchoReader(nil, tc.in, 64)
		_, err := e.parse()
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i)*time.Microsecond, 1)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < -0.02 || d > 0.02 {
			t.Errorf("q%.2f = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	var small hist
	small.add(40, 3)
	if got := small.quantile(0.5); got != 40 {
		t.Errorf("exact small bucket: %v", got)
	}
}

// FuzzEchoReader feeds arbitrary server bytes to the parser: it must never panic or report
// more payload than it was given.
func FuzzEchoReader(f *testing.F) {
	s, _ := serverStream()
	f.Add(s)
	f.Add([]byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		e := newEchoReader(nil, in, 32)
		e.keep = true
		n, _ := e.parse()
		if n > len(in)/2 {
			t.Fatalf("%d messages from %d bytes", n, len(in))
		}
		if len(e.msg)+len(e.last) > len(in) {
			t.Fatalf("kept %d bytes from %d", len(e.msg)+len(e.last), len(in))
		}
	})
}

// BenchmarkEchoReaderParse is the generator's cost of parsing echoes: a read that delivered
// 64 pipelined 16-byte server frames.
func BenchmarkEchoReaderParse(b *testing.B) {
	one := []byte{0x82, 16}
	one = append(one, make([]byte, 16)...)
	in := bytes.Repeat(one, 64)
	e := newEchoReader(nil, nil, len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		e.r, e.w = 0, copy(e.buf, in)
		if n, err := e.parse(); n != 64 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkFrame is the cost of building a masked 1 KiB client frame.
func BenchmarkFrame(b *testing.B) {
	p := make([]byte, 1024)
	for b.Loop() {
		Frame(frame.OpBinary, p, false)
	}
}
