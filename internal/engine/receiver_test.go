package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/engine/enginetest"
	"github.com/wsx-go/wsx/internal/frame"
)

// enc encodes one frame; masked frames use the key 01 02 03 04.
var enc = enginetest.Frame

var cat = enginetest.Cat

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
var compress = enginetest.Compress

// receiverCase is a case of the shared conformance table with the engine's configuration.
type receiverCase struct {
	name   string
	cfg    Config
	stream []byte
	want   string
}

var receiverCases = func() (cases []receiverCase) {
	for _, tc := range enginetest.ReceiverCases {
		cfg := Config{Client: tc.Config.Client, ReadLimit: tc.Config.ReadLimit, MaxFragments: tc.Config.MaxFragments}
		if tc.Config.Deflate {
			cfg.Inflater = deflate.NewDecompressor(15, false)
		}
		cases = append(cases, receiverCase{tc.Name, cfg, tc.Stream, tc.Want})
	}
	return cases
}()

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
