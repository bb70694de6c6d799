package load

import (
	"bytes"
	"context"
	"fmt"
)

// Verify checks that the server d dials (with deflate set as the scenario needs) echoes the scenario's message correctly: it sends
// max(InFlight, 1) copies on one connection and compares every echo, payload and type, with
// the original (inflating compressed echoes, RFC 7692 §6.2).
func Verify(ctx context.Context, d *Dialer, s Scenario) error {
	c, err := d.Dial(ctx, 0)
	if err != nil {
		return err
	}
	defer c.Abort()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	want := s.Payload()
	wantOp := s.opcode()
	n := max(s.InFlight, 1)
	frame := s.ClientFrame()
	// Written while the echoes are read: a server may stream an echo back before it has read
	// the whole message (the floor does), and neither side would read while blocked writing.
	// On an early return the deferred Abort ends the write; the channel's slot lets the
	// goroutine finish.
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(bytes.Repeat(frame, n))
		wrote <- err
	}()
	er := newEchoReader(c, c.leftover, 4096)
	er.keep = true
	for got := 0; got < n; {
		k, err := er.readSome()
		if err != nil {
			return err
		}
		if k != 1 && n == 1 {
			return fmt.Errorf("%d echoes for 1 message", k)
		}
		got += k
		// Only the last complete message is kept; with several in one read the earlier
		// ones are counted, and the last one stands for them.
		p, err := er.lastPayload(s.Deflate)
		if err != nil {
			return fmt.Errorf("the echo: %w", err)
		}
		if s.Deflate && !er.lastR1 {
			// Legal (§6 lets a sender skip compression) but it would make the comparison
			// meaningless.
			return fmt.Errorf("echo not compressed")
		}
		if er.lastOp != wantOp {
			return fmt.Errorf("echo opcode %#x, want %#x", er.lastOp, wantOp)
		}
		if !bytes.Equal(p, want) {
			return fmt.Errorf("echo of %d bytes differs from the %d sent", len(p), len(want))
		}
	}
	return <-wrote
}
