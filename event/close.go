//go:build !js

package event

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/bridge"
	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
)

// Close starts the closing handshake (§7.1.2): it sends a Close frame with code and reason and
// returns. OnClose reports how it ended: a *wsx.CloseError with Local set and the peer's code
// once the peer answered (the server then closes the TCP connection, §7.1.1), or an error
// when it did not answer within ConnOptions.CloseTimeout. Messages that arrive meanwhile still
// go to OnMessage.
//
// code must be one that may be sent (1000-1003, 1007-1014 or 3000-4999, §7.4) and reason at
// most 123 bytes of UTF-8 (§5.5). Close returns an error wrapping net.ErrClosed when the
// connection is closing or closed already.
func (c *Conn) Close(code wsx.StatusCode, reason string) error {
	if code < 0 || code > 0xffff || code == wsx.StatusNoStatusReceived {
		return fmt.Errorf("wsx: %w", engine.ErrCloseCode)
	}
	if err := engine.CheckClose(uint16(code), []byte(reason)); err != nil {
		return fmt.Errorf("wsx: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wflag&(outOpen|outShut) != outOpen {
		return bridge.ErrClosed
	}
	return c.sendClose(code, reason)
}

// sendClose sends our Close frame, which starts the closing handshake; the caller holds mu.
func (c *Conn) sendClose(code wsx.StatusCode, reason string) error {
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	f, err := c.tx.AppendClose(b[:0], uint16(code), []byte(reason))
	if err != nil {
		return bridge.ErrClosed // our Close went out already
	}
	c.post(taskClosing)
	return c.send(f, nil)
}

// CloseNow closes the connection without a closing handshake; the peer sees 1006. OnClose is
// called with an error wrapping net.ErrClosed. It returns such an error itself when the
// connection is closed already.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	gone := c.wflag&outGone != 0
	c.wflag |= outShut
	c.mu.Unlock()
	if gone {
		return bridge.ErrClosed
	}
	c.post(taskCloseNow)
	return nil
}

// errCloseTimeout ends a connection whose peer did not answer our Close.
var errCloseTimeout = errors.New("wsx: timed out waiting for the peer's close frame")

// goingAway closes the connection with 1001 as its server shuts down; the caller is the owner.
func (c *Conn) goingAway() {
	switch c.phase {
	case phUpgrade, phTLS:
		c.release()
	case phOpen:
		c.mu.Lock()
		if c.wflag&outShut == 0 {
			c.sendClose(wsx.StatusGoingAway, "server shutting down")
		}
		c.mu.Unlock()
		c.phase = phClosing
		c.wait(c.srv.cfg.limits.CloseTimeout)
	}
}

// peerClosed completes the closing handshake the peer started, answering with its code and
// reason (§5.5.1), or the one we started (§7.1.2); the server then closes the TCP connection
// first (§7.1.1).
func (c *Conn) peerClosed(code uint16, reason []byte) {
	c.mu.Lock()
	local := c.tx.CloseSent()
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	if f, ok := c.tx.AppendCloseReply(b[:0], code, reason); ok {
		c.send(f, nil)
	}
	c.mu.Unlock()
	c.end(&wsx.CloseError{Code: wsx.StatusCode(code), Reason: string(reason), Local: local})
	c.finish()
}

// fail fails the connection (§7.1.7) after the peer broke a rule the engine enforces.
func (c *Conn) fail(e *engine.Error) {
	c.failWith(&wsx.ProtocolError{Code: wsx.StatusCode(e.Code), Rule: e.Rule})
}

// failWith fails the connection with pe: a Close frame with pe's code and the rule as its
// reason, then, once it is out, the sending half shut and the peer's last bytes read and
// dropped until it closes its end, for a moment and a number of bytes at most (closing a
// socket with unread input would reset the connection, which can destroy the Close before the
// peer reads it).
func (c *Conn) failWith(pe *wsx.ProtocolError) {
	c.mu.Lock()
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	if f, err := c.tx.AppendClose(b[:0], uint16(pe.Code), []byte(bridge.TruncateReason(pe.Rule))); err == nil {
		c.send(f, nil)
	}
	c.mu.Unlock()
	c.end(pe)
	c.drain()
}

// slow ends a connection whose peer does not read its output: a Close frame with code 1008
// goes behind the output, the socket takes what it can at once, and the connection is closed.
// Waiting longer would keep the output's memory for a peer that does not read.
func (c *Conn) slow(pe *wsx.ProtocolError) {
	c.mu.Lock()
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	if f, err := c.tx.AppendClose(b[:0], uint16(pe.Code), []byte(bridge.TruncateReason(pe.Rule))); err == nil {
		c.wflag |= outShut
		c.send(f, nil)
		c.flush()
	}
	c.mu.Unlock()
	c.end(pe)
	c.release()
}

// finish closes the socket once the output of a connection that ended is out, within
// CloseTimeout.
func (c *Conn) finish() {
	c.phase = phFlush
	c.wait(c.srv.cfg.limits.CloseTimeout)
	c.afterFlush()
}

// drain shuts the sending half once the output of a failed or refused connection is out
// (within CloseTimeout), then discards what the peer still sends until it closes its end.
func (c *Conn) drain() {
	c.phase = phDrain
	c.wait(c.srv.cfg.limits.CloseTimeout)
	c.afterFlush()
}

// afterFlush takes the next step of an ending connection whose output may be out.
func (c *Conn) afterFlush() {
	if c.phase != phFlush && c.phase != phDrain {
		return
	}
	c.mu.Lock()
	pending := c.pending() > 0 && c.wflag&outGone == 0
	c.mu.Unlock()
	if pending {
		return
	}
	if c.phase == phFlush {
		c.release()
		return
	}
	if in := c.state(); !in.shut {
		in.shut = true
		c.shutdownWrite()
		c.wait(c.srv.cfg.linger)
	}
}

// expire acts on the connection's waits that are over at now; the caller is the owner. It
// reports whether the connection still waits for something.
func (c *Conn) expire(now time.Time) bool {
	if c.phase == phReleased {
		return false
	}
	if in := c.in; in != nil && !in.due.IsZero() && !now.Before(in.due) {
		in.due = time.Time{}
		c.timeout()
		if c.phase == phReleased {
			return false
		}
	}
	waiting := c.in != nil && !c.in.due.IsZero()
	if stall := c.srv.cfg.limits.StallTimeout; stall > 0 {
		c.mu.Lock()
		o := c.out
		stalled := o != nil && now.Sub(o.since) >= stall
		c.mu.Unlock()
		if stalled {
			c.slow(c.outputStalled())
			return false
		}
		waiting = waiting || o != nil
	}
	return waiting
}

// outputStalled is how a connection fails when its peer reads nothing of its output for
// StallTimeout.
func (c *Conn) outputStalled() *wsx.ProtocolError {
	return &wsx.ProtocolError{Code: wsx.StatusPolicyViolation,
		Rule: "the peer stalled: its output made no progress for " + c.srv.cfg.limits.StallTimeout.String() + " (StallTimeout)"}
}

// timeout ends the wait of the connection's phase.
func (c *Conn) timeout() {
	switch c.phase {
	case phOpen: // a frame or message in progress, without new bytes
		d := c.srv.cfg.limits.StallTimeout
		c.failWith(&wsx.ProtocolError{Code: wsx.StatusPolicyViolation,
			Rule: "the peer stalled: no data for " + d.String() + " within a message (StallTimeout)"})
	case phClosing:
		c.end(errCloseTimeout)
		c.release()
	default: // the opening handshake, or the last steps of an ending connection
		c.release()
	}
}

// eof ends a connection whose peer closed its end, or whose socket failed, with err (nil for
// the end of the stream). Output still pending may reach a peer that only closed its sending
// half: the socket closes once it is out, within CloseTimeout.
func (c *Conn) eof(err error) {
	if c.phase == phOpen || c.phase == phClosing {
		cause := err
		if cause == nil {
			cause = io.ErrUnexpectedEOF
		}
		c.end(bridge.AbnormalClosure(cause)) // §7.1.5: no Close frame, status 1006
	}
	if err != nil || c.phase == phUpgrade || c.phase == phTLS {
		c.release()
		return
	}
	if c.phase != phFlush {
		c.finish()
		return
	}
	c.afterFlush()
}
