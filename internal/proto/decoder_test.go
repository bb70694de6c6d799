package proto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wsx-go/wsx/internal/frame"
)

// feed runs a byte stream through d the way a connection does and returns the data messages
// and control frames it saw, or the first error.
func feed(d *Decoder, stream []byte) (msgs []string, controls []frame.Opcode, err error) {
	var msg []byte
	for len(stream) > 0 {
		h, n, err := ParseHeader(stream)
		if err != nil {
			return msgs, controls, err
		}
		if h.Opcode.IsControl() && h.Length <= frame.MaxControlPayload && int64(len(stream)-n) < h.Length {
			return msgs, controls, frame.ErrShortHeader
		}
		if err := d.Frame(h); err != nil {
			return msgs, controls, err
		}
		stream = stream[n:]
		if h.Opcode.IsControl() {
			p := bytes.Clone(stream[:h.Length])
			stream = stream[h.Length:]
			if _, _, err := d.Control(h.Opcode, p); err != nil {
				return msgs, controls, err
			}
			controls = append(controls, h.Opcode)
			continue
		}
		if int64(len(stream)) < h.Length {
			return msgs, controls, frame.ErrShortHeader
		}
		// Payload in pieces of 3 bytes, as from a slow socket.
		p := bytes.Clone(stream[:h.Length])
		stream = stream[h.Length:]
		for len(p) > 0 {
			k := min(3, len(p))
			if err := d.Payload(p[:k]); err != nil {
				return msgs, controls, err
			}
			msg = append(msg, p[:k]...)
			p = p[k:]
		}
		if !d.InMessage() && d.Remaining() == 0 {
			msgs = append(msgs, string(msg))
			msg = nil
		}
	}
	return msgs, controls, nil
}

func enc(fin bool, rsv byte, op frame.Opcode, masked bool, payload string) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: masked, Key: [4]byte{1, 2, 3, 4}, Length: int64(len(payload))}
	b := make([]byte, frame.MaxHeaderSize+len(payload))
	n := frame.Put(b, h)
	copy(b[n:], payload)
	if masked {
		frame.Mask(h.Key, 0, b[n:n+len(payload)])
	}
	return b[:n+len(payload)]
}

func TestDecoder(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name     string
		d        Decoder
		stream   []byte
		msgs     []string
		controls []frame.Opcode
		code     uint16 // expected failure code, 0 for none
	}{
		{name: "5.6 text message", stream: enc(true, 0, frame.OpText, true, "Hello"), msgs: []string{"Hello"}},
		{name: "5.4 fragments with a ping between", stream: cat(enc(false, 0, frame.OpText, true, "Hel"), enc(true, 0, frame.OpPing, true, "p"), enc(true, 0, frame.OpContinuation, true, "lo")),
			msgs: []string{"Hello"}, controls: []frame.Opcode{frame.OpPing}},
		{name: "5.6 empty messages", stream: cat(enc(true, 0, frame.OpBinary, true, ""), enc(false, 0, frame.OpText, true, ""), enc(true, 0, frame.OpContinuation, true, "")), msgs: []string{"", ""}},
		{name: "5.1 client reads unmasked", d: Decoder{Client: true}, stream: enc(true, 0, frame.OpBinary, false, "x"), msgs: []string{"x"}},
		{name: "5.1 server refuses unmasked", stream: enc(true, 0, frame.OpBinary, false, "x"), code: 1002},
		{name: "5.1 client refuses masked", d: Decoder{Client: true}, stream: enc(true, 0, frame.OpBinary, true, "x"), code: 1002},
		{name: "5.2 reserved opcode", stream: enc(true, 0, 0x5, true, ""), code: 1002},
		{name: "5.2 RSV1 without extension", stream: enc(true, frame.Rsv1, frame.OpText, true, "x"), code: 1002},
		{name: "RFC 7692 6 RSV1 with deflate", d: Decoder{Rsv: frame.Rsv1}, stream: enc(true, frame.Rsv1, frame.OpBinary, true, "zz"), msgs: []string{"zz"}},
		{name: "RFC 7692 6.1 RSV1 on continuation", d: Decoder{Rsv: frame.Rsv1}, stream: cat(enc(false, frame.Rsv1, frame.OpBinary, true, "a"), enc(true, frame.Rsv1, frame.OpContinuation, true, "b")), code: 1002},
		{name: "5.2 non-minimal length", stream: []byte{0x82, 0xfe, 0, 1, 1, 2, 3, 4, 9}, code: 1002},
		{name: "5.4 continuation first", stream: enc(true, 0, frame.OpContinuation, true, "x"), code: 1002},
		{name: "5.4 interleaved messages", stream: cat(enc(false, 0, frame.OpText, true, "a"), enc(true, 0, frame.OpBinary, true, "b")), code: 1002},
		{name: "5.5 long ping", stream: enc(true, 0, frame.OpPing, true, string(make([]byte, 126))), code: 1002},
		{name: "5.5 fragmented close", stream: enc(false, 0, frame.OpClose, true, ""), code: 1002},
		{name: "5.5.1 bad close code", stream: enc(true, 0, frame.OpClose, true, "\x03\xee"), code: 1002},
		{name: "5.5.1 close reason not UTF-8", stream: enc(true, 0, frame.OpClose, true, "\x03\xe8\xc0"), code: 1007},
		{name: "8.1 bad UTF-8 across fragments", stream: cat(enc(false, 0, frame.OpText, true, "a\xe2\x82"), enc(true, 0, frame.OpContinuation, true, "\x28")), code: 1007},
		{name: "8.1 text ends mid code point", stream: enc(true, 0, frame.OpText, true, "a\xe2\x82"), code: 1007},
		{name: "10.4 too big", d: Decoder{MaxMessage: 4}, stream: cat(enc(false, 0, frame.OpBinary, true, "abc"), enc(true, 0, frame.OpContinuation, true, "de")), code: 1009},
		{name: "10.4 too many fragments", d: Decoder{MaxFragments: 1}, stream: cat(enc(false, 0, frame.OpBinary, true, "a"), enc(true, 0, frame.OpContinuation, true, "b")), code: 1008},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, controls, err := feed(&tc.d, tc.stream)
			var pe *Error
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("error %v", err)
			case tc.code != 0 && (!errors.As(err, &pe) || pe.Code != tc.code):
				t.Fatalf("error %v, want a failure with %d", err, tc.code)
			}
			if tc.code == 0 && (len(msgs) != len(tc.msgs) || len(controls) != len(tc.controls)) {
				t.Fatalf("messages %q controls %v, want %q %v", msgs, controls, tc.msgs, tc.controls)
			}
			for i := range tc.msgs {
				if msgs[i] != tc.msgs[i] {
					t.Fatalf("message %d = %q, want %q", i, msgs[i], tc.msgs[i])
				}
			}
		})
	}
}

func TestEncoderFragments_5_4(t *testing.T) {
	e := Encoder{Client: true}
	first := e.Data(frame.OpText, frame.Rsv1, false, 3)
	mid := e.Data(frame.OpText, frame.Rsv1, false, 3)
	last := e.Data(frame.OpText, frame.Rsv1, true, 0)
	next := e.Data(frame.OpBinary, 0, true, 1)
	if first.Opcode != frame.OpText || first.Rsv != frame.Rsv1 || first.Fin {
		t.Errorf("first %+v", first)
	}
	if mid.Opcode != frame.OpContinuation || mid.Rsv != 0 || last.Opcode != frame.OpContinuation || !last.Fin || last.Rsv != 0 {
		t.Errorf("continuations %+v %+v", mid, last)
	}
	if next.Opcode != frame.OpBinary || !next.Masked || next.Key == first.Key {
		t.Errorf("next message %+v (first key %x)", next, first.Key)
	}
	if _, err := e.Control(frame.OpPing, 126); err != ErrControlTooLong {
		t.Errorf("126-byte ping: %v", err)
	}
	h := e.Data(frame.OpBinary, 0, false, 5)
	e.Undo(h)
	if again := e.Data(frame.OpBinary, 0, true, 5); again.Opcode != frame.OpBinary {
		t.Errorf("after Undo the message starts again, got %v", again.Opcode)
	}
}

// FuzzDecoder feeds arbitrary bytes to both roles: the state machine never panics, and every
// failure carries a close code that may be sent (§7.4.1).
func FuzzDecoder(f *testing.F) {
	f.Add(enc(true, 0, frame.OpText, true, "Hello"), false)
	f.Add(bytes.Join([][]byte{enc(false, 0, frame.OpText, false, "Hel"), enc(true, 0, frame.OpPing, false, "p"), enc(true, 0, frame.OpContinuation, false, "lo")}, nil), true)
	f.Add(enc(true, 0, frame.OpClose, true, "\x03\xe8bye"), false)
	f.Add(enc(true, frame.Rsv1, frame.OpBinary, true, "zz"), false)
	f.Fuzz(func(t *testing.T, stream []byte, client bool) {
		d := Decoder{Client: client, Rsv: frame.Rsv1, MaxMessage: 1 << 16, MaxFragments: 64}
		_, _, err := feed(&d, stream)
		var pe *Error
		if errors.As(err, &pe) && !frame.ValidCloseCode(pe.Code) {
			t.Fatalf("failure with code %d, which may not be sent", pe.Code)
		}
	})
}
