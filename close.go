//go:build !js

package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// closing is the state of a Conn's ending.
// (What only concurrent Close calls need is in the rareState.)
type closing struct {
	mu       sync.Mutex  // guards started and finished, and is held while the transport closes
	local    atomic.Bool // our Close went out before the peer's
	closed   atomic.Bool // the transport is closed
	finish   sync.Once   // finishClose
	started  bool        // Close was called
	finished bool        // the first Close has finished
}

// Close performs the closing handshake (§7.1.2): it sends a Close frame with code and reason,
// waits up to CloseTimeout for the peer's Close, and then closes the TCP connection (a server
// at once, a client after waiting for the server to close first, §7.1.1). Messages the peer
// sends before its Close are not lost silently: a read in progress gets them, and those that
// Close reads itself are kept for the next reads, which then report the peer's Close. They
// count against the message memory limit until read; past it, or past the read limit in all,
// the rest are dropped and the reads get an error saying so in their place.
//
// code must be one that may be sent (1000-1003, 1007-1014 or 3000-4999, §7.4) and reason at most
// 123 bytes of UTF-8 (§5.5). Close returns nil when the handshake completed. Calls made while a
// Close is in progress wait for it and return its outcome; a call after it finished, or after
// the peer closed, returns an error wrapping net.ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code < 0 || code > 0xffff || code == StatusNoStatusReceived {
		return fmt.Errorf("wsx: %w", engine.ErrCloseCode)
	}
	if err := engine.CheckClose(uint16(code), []byte(reason)); err != nil {
		return fmt.Errorf("wsx: %w", err)
	}
	c.closing.mu.Lock()
	if c.closing.started {
		if c.closing.finished {
			c.closing.mu.Unlock()
			return errClosed
		}
		rs := c.rare() // under closing.mu, so that the first Close finds it
		c.closing.mu.Unlock()
		<-rs.closeDone.wait() // the first Close is bounded by its timeouts
		return rs.closeErr
	}
	c.closing.started = true
	c.closing.mu.Unlock()

	err := c.closeHandshake(code, reason)
	c.closing.mu.Lock()
	c.closing.finished = true
	rs := c.madeRare() // the other Close calls that wait, if any
	c.closing.mu.Unlock()
	if rs != nil {
		rs.closeErr = err
		rs.closeDone.fire()
	}
	return err
}

func (c *Conn) closeHandshake(code StatusCode, reason string) error {
	c.closing.local.Store(true)
	if err := c.writeControl(ctlClose, code, []byte(reason), time.Now().Add(c.opts.closeTimeout), nil); err != nil {
		c.closing.local.Store(false)
		c.closeTransport()
		return err
	}
	err := c.awaitPeerClose()
	c.finishClose(false)
	return err
}

// CloseNow closes the TCP connection without a closing handshake; the peer sees status 1006.
func (c *Conn) CloseNow() error {
	if !c.closeTransport() {
		return errClosed
	}
	return nil
}

// awaitPeerClose waits for the peer's Close frame after ours, reading (and keeping data
// messages for the application) itself unless another goroutine is reading already.
func (c *Conn) awaitPeerClose() error {
	deadline := time.Now().Add(c.opts.closeTimeout)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	locked := false
wait:
	for {
		if locked = c.r.lock.tryLock(); locked {
			break
		}
		select {
		case <-c.rare().readDone.wait():
			break wait
		case <-timer.C:
			return errors.New("wsx: timed out waiting for the peer's close frame")
		case <-c.r.lock.released():
		}
	}
	if locked {
		c.r.owner.Store(uint32(ownerWSX))
		var err error
		if c.r.err == nil {
			c.attachRead()
			c.r.dl.setAt(deadline)
			if err = c.queueUntilClose(); err != nil {
				err = c.setReadErr(&wrapped{"closing handshake incomplete", err})
			}
		}
		c.unlockRead()
		if err != nil {
			return err
		}
	}
	var ce *CloseError
	if !errors.As(c.r.err, &ce) || ce.Code == StatusAbnormalClosure {
		return &wrapped{"closing handshake incomplete", c.r.err}
	}
	return nil
}

// queueUntilClose reads until the read side ends, normally with the peer's Close frame.
// Messages that arrive first are kept for the application's next reads, up to the read limit
// in all and within the message memory limit, which they count against until they are read
// (or the Conn is collected); past either, the rest are skipped, holding nothing, and the reads
// get errCloseDropped in their place. The caller holds the read lock.
func (c *Conn) queueUntilClose() error {
	kept := int64(0)
	var held *atomic.Int64 // what the queue holds of the budget
	dropping := false
	c.r.queuing = true
	defer func() { c.r.queuing = false }()
	for c.r.err == nil {
		if dropping {
			c.r.resume = false // skip the rest of the message the budget had no room for
			if _, err := c.startMessage(); err != nil && isTimeout(err) {
				return err
			}
			continue // startMessage skips the message it started last time
		}
		typ, msg, err := c.readWhole(nil)
		if err == errRoom {
			c.r.queued = append(c.r.queued, queuedMessage{err: errCloseDropped})
			dropping = true
			continue
		}
		if err != nil {
			if isTimeout(err) {
				return err
			}
			continue // the read side has ended
		}
		limit := c.r.limit.Load()
		if (limit < 0 || kept+int64(len(msg)) <= limit) && messageMemory.reserve(int64(cap(msg))) {
			if held == nil {
				held = new(atomic.Int64)
				runtime.AddCleanup(c, func(h *atomic.Int64) { messageMemory.release(h.Swap(0)) }, held)
			}
			held.Add(int64(cap(msg)))
			kept += int64(len(msg))
			c.r.queued = append(c.r.queued, queuedMessage{typ: typ, data: msg, held: held})
			continue
		}
		c.r.queued = append(c.r.queued, queuedMessage{err: errCloseDropped})
		dropping = true
	}
	return nil
}

// peerClosed completes the closing handshake the peer started, answering with its code and
// reason (§5.5.1), or the one we started (§7.1.2), and closes the connection.
func (c *Conn) peerClosed(code StatusCode, reason []byte) error {
	ce := &CloseError{Code: code, Reason: string(reason), Local: c.closing.local.Load()}
	c.setReadErr(ce)
	c.writeControl(ctlCloseReply, code, reason, time.Now().Add(c.opts.closeTimeout), nil)
	c.finishClose(true)
	return ce
}

// fail fails the connection (§7.1.7) after the peer broke a rule the engine enforces.
func (c *Conn) fail(e *engine.Error) error {
	return c.failWith(&ProtocolError{Code: StatusCode(e.Code), Rule: e.Rule})
}

// failWith fails the connection with pe: it sends a Close frame with pe's code and the rule as
// reason, and closes the transport. The caller holds the read lock.
//
// The peer may still be sending (the rest of a message over the limit, say), and closing a
// socket with unread input makes the kernel reset the connection, which can destroy the Close
// frame before the peer reads it. So after the Close, the sending half is shut and what the
// peer still sends is read and dropped, until it closes its end, for a moment and a number of
// bytes at most, as the handshake's refusals do.
func (c *Conn) failWith(pe *ProtocolError) error {
	c.setReadErr(pe)
	reason := []byte(truncateReason(pe.Rule))
	if c.writeControl(ctlClose, pe.Code, reason, time.Now().Add(c.opts.closeTimeout), nil) == nil {
		c.closeWrite()
		c.r.dl.setAt(time.Now().Add(min(failLinger, c.opts.closeTimeout)))
		c.r.pos, c.r.end = 0, 0
		io.Copy(io.Discard, io.LimitReader(c.nc, failLingerBytes))
	}
	c.closeTransport()
	return pe
}

// How long (unless CloseTimeout is shorter), and for how many bytes, a failed connection waits
// for the peer to read its Close.
const (
	failLinger      = time.Second
	failLingerBytes = 64 << 20
)

// truncateReason shortens a close reason to the 123 bytes a Close frame has room for (§5.5),
// on a UTF-8 boundary.
func truncateReason(s string) string {
	const max = frame.MaxControlPayload - 2
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.Valid([]byte(s)) {
		s = s[:len(s)-1]
	}
	return s
}

// finishClose ends the TCP connection once the closing handshake is done. The server closes
// first; the client waits for it to do so, so that the server holds TIME_WAIT (§7.1.1). Only
// a caller holding the read lock may wait.
func (c *Conn) finishClose(haveReadLock bool) {
	c.closing.finish.Do(func() {
		if c.client && haveReadLock && !c.closing.closed.Load() {
			c.r.dl.setAt(time.Now().Add(c.opts.closeTimeout))
			io.Copy(io.Discard, io.LimitReader(c.nc, failLingerBytes))
		}
		c.closeTransport()
	})
}

// closedError returns what the read side reports once the transport is closed: why a write
// that failed closed it (the peer stalled, say: coalesce.go's held replies fail in no caller's
// write), or errClosed. A writer holding frameLock on a closed transport returns promptly.
func (c *Conn) closedError() error {
	if c.w.frameLock.lock(context.Background()) != nil {
		return errClosed
	}
	err := c.w.err
	c.w.frameLock.unlock()
	if err == nil {
		return errClosed
	}
	return err
}

// closeTransport closes the transport once; it reports whether this call closed it. A call
// that finds another closing the transport waits until it is closed, so that once CloseNow
// returns the Conn no longer uses the transport: an HTTP/2 handler may return then (its
// stream's Close waits for a write in progress).
func (c *Conn) closeTransport() bool {
	c.closing.mu.Lock()
	if c.closing.closed.Swap(true) {
		c.closing.mu.Unlock()
		return false
	}
	c.nc.Close()
	c.closing.mu.Unlock()
	// A context that outlives the connection (a server's) must not keep it reachable. (A side
	// without working state watches none; one that takes it from now on sees closed.)
	c.mu.Lock()
	if c.r.readState != nil {
		c.r.dl.release()
	} else {
		c.r.watch.end()
	}
	if c.w.sendState != nil {
		c.w.dl.release()
	} else {
		c.w.watch.end() // the writes' context is watched between calls
	}
	var watcher closeWatcher
	if c.seldom != nil {
		watcher = c.seldom.watcher
	}
	c.mu.Unlock()
	if watcher != nil {
		watcher.connClosed(c)
	}
	return true
}
