package wsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// StatusCode is a WebSocket close status code (§7.4).
type StatusCode int

// Status codes defined by RFC 6455 §7.4.1 and the IANA registry.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatusReceived (1005) is never sent: it reports a Close frame without a code.
	StatusNoStatusReceived StatusCode = 1005
	// StatusAbnormalClosure (1006) is never sent: it reports a connection that ended without
	// a Close frame.
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	// StatusTLSHandshake (1015) is never sent: it reports a failed TLS handshake.
	StatusTLSHandshake StatusCode = 1015
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake failure",
}

// String returns the code and its registered name, such as "1000 (normal closure)".
func (s StatusCode) String() string {
	if name, ok := statusNames[s]; ok {
		return fmt.Sprintf("%d (%s)", int(s), name)
	}
	return fmt.Sprintf("%d", int(s))
}

// CloseError reports how the peer ended the connection: the code and reason of its Close
// frame (§7.1.5, §7.1.6), StatusNoStatusReceived for a Close frame without a code, or
// StatusAbnormalClosure when the connection ended without a Close frame.
type CloseError struct {
	Code   StatusCode
	Reason string

	err error // for StatusAbnormalClosure, what ended the connection
}

func (e *CloseError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("wsx: connection closed without a close frame, status %v: %v", e.Code, e.err)
	}
	if e.Reason == "" {
		return fmt.Sprintf("wsx: peer closed the connection with status %v", e.Code)
	}
	return fmt.Sprintf("wsx: peer closed the connection with status %v: %q", e.Code, e.Reason)
}

// Unwrap returns the error that ended a connection closed without a Close frame.
func (e *CloseError) Unwrap() error { return e.err }

// CloseStatus returns the code of the *CloseError in err's chain, or -1 when there is none.
//
//	if wsx.CloseStatus(err) == wsx.StatusNormalClosure { /* the peer said goodbye */ }
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// failError reports that this endpoint failed the connection (§7.1.7) with code.
type failError struct {
	code StatusCode
	err  error
}

func (e *failError) Error() string {
	return fmt.Sprintf("%v; connection failed with status %v", e.err, e.code)
}

func (e *failError) Unwrap() error { return e.err }

// errClosed is returned for operations on a connection this endpoint has closed.
var errClosed = fmt.Errorf("wsx: use of closed connection: %w", net.ErrClosed)

// Close performs the closing handshake (§7.1.2): it sends a Close frame with code and reason,
// waits up to CloseTimeout for the peer's Close, and then closes the TCP connection (a server
// at once, a client after waiting for the server to close first, §7.1.1). Messages the peer
// sends before its Close are not lost: a read in progress gets them, and those that Close
// reads itself are kept for the next reads, which then report the peer's Close.
//
// code must be one that may be sent (1000-1003, 1007-1014 or 3000-4999, §7.4) and reason at most
// 123 bytes of UTF-8 (§5.5). Close returns nil when the handshake completed; calling it again, or
// after the peer closed, returns an error wrapping net.ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code < 0 || code > 0xffff || !frame.ValidCloseCode(uint16(code)) {
		return fmt.Errorf("wsx: status %v may not be sent in a close frame (§7.4)", code)
	}
	if len(reason) > frame.MaxControlPayload-2 {
		return errors.New("wsx: close reason longer than 123 bytes (§5.5)")
	}
	if !utf8.Valid([]byte(reason)) {
		return errors.New("wsx: close reason is not valid UTF-8 (§5.5.1)")
	}
	if err := c.sendClose(code, reason); err != nil {
		c.closeTCP()
		return err
	}
	err := c.awaitPeerClose()
	c.finishClose(false)
	return err
}

// CloseNow closes the TCP connection without a closing handshake; the peer sees status 1006.
func (c *Conn) CloseNow() error {
	if !c.closeTCP() {
		return errClosed
	}
	return nil
}

// sendClose sends our Close frame once. It fails with errClosed when a Close was already
// sent or the connection is gone. StatusNoStatusReceived sends an empty Close payload.
func (c *Conn) sendClose(code StatusCode, reason string) error {
	if !c.closeSent.CompareAndSwap(false, true) {
		return errClosed
	}
	var payload [frame.MaxControlPayload]byte
	p := payload[:0]
	if code != StatusNoStatusReceived {
		p = frame.AppendClose(p, uint16(code), truncateReason(reason))
	}
	return c.writeControl(frame.OpClose, p, time.Now().Add(c.opts.closeTimeout()), nil)
}

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

// awaitPeerClose waits for the peer's Close frame after ours, reading (and discarding data
// messages) itself unless another goroutine is reading already.
func (c *Conn) awaitPeerClose() error {
	deadline := time.Now().Add(c.opts.closeTimeout())
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-c.readDone:
	case <-timer.C:
		return errors.New("wsx: timed out waiting for the peer's close frame")
	case c.readLock <- struct{}{}:
		c.rdl.setAt(deadline)
		err := c.queueUntilClose()
		if err != nil {
			err = c.setReadErr(fmt.Errorf("wsx: closing handshake incomplete: %w", err))
		}
		<-c.readLock
		if err != nil {
			return err
		}
	}
	if CloseStatus(c.readErr) < 0 || CloseStatus(c.readErr) == StatusAbnormalClosure {
		return fmt.Errorf("wsx: closing handshake incomplete: %w", c.readErr)
	}
	return nil
}

// queueUntilClose reads until the read side ends, normally with the peer's Close frame.
// Messages that arrive first are kept for the application's next reads, up to the read limit
// in all; past that they are dropped. The caller holds readLock.
func (c *Conn) queueUntilClose() error {
	kept := int64(0)
	for c.readErr == nil {
		typ, msg, err := c.readMessage(context.Background(), nil)
		if err != nil {
			if isTimeout(err) {
				return err
			}
			continue // the read side has ended
		}
		if limit := c.opts.readLimit(); limit < 0 || kept+int64(len(msg)) <= limit {
			kept += int64(len(msg))
			c.queued = append(c.queued, queuedMessage{typ: typ, data: msg})
		}
	}
	return nil
}

// finishClose ends the TCP connection once the closing handshake is done. The server closes
// first; the client waits for it to do so, so that the server holds TIME_WAIT (§7.1.1). Only
// a caller holding readLock may wait.
func (c *Conn) finishClose(haveReadLock bool) {
	c.finishOnce.Do(func() {
		if c.client && haveReadLock && !c.closed.Load() {
			c.rdl.setAt(time.Now().Add(c.opts.closeTimeout()))
			var discard [512]byte
			for {
				if _, err := c.nc.Read(discard[:]); err != nil {
					break
				}
			}
		}
		c.closeTCP()
	})
}

// closeTCP closes the transport once; it reports whether this call closed it.
func (c *Conn) closeTCP() bool {
	if !c.closed.CompareAndSwap(false, true) {
		return false
	}
	c.nc.Close()
	if c.group != nil {
		c.group.remove(c)
	}
	return true
}
