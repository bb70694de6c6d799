//go:build !js

package wsx

import (
	"context"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
)

// Coalesced writes. When a peer pipelines (sends several messages without waiting for the
// replies), one read brings several of them and the read loop answers each: one write system
// call per reply is most of what such a server spends. So a data frame written while the reading
// side still has the peer's input buffered is held, and the frames held go out together, in one
// write, when the reading side has nothing more buffered and is about to wait for the peer (or
// when the held bytes fill the hold buffer, before any other frame, or after coalesceDelay at
// the latest, if the application stops reading). A server that is not sent pipelined messages
// never holds anything.
//
// A Write whose frame is held returns before the frame is on the wire; if sending it fails
// later, the connection is closed and later calls report why.

const (
	holdBufferSize = 64 << 10
	coalesceDelay  = 200 * time.Microsecond
)

var holdBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, holdBufferSize)
	return &b
}}

// hold appends the frame with header h and payload p to the held frames, if it should wait for
// others; it reports whether it did. The caller holds frameLock.
func (c *Conn) hold(h frame.Header, p []byte) bool {
	if !c.r.more.Load() {
		return false
	}
	if c.w.held == nil {
		c.w.held = holdBuffers.Get().(*[]byte)
		c.startFlushTimer()
	}
	if len(*c.w.held)+frame.MaxHeaderSize+len(p) > holdBufferSize {
		return false
	}
	*c.w.held = engine.AppendFrame(*c.w.held, h, p)
	c.w.holding.Store(true)
	return true
}

// flushHeldLocked writes the held frames. The caller holds frameLock; a failure closes the
// connection.
func (c *Conn) flushHeldLocked() error {
	if c.w.held == nil {
		return nil
	}
	b := *c.w.held
	var err error
	if len(b) > 0 {
		_, err = c.write(b)
	}
	*c.w.held = b[:0]
	holdBuffers.Put(c.w.held)
	c.w.held = nil
	c.w.holding.Store(false)
	if err != nil {
		return c.setWriteErr(err)
	}
	return nil
}

// flushHeld writes the held frames, unless a writer holds frameLock: it writes them before its
// own frame.
func (c *Conn) flushHeld() {
	if c.w.frameLock.tryLock() {
		c.beginSend()
		c.flushHeldLocked()
		c.endSend()
		c.w.frameLock.unlock()
	}
}

// startFlushTimer bounds how long frames are held, should the application stop reading.
func (c *Conn) startFlushTimer() {
	if c.w.flushTimer == nil {
		c.w.flushTimer = time.AfterFunc(coalesceDelay, c.flushOnTimer)
		return
	}
	c.w.flushTimer.Reset(coalesceDelay)
}

func (c *Conn) flushOnTimer() {
	if c.w.holding.Load() && c.w.frameLock.lock(context.Background()) == nil {
		c.beginSend()
		c.flushHeldLocked()
		c.endSend()
		c.w.frameLock.unlock()
	}
}
