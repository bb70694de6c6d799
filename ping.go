//go:build !js

package wsx

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/wsx-go/wsx/internal/engine"
)

// pingWaiters matches pongs to the pings that Ping sent. Each ping carries a counter as its
// payload; the peer's pong echoes it (§5.5.3).
type pingWaiters struct {
	mu      sync.Mutex
	next    uint64
	waiting map[uint64]chan struct{}
}

// Ping sends a ping and waits for the peer's pong (§5.5.2). Pongs are seen by reads: while
// another goroutine reads from the connection, that read sees the pong; when none does, Ping
// reads by itself until the pong arrives, stopping at a data message, which it leaves for the
// application's next read (a read that starts meanwhile waits for Ping's).
func (c *Conn) Ping(ctx context.Context) error {
	ch := make(chan struct{})
	pings := &c.rare().pings
	pings.mu.Lock()
	pings.next++
	id := pings.next
	if pings.waiting == nil {
		pings.waiting = make(map[uint64]chan struct{})
	}
	pings.waiting[id] = ch
	pings.mu.Unlock()
	defer func() {
		pings.mu.Lock()
		delete(pings.waiting, id)
		pings.mu.Unlock()
	}()

	var payload [8]byte
	binary.BigEndian.PutUint64(payload[:], id)
	deadline, _ := ctx.Deadline()
	if err := c.writeControl(ctlPing, 0, payload[:], deadline, ctx.Done()); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	reading := true // Ping may read by itself
	for {
		if reading && c.r.lock.tryLock() {
			c.r.owner.Store(uint32(ownerWSX))
			c.attachRead()
			err := c.readUntilPong(ctx, ch)
			c.settleRead()
			c.unlockRead()
			if err != nil {
				return err
			}
			reading = false // stopped at a data message: the application's read will see the pong
			continue
		}
		var released <-chan struct{}
		if reading {
			released = c.r.lock.released()
		}
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-c.rare().readDone.wait():
			return c.r.err
		case <-released:
		}
	}
}

// readUntilPong reads control frames until the pong Ping waits for (done is closed) or the
// start of a data message, which it leaves for the application. The caller holds the read lock.
func (c *Conn) readUntilPong(ctx context.Context, done <-chan struct{}) error {
	if err := c.r.dl.begin(ctx); err != nil {
		return err
	}
	// The reading side's state may go back to its pool while the read waits, and another
	// come back: end the deadline of the one in place then, not of the one in place now.
	defer func() { c.r.dl.end() }()
	for {
		select {
		case <-done:
			return nil
		default:
		}
		if c.r.eng.InMessage() {
			return nil
		}
		ev, nin, _ := c.r.eng.Next(c.r.buf[c.r.pos:c.r.end], nil)
		c.r.pos += nin
		if ev.Kind == engine.MessageStart {
			c.r.typ = MessageType(ev.Opcode)
			return nil
		}
		err := c.step(ev)
		if err == errPing {
			err = c.answerPing()
		}
		if err != nil {
			return c.readError(ctx, err)
		}
	}
}

// pongReceived wakes the Ping waiting for this pong; unsolicited pongs are ignored (§5.5.3).
func (c *Conn) pongReceived(p []byte) {
	if len(p) != 8 {
		return
	}
	id := binary.BigEndian.Uint64(p)
	rs := c.madeRare()
	if rs == nil {
		return // no Ping ever waited
	}
	rs.pings.mu.Lock()
	if ch, ok := rs.pings.waiting[id]; ok {
		close(ch)
		delete(rs.pings.waiting, id)
	}
	rs.pings.mu.Unlock()
}

// CloseRead hands the connection's reading to wsx, for an application that only writes to it
// (a server pushing events, say): a goroutine reads, answering pings and completing the
// closing handshake, so that Ping, KeepAlive and Close work. A data message from the peer
// fails the connection with StatusPolicyViolation (1008). The context returned is done when
// the connection ends, or when ctx is. Reads by the application are refused from then on.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		if err := c.beginRead(context.Background()); err != nil {
			return
		}
		defer c.endRead()
		for c.r.err == nil {
			if _, err := c.startMessage(); err == nil {
				c.failWith(&ProtocolError{Code: StatusPolicyViolation, Rule: "data message sent to an endpoint that does not read (CloseRead)"})
			}
		}
	}()
	return ctx
}
