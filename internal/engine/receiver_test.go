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

// enc encodes one frame; masked frames use the key 01 02 03 04.
func enc(fin bool, rsv byte, op frame.Opcode, masked bool, payload string) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: masked, Key: [4]byte{1, 2, 3, 4}, Length: int64(len(payload))}
	return AppendFrame(nil, h, []byte(payload))
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// transcript feeds stream to r in pieces of the sizes split returns, with room for outRoom
// bytes of message data per call, and writes down every event: "text:Hello", "ping:p",
// "close:1000:bye", "fail:1002", and "more" when the stream ended before an event.
func transcript(r *Receiver, stream []byte, split func() int, outRoom func() int) string {
	var b strings.Builder
	buf := make([]byte, 0, len(stream))
	var msg []byte
	pending := stream
	for {
		ev, nin, nout := r.Next(buf, msg[len(msg):min(len(msg)+outRoom(), cap(msg))])
		msg = msg[:len(msg)+nout]
		buf = buf[nin:]
		switch ev.Kind {
		case NeedInput:
			if len(buf) > 0 {
				fmt.Fprintf(&b, "|BUG: NeedInput with %d bytes left", len(buf))
				return b.String()
			}
			if len(pending) == 0 {
				b.WriteString("|more")
				return b.String()
			}
			k := min(max(split(), 1), len(pending))
			// Unconsumed input stays at the front, as a driver keeps it.
			buf = append(buf[:len(buf):len(buf)], pending[:k]...)
			pending = pending[k:]
		case OutputFull:
			msg = append(msg, make([]byte, 64)...)[:len(msg)]
		case MessageStart:
			fmt.Fprintf(&b, "|%v:", ev.Opcode)
			msg = make([]byte, 0, 1)
		case MessageEnd:
			b.Write(msg)
			msg = nil
		case Ping, Pong:
			fmt.Fprintf(&b, "|%v:%s", map[Kind]string{Ping: "ping", Pong: "pong"}[ev.Kind], r.Control())
		case Close:
			fmt.Fprintf(&b, "|close:%d:%s", ev.Code, r.Control())
			return b.String()
		case Failed:
			fmt.Fprintf(&b, "|fail:%d", r.Err().Code)
			return b.String()
		}
	}
}

func whole() int { return 1 << 30 }

func newReceiver(cfg Config) *Receiver {
	r := new(Receiver)
	r.Init(cfg)
	return r
}

// compress returns the permessage-deflate payload of msg (RFC 7692 §7.2.1).
func compress(msg string) string {
	c := deflate.NewCompressor(15, false, deflate.BestSpeed)
	return string(c.AppendMessage(nil, []byte(msg)))
}

var receiverCases = []struct {
	name   string
	cfg    Config
	stream []byte
	want   string
}{
	{"5.6 text message", Config{}, enc(true, 0, frame.OpText, true, "Hello"), "|text:Hello|more"},
	{"5.4 fragments with a ping between", Config{}, cat(enc(false, 0, frame.OpText, true, "Hel"), enc(true, 0, frame.OpPing, true, "p"), enc(true, 0, frame.OpContinuation, true, "lo")),
		"|text:|ping:pHello|more"},
	{"5.6 empty messages", Config{}, cat(enc(true, 0, frame.OpBinary, true, ""), enc(false, 0, frame.OpText, true, ""), enc(true, 0, frame.OpContinuation, true, "")), "|binary:|text:|more"},
	{"5.1 client reads unmasked", Config{Client: true}, enc(true, 0, frame.OpBinary, false, "x"), "|binary:x|more"},
	{"5.1 server refuses unmasked", Config{}, enc(true, 0, frame.OpBinary, false, "x"), "|fail:1002"},
	{"5.1 client refuses masked", Config{Client: true}, enc(true, 0, frame.OpBinary, true, "x"), "|fail:1002"},
	{"5.2 reserved opcode", Config{}, enc(true, 0, 0x5, true, ""), "|fail:1002"},
	{"5.2 reserved control opcode", Config{}, enc(true, 0, 0xB, true, ""), "|fail:1002"},
	{"5.2 RSV1 without extension", Config{}, enc(true, frame.Rsv1, frame.OpText, true, "x"), "|fail:1002"},
	{"5.2 RSV2 with deflate", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv2, frame.OpText, true, "x"), "|fail:1002"},
	{"5.2 non-minimal 16-bit length", Config{}, []byte{0x82, 0xfe, 0, 1, 1, 2, 3, 4, 9}, "|fail:1002"},
	{"5.2 non-minimal 64-bit length", Config{}, []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, "|fail:1002"},
	{"5.2 64-bit length with MSB", Config{}, []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, "|fail:1002"},
	{"5.4 continuation first", Config{}, enc(true, 0, frame.OpContinuation, true, "x"), "|fail:1002"},
	{"5.4 interleaved messages", Config{}, cat(enc(false, 0, frame.OpText, true, "a"), enc(true, 0, frame.OpBinary, true, "b")), "|text:|fail:1002"},
	{"5.5 long ping", Config{}, enc(true, 0, frame.OpPing, true, strings.Repeat("x", 126)), "|fail:1002"},
	{"5.5 ping of 125 bytes", Config{}, enc(true, 0, frame.OpPing, true, strings.Repeat("x", 125)), "|ping:" + strings.Repeat("x", 125) + "|more"},
	{"5.5 fragmented close", Config{}, enc(false, 0, frame.OpClose, true, ""), "|fail:1002"},
	{"5.5 RSV on a control frame", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv1, frame.OpPing, true, ""), "|fail:1002"},
	{"5.5.1 close with code and reason", Config{}, enc(true, 0, frame.OpClose, true, "\x03\xe8bye"), "|close:1000:bye"},
	{"5.5.1 close without status", Config{}, enc(true, 0, frame.OpClose, true, ""), "|close:1005:"},
	{"5.5.1 close of 1 byte", Config{}, enc(true, 0, frame.OpClose, true, "\x03"), "|fail:1002"},
	{"5.5.1 bad close code", Config{}, enc(true, 0, frame.OpClose, true, "\x03\xee"), "|fail:1002"},
	{"5.5.1 close reason not UTF-8", Config{}, enc(true, 0, frame.OpClose, true, "\x03\xe8\xc0"), "|fail:1007"},
	{"5.5.1 nothing after close", Config{}, cat(enc(true, 0, frame.OpClose, true, "\x03\xe8"), enc(true, 0, frame.OpText, false, "x")), "|close:1000:"},
	{"5.5.3 pong", Config{}, enc(true, 0, frame.OpPong, true, "abc"), "|pong:abc|more"},
	{"8.1 bad UTF-8 across fragments", Config{}, cat(enc(false, 0, frame.OpText, true, "a\xe2\x82"), enc(true, 0, frame.OpContinuation, true, "\x28")), "|text:|fail:1007"},
	{"8.1 bad UTF-8 fails before the message ends", Config{}, enc(false, 0, frame.OpText, true, "a\xff"), "|text:|fail:1007"},
	{"8.1 text ends mid code point", Config{}, enc(true, 0, frame.OpText, true, "a\xe2\x82"), "|text:|fail:1007"},
	{"8.1 code point split across fragments", Config{}, cat(enc(false, 0, frame.OpText, true, "a\xe2"), enc(true, 0, frame.OpContinuation, true, "\x82\xac")), "|text:a€|more"},
	{"8.1 binary is not UTF-8 checked", Config{}, enc(true, 0, frame.OpBinary, true, "\xff"), "|binary:\xff|more"},
	{"10.4 too big", Config{ReadLimit: 4}, cat(enc(false, 0, frame.OpBinary, true, "abc"), enc(true, 0, frame.OpContinuation, true, "de")), "|binary:|fail:1009"},
	{"10.4 announced too big", Config{ReadLimit: 4}, []byte{0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4}, "|fail:1009"},
	{"10.4 at the limit", Config{ReadLimit: 4}, enc(true, 0, frame.OpBinary, true, "abcd"), "|binary:abcd|more"},
	{"10.4 too many fragments", Config{MaxFragments: 1}, cat(enc(false, 0, frame.OpBinary, true, "a"), enc(true, 0, frame.OpContinuation, true, "b")), "|binary:|fail:1008"},
	{"RFC 7692 6 compressed message", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv1, frame.OpText, true, compress("Hello, Hello, Hello")), "|text:Hello, Hello, Hello|more"},
	{"RFC 7692 6 compressed fragments and a ping", Config{Inflater: deflate.NewDecompressor(15, false)},
		func() []byte {
			p := compress(strings.Repeat("abc", 50))
			return cat(enc(false, frame.Rsv1, frame.OpBinary, true, p[:3]), enc(true, 0, frame.OpPing, true, "p"), enc(true, 0, frame.OpContinuation, true, p[3:]))
		}(), "|binary:|ping:p" + strings.Repeat("abc", 50) + "|more"},
	{"RFC 7692 6.1 RSV1 on continuation", Config{Inflater: deflate.NewDecompressor(15, false)},
		cat(enc(false, frame.Rsv1, frame.OpBinary, true, "a"), enc(true, frame.Rsv1, frame.OpContinuation, true, "b")), "|binary:|fail:1002"},
	{"RFC 7692 6.2 invalid compressed data", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv1, frame.OpBinary, true, "\xff\xff\xff"), "|binary:|fail:1007"},
	{"RFC 7692 8.1 bomb", Config{ReadLimit: 1000, Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv1, frame.OpBinary, true, compress(strings.Repeat("\x00", 5000))), "|binary:|fail:1009"},
	{"RFC 7692 8.1 inflated text not UTF-8", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, frame.Rsv1, frame.OpText, true, compress("ok\xff")), "|text:|fail:1007"},
	{"RFC 7692 uncompressed message with deflate on", Config{Inflater: deflate.NewDecompressor(15, false)}, enc(true, 0, frame.OpText, true, "plain"), "|text:plain|more"},
}

func TestReceiver(t *testing.T) {
	for _, tc := range receiverCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Inflater != nil {
				cfg.Inflater = deflate.NewDecompressor(15, false)
			}
			got := transcript(newReceiver(cfg), bytes.Clone(tc.stream), whole, whole)
			if got != tc.want {
				t.Errorf("events %q\nwant   %q", got, tc.want)
			}
		})
	}
}

// TestReceiverAnySplit: the events do not depend on how the input is split into reads, nor on
// the room given for message data.
func TestReceiverAnySplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range receiverCases {
		for _, pieces := range []int{1, 2, 3, 7} {
			cfg := tc.cfg
			if cfg.Inflater != nil {
				cfg.Inflater = deflate.NewDecompressor(15, false)
			}
			split := func() int { return 1 + rng.IntN(pieces) }
			room := func() int { return rng.IntN(pieces + 1) }
			got := transcript(newReceiver(cfg), bytes.Clone(tc.stream), split, room)
			if got != tc.want {
				t.Errorf("%s, pieces of up to %d bytes: events %q\nwant %q", tc.name, pieces, got, tc.want)
			}
		}
	}
}

// TestReceiverDirect: payload read straight into the message buffer is unmasked and checked
// as if it went through Next.
func TestReceiverDirect(t *testing.T) {
	r := newReceiver(Config{})
	stream := enc(true, 0, frame.OpText, true, "hello, world")
	ev, nin, _ := r.Next(stream[:6], nil)
	if ev.Kind != MessageStart || nin != 6 || r.Direct() != 12 {
		t.Fatalf("event %v after %d bytes, Direct %d", ev.Kind, nin, r.Direct())
	}
	msg := bytes.Clone(stream[6:])
	if err := r.Payload(msg); err != nil {
		t.Fatal(err)
	}
	if ev, _, _ := r.Next(nil, nil); ev.Kind != MessageEnd || string(msg) != "hello, world" {
		t.Fatalf("event %v, message %q", ev.Kind, msg)
	}

	r = newReceiver(Config{})
	r.Next(enc(true, 0, frame.OpText, true, "\xff")[:6], nil)
	bad := []byte{0xff ^ 1}
	if err := r.Payload(bad); err == nil || err.Code != CodeInvalidData {
		t.Fatalf("invalid UTF-8 read directly: %v", err)
	}
	if ev, _, _ := r.Next(nil, nil); ev.Kind != Failed {
		t.Fatalf("after a failed Payload, Next returns %v", ev.Kind)
	}
}

// TestReceiverSkip: a skipped message is still checked, and the next one arrives intact.
func TestReceiverSkip(t *testing.T) {
	r := newReceiver(Config{Inflater: deflate.NewDecompressor(15, true)})
	big := strings.Repeat("skip me ", 2000)
	stream := cat(enc(true, frame.Rsv1, frame.OpText, true, compress(big)), enc(true, 0, frame.OpText, true, "next"))
	ev, nin := r.Skip(stream)
	if ev.Kind != MessageStart {
		t.Fatalf("Skip: %v", ev.Kind)
	}
	stream = stream[nin:]
	ev, nin = r.Skip(stream)
	if ev.Kind != MessageEnd {
		t.Fatalf("Skip: %v", ev.Kind)
	}
	if got := transcript(r, stream[nin:], whole, whole); got != "|text:next|more" {
		t.Fatalf("after skipping: %q", got)
	}

	r = newReceiver(Config{})
	stream = enc(true, 0, frame.OpText, true, "\xff")
	_, nin = r.Skip(stream)
	if ev, _ := r.Skip(stream[nin:]); ev.Kind != Failed || r.Err().Code != CodeInvalidData {
		t.Fatalf("skipped invalid text: %v", ev)
	}
}

// TestReceiverSetReadLimit: a lowered limit applies to the next bytes counted.
func TestReceiverSetReadLimit(t *testing.T) {
	r := newReceiver(Config{})
	stream := cat(enc(true, 0, frame.OpBinary, true, "12345678"), enc(true, 0, frame.OpBinary, true, "12345678"))
	ev, nin, nout := r.Next(stream, make([]byte, 16))
	ev2, nin2, _ := r.Next(stream[nin:], make([]byte, 16))
	if ev.Kind != MessageStart || ev2.Kind != MessageEnd || nout != 0 {
		t.Fatalf("%v %v", ev.Kind, ev2.Kind)
	}
	r.SetReadLimit(4)
	if got := transcript(r, stream[nin+nin2:], whole, whole); got != "|fail:1009" {
		t.Fatalf("after SetReadLimit(4): %q", got)
	}
}

// FuzzReceiver: for any byte stream, either role, with or without permessage-deflate, the events
// are the same however the input is split and whatever room is given, every failure carries a
// code that may be sent (§7.4.1), and the engine never panics or loops.
func FuzzReceiver(f *testing.F) {
	for _, tc := range receiverCases {
		f.Add(tc.stream, tc.cfg.Client, tc.cfg.Inflater != nil, uint64(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, client, deflated bool, seed uint64) {
		cfg := Config{Client: client, ReadLimit: 1 << 16, MaxFragments: 64}
		if deflated {
			cfg.Inflater = deflate.NewDecompressor(15, true)
		}
		want := transcript(newReceiver(cfg), bytes.Clone(stream), whole, whole)
		if strings.Contains(want, "BUG") {
			t.Fatal(want)
		}
		if i := strings.LastIndex(want, "|fail:"); i >= 0 {
			var code uint16
			fmt.Sscanf(want[i+len("|fail:"):], "%d", &code)
			if !frame.ValidCloseCode(code) {
				t.Fatalf("failure with code %d, which may not be sent", code)
			}
		}
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		if deflated {
			cfg.Inflater = deflate.NewDecompressor(15, true)
		}
		got := transcript(newReceiver(cfg), bytes.Clone(stream), func() int { return 1 + rng.IntN(9) }, func() int { return rng.IntN(9) })
		if got != want {
			t.Fatalf("split input: events %q\nwhole input:  %q", got, want)
		}
	})
}
