package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// TestSenderFragments_5_4: the first frame names the type and carries RSV1, continuations
// carry neither; a client masks every frame with a fresh key (§5.3).
func TestSenderFragments_5_4(t *testing.T) {
	var s Sender
	s.Init(SenderConfig{Client: true})
	first, _ := s.Data(frame.OpText, frame.Rsv1, false, 3)
	mid, _ := s.Data(frame.OpText, frame.Rsv1, false, 3)
	last, _ := s.Data(frame.OpText, frame.Rsv1, true, 0)
	next, _ := s.Data(frame.OpBinary, 0, true, 1)
	if first.Opcode != frame.OpText || first.Rsv != frame.Rsv1 || first.Fin {
		t.Errorf("first %+v", first)
	}
	if mid.Opcode != frame.OpContinuation || mid.Rsv != 0 || last.Opcode != frame.OpContinuation || !last.Fin || last.Rsv != 0 {
		t.Errorf("continuations %+v %+v", mid, last)
	}
	if next.Opcode != frame.OpBinary || !next.Masked || next.Key == first.Key {
		t.Errorf("next message %+v (first key %x)", next, first.Key)
	}
	h, _ := s.Data(frame.OpBinary, 0, false, 5)
	s.Undo(h)
	if again, _ := s.Data(frame.OpBinary, 0, true, 5); again.Opcode != frame.OpBinary {
		t.Errorf("after Undo the message starts again, got %v", again.Opcode)
	}
	if _, err := s.AppendPing(nil, make([]byte, 126)); err != ErrControlTooLong {
		t.Errorf("126-byte ping: %v", err)
	}
}

// TestSenderClose_5_5_1: our Close goes out once and nothing but control answers follow it;
// the answer to the peer's Close echoes its code and reason.
func TestSenderClose_5_5_1(t *testing.T) {
	var s Sender
	b, err := s.AppendClose(nil, 1000, []byte("bye"))
	if err != nil || !bytes.Equal(b, []byte{0x88, 5, 0x03, 0xe8, 'b', 'y', 'e'}) {
		t.Fatalf("Close frame % x, %v", b, err)
	}
	if _, err := s.Data(frame.OpText, 0, true, 1); err != ErrCloseSent {
		t.Errorf("data after Close: %v", err)
	}
	if _, err := s.AppendClose(nil, 1000, nil); err != ErrCloseSent {
		t.Errorf("second Close: %v", err)
	}
	if b, ok := s.AppendPong(nil, []byte("p")); ok || len(b) != 0 {
		t.Errorf("Pong after Close: % x", b)
	}
	if b, ok := s.AppendCloseReply(nil, 1001, nil); ok || len(b) != 0 {
		t.Errorf("reply after our Close: % x", b)
	}

	var peer Sender
	b, ok := peer.AppendCloseReply(nil, 4001, []byte("app reason"))
	if !ok || !bytes.Equal(b, append([]byte{0x88, 12, 0x0f, 0xa1}, "app reason"...)) {
		t.Errorf("echo % x", b)
	}
	var empty Sender
	if b, _ := empty.AppendCloseReply(nil, 1005, nil); !bytes.Equal(b, []byte{0x88, 0}) {
		t.Errorf("answer to a Close without status: % x", b)
	}

	for _, tc := range []struct {
		code   uint16
		reason string
		err    error
	}{
		{1006, "", ErrCloseCode}, {1015, "", ErrCloseCode}, {999, "", ErrCloseCode}, {5000, "", ErrCloseCode},
		{1000, strings.Repeat("x", 124), ErrCloseReason}, {1000, "\xff", ErrCloseReason},
		{1000, strings.Repeat("x", 123), nil}, {4999, "", nil}, {1005, "", nil},
	} {
		var s Sender
		if _, err := s.AppendClose(nil, tc.code, []byte(tc.reason)); err != tc.err {
			t.Errorf("Close(%d, %d bytes): %v, want %v", tc.code, len(tc.reason), err, tc.err)
		}
	}
}

// TestSenderText_8_1: invalid text never goes out; a streamed message keeps an incomplete code
// point back until it is complete, and reports one left at the end.
func TestSenderText_8_1(t *testing.T) {
	if CheckText([]byte("ok €")) != nil || CheckText([]byte("bad \xff")) != ErrInvalidText {
		t.Error("CheckText")
	}
	var s Sender
	for _, p := range []string{"a\xe2", "\x82", "\xacb"} {
		if err := s.StreamText([]byte(p)); err != nil {
			t.Errorf("StreamText(%q): %v", p, err)
		}
	}
	if s.EndText() != nil {
		t.Error("complete text refused")
	}
	s.StreamText([]byte("\xe2\x82"))
	if s.EndText() != ErrIncompleteText {
		t.Error("incomplete text accepted")
	}
	if err := s.StreamText([]byte("\xc0\x80")); err != ErrInvalidText {
		t.Errorf("overlong: %v", err)
	}
}

// TestSenderReceiverRoundTrip: what a client Sender frames (compressed or not), a server
// Receiver reads back.
func TestSenderReceiverRoundTrip(t *testing.T) {
	var s Sender
	s.Init(SenderConfig{Client: true, Compressor: deflate.NewCompressor(15, true, 1), Compression: deflate.Config{}})
	var stream []byte
	msgs := []string{"", "short", strings.Repeat("compress me ", 100)}
	for _, m := range msgs {
		p, rsv := []byte(m), byte(0)
		if s.Compresses(len(p)) {
			p, rsv = s.Compressor().AppendMessage(nil, p), frame.Rsv1
		}
		h, _ := s.Data(frame.OpText, rsv, true, int64(len(p)))
		stream = AppendFrame(stream, h, p)
	}
	stream, _ = s.AppendPing(stream, []byte("hi"))
	stream, _ = s.AppendClose(stream, 1000, []byte("done"))
	got := transcript(newReceiver(Config{Inflater: deflate.NewDecompressor(15, true)}), stream, whole, whole)
	want := "|text:|text:short|text:" + msgs[2] + "|ping:hi|close:1000:done"
	if got != want {
		t.Errorf("events %q\nwant %q", got, want)
	}
}

// FuzzRoundTrip: whatever messages a Sender frames — any sizes, fragments, compressed or not,
// with control frames between fragments, either role — the peer's Receiver reads back exactly
// those messages and control frames, however the bytes are split.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint8(3), true, false, uint64(1))
	f.Add([]byte(strings.Repeat("compress me ", 300)), uint8(7), false, true, uint64(2))
	f.Add([]byte{0xff, 0, 1, 2}, uint8(1), true, true, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, pieces uint8, client, deflated bool, seed uint64) {
		var s Sender
		cfg := SenderConfig{Client: client}
		rcfg := Config{Client: !client, MaxFragments: 1 << 12}
		if deflated {
			cfg.Compressor = deflate.NewCompressor(11, true, 1)
			rcfg.Inflater = deflate.NewDecompressor(11, true)
		}
		s.Init(cfg)
		rng := rand.New(rand.NewPCG(seed, uint64(pieces)))
		var stream []byte
		var want strings.Builder
		// Three messages from data: binary whole, text (when it is UTF-8) in fragments with a
		// ping between, and binary compressed in fragments.
		for m := range 3 {
			op, p := frame.OpBinary, data
			if m == 1 {
				if CheckText(data) != nil {
					continue
				}
				op = frame.OpText
			}
			fmt.Fprintf(&want, "|%v:", op)
			rsv := byte(0)
			if deflated && m != 0 {
				p, rsv = s.Compressor().AppendMessage(nil, data), frame.Rsv1
			}
			n := 1 + int(pieces)%8
			for i := range n {
				part := p[len(p)*i/n : len(p)*(i+1)/n]
				h, err := s.Data(op, rsv, i == n-1, int64(len(part)))
				if err != nil {
					t.Fatal(err)
				}
				stream = AppendFrame(stream, h, part)
				if i == 0 && n > 1 {
					stream, _ = s.AppendPing(stream, []byte("between"))
					want.WriteString("|ping:between")
				}
			}
			want.Write(data)
		}
		stream, _ = s.AppendClose(stream, 1000, []byte("end"))
		want.WriteString("|close:1000:end")
		got := transcript(newReceiver(rcfg), stream, func() int { return 1 + rng.IntN(64) }, func() int { return rng.IntN(64) })
		if got != want.String() {
			t.Fatalf("read back %q\nsent      %q", got, want.String())
		}
	})
}

// A Sender is idle (a driver may drop it and Init another) only as Init leaves it: not between
// the frames of a message (§5.4), not inside a streamed text message, never after our Close
// (§5.5.1: nothing may follow it, so a fresh Sender must not take its place).
func TestSenderIdle(t *testing.T) {
	var s Sender
	s.Init(SenderConfig{})
	if !s.Idle() {
		t.Fatal("a new Sender is not idle")
	}
	s.Data(frame.OpBinary, 0, false, 3)
	if s.Idle() {
		t.Error("idle between the frames of a message")
	}
	s.Data(frame.OpBinary, 0, true, 3)
	if !s.Idle() {
		t.Error("not idle after the final frame")
	}
	s.StreamText([]byte{0xe2, 0x82})
	if s.Idle() {
		t.Error("idle inside a streamed text message")
	}
	s.EndText()
	if !s.Idle() {
		t.Error("not idle after the streamed text ended")
	}
	if _, err := s.AppendClose(nil, 1000, nil); err != nil {
		t.Fatal(err)
	}
	if s.Idle() {
		t.Error("idle after our Close")
	}
}
