package engine

import (
	"testing"

	"github.com/wsx-go/wsx/internal/frame"
)

// TestReceiverFinal: Final tells the last frame of a message from the others (§5.4), so that
// a driver can hand a message that arrived whole straight from its input.
func TestReceiverFinal(t *testing.T) {
	r := newReceiver(Config{})
	stream := cat(enc(false, 0, frame.OpBinary, true, "ab"), enc(true, 0, frame.OpContinuation, true, "cd"))
	ev, nin, _ := r.Next(stream, nil)
	if ev.Kind != MessageStart || r.Final() || r.Direct() != 2 {
		t.Fatalf("first fragment: %v, Final %v, Direct %d", ev.Kind, r.Final(), r.Direct())
	}
	first := stream[nin : nin+2]
	if err := r.Payload(first); err != nil || string(first) != "ab" {
		t.Fatalf("Payload: %v, %q", err, first)
	}
	stream = stream[nin+2:]
	ev, nin, _ = r.Next(stream, nil)
	if ev.Kind != OutputFull || !r.Final() || r.Direct() != 2 {
		t.Fatalf("last fragment: %v, Final %v, Direct %d", ev.Kind, r.Final(), r.Direct())
	}
	last := stream[nin:]
	if err := r.Payload(last); err != nil {
		t.Fatal(err)
	}
	if ev, _, _ := r.Next(nil, nil); ev.Kind != MessageEnd || string(last) != "cd" {
		t.Fatalf("end: %v %q", ev.Kind, last)
	}
	if r.Final() {
		t.Error("Final between messages")
	}
	r.Next(enc(true, 0, frame.OpPing, true, "p")[:3], nil)
	if r.Final() {
		t.Error("Final inside a control frame")
	}
}
