package wsx

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/wsx-go/wsx/internal/frame"
)

// pingWaiters matches pongs to the pings that Ping sent. Each ping carries a counter as its
// payload; the peer's pong echoes it (§5.5.3).
type pingWaiters struct {
	mu      sync.Mutex
	next    uint64
	waiting map[uint64]chan struct{}
}

// Ping sends a ping and waits for the peer's pong (§5.5.2). Pongs are seen by reads, so Ping
// returns only while another goroutine is reading from the connection (or ctx ends).
func (c *Conn) Ping(ctx context.Context) error {
	ch := make(chan struct{})
	c.pings.mu.Lock()
	c.pings.next++
	id := c.pings.next
	if c.pings.waiting == nil {
		c.pings.waiting = make(map[uint64]chan struct{})
	}
	c.pings.waiting[id] = ch
	c.pings.mu.Unlock()
	defer func() {
		c.pings.mu.Lock()
		delete(c.pings.waiting, id)
		c.pings.mu.Unlock()
	}()

	var payload [8]byte
	binary.BigEndian.PutUint64(payload[:], id)
	deadline, _ := ctx.Deadline()
	if err := c.writeControl(frame.OpPing, payload[:], deadline, ctx.Done()); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.readDone:
		return c.readErr
	}
}

// pongReceived wakes the Ping waiting for this pong; unsolicited pongs are ignored (§5.5.3).
func (c *Conn) pongReceived(p []byte) {
	if len(p) != 8 {
		return
	}
	id := binary.BigEndian.Uint64(p)
	c.pings.mu.Lock()
	if ch, ok := c.pings.waiting[id]; ok {
		close(ch)
		delete(c.pings.waiting, id)
	}
	c.pings.mu.Unlock()
}
