package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx/internal/expiry"
	"github.com/wsx-go/wsx/internal/utf8"
)

// netConnMessage bounds the messages a NetConn writes: 32 KiB, within the smallest default read
// limit among Go WebSocket libraries (coder/websocket's), so that any peer can read the stream.
const netConnMessage = 32 << 10

// NetConn returns a net.Conn that carries a byte stream over c, in messages of type typ
// (MessageText or MessageBinary), so that any stream protocol (HTTP/1.1, HTTP/2 and gRPC, SSH,
// yamux, ...) can run over a WebSocket. Both ends may use NetConn, or the peer may be any
// WebSocket endpoint that treats the messages' payloads as one stream.
//
// Writes: a Write goes out as one message, or as several of at most 32 KiB each (within the
// read limit of any peer's defaults). With MessageText, every message must be valid UTF-8
// (§5.6): Write refuses bytes that are not UTF-8 with an error, writing nothing of them, and
// keeps a code point cut short at the end of p to send with the next Write, so that no message
// ends inside a code point. A zero-length Write sends nothing.
//
// Reads: Read returns the payloads of the messages received, in order, as one stream; message
// boundaries mean nothing. A message of the other type fails the connection with
// StatusUnsupportedData (1003, §7.4.1). Read returns io.EOF after the peer's Close frame with
// StatusNormalClosure, StatusGoingAway or no status, and after an empty message (see
// CloseWrite); a Close frame with another code comes back as its *CloseError. Each message is
// received whole before Read returns its first byte (into p itself when p holds it, else into
// a pooled buffer), so a peer's messages may be as large as the Conn's ConnOptions.ReadLimit,
// and the NetConn holds one at a time.
//
// Deadlines follow net.Conn's contract: they apply to calls in progress as well as to later
// ones, may be moved (earlier, later, or cleared) while a call is blocked, and once one has
// passed, setting a new one in the future lets calls go on. A call whose deadline passes fails
// with an error that is os.ErrDeadlineExceeded and a net.Error whose Timeout method reports
// true. A Read that times out leaves the connection intact: the next Read carries on where it
// stopped. A Write that times out before any of its bytes went out leaves it intact too; one
// that times out part-way through a frame has sent the peer a frame it can never complete, so
// the connection is closed, as tls.Conn is broken by a Write timeout (with permessage-deflate,
// any Write timeout closes it: the compressor has already taken the message into its history).
//
// Close runs the closing handshake with StatusNormalClosure (§7.1.2): it makes Read and Write
// calls in progress return an error wrapping net.ErrClosed, and returns nil once the handshake
// is complete, whichever end started it. The returned net.Conn also has a CloseWrite method,
// which half-closes it as TCP's does: see CloseWrite below.
//
// c's ConnOptions still apply. Its StallTimeout closes the connection when the peer lets a
// Write make no progress for that long (30 s by default): for a protocol whose peer may stop
// reading for longer (a flow-controlled stream waiting on a slow consumer), set it negative.
//
// LocalAddr and RemoteAddr are c's. Once NetConn is called, c belongs to the net.Conn: read
// from it only through the net.Conn. The peer's pings are answered while a Read is in progress,
// as on any Conn; stream protocols keep one going (HTTP clients and servers, gRPC, SSH do).
//
// # CloseWrite
//
// The returned net.Conn's CloseWrite method (net.Conn does not declare it; use an interface
// assertion such as interface{ CloseWrite() error }, as proxies do with *net.TCPConn) ends the
// stream this end sends while the other direction stays open: it sends an empty message, which
// the peer's NetConn reads as io.EOF. WebSocket itself has no half-close: a Close frame asks the
// peer to close too (§1.4, §5.5.1), so CloseWrite cannot be one. Writes after CloseWrite fail;
// Close is still needed to end the connection. With MessageText, CloseWrite fails if the last
// Write ended inside a code point.
func NetConn(c *Conn, typ MessageType) net.Conn {
	nc := &netConn{c: c, typ: typ}
	if typ != MessageText && typ != MessageBinary {
		err := fmt.Errorf("wsx: NetConn needs MessageText or MessageBinary, not %v", typ)
		nc.readErr, nc.writeErr = err, err
	}
	return nc
}

// netConn is the net.Conn that NetConn returns.
type netConn struct {
	c   *Conn
	typ MessageType

	// rd and wd are the deadlines of the two directions. The calls made on c take the
	// current generation of theirs as their context (see expiry.Timer.Context): it is done
	// when the deadline passes, and reports no deadline, which c would set on the socket
	// once per call, where moving it later could not reach a call in progress.
	rd, wd expiry.Timer

	readLock   waitLock // Conn takes one reader at a time, net.Conn many
	buf        []byte   // what is left to return of the last message read
	bufp       *[]byte  // buf's pool entry, while buf holds a message
	readErr    error    // sticky: io.EOF at the end of the peer's stream
	peerClosed bool     // a read saw the peer's Close frame: the closing handshake is done

	writeLock waitLock       // serialises Writes, which in text mode share pending
	text      utf8.Validator // text mode: the state of the stream written so far
	pending   [4]byte        // text mode: a code point that the last Write cut short
	npending  int
	writeErr  error // sticky: set by CloseWrite

	closing atomic.Bool
}

var _ net.Conn = (*netConn)(nil)

// acquire takes l for a call whose deadline is d, unless the deadline passes first, and
// returns the error the call reports then. A deadline that has passed fails the call even when
// the lock is free, as net.Conn's contract asks.
func acquire(l *waitLock, d *expiry.Timer) error {
	if err := l.lock(d.Context()); err != nil {
		return failed(d, err)
	}
	if err := d.Err(); err != nil {
		l.unlock()
		return failed(d, err)
	}
	return nil
}

// failed returns what a call that failed with err reports, d being its deadline:
// net.ErrClosed after Close, a timeout when the deadline passed, err otherwise.
func failed(d *expiry.Timer, err error) error {
	derr := d.Err()
	switch {
	case derr != nil && derr != os.ErrDeadlineExceeded:
		return derr // closed
	case err == os.ErrDeadlineExceeded:
		return errDeadline // the Conn stopped at the deadline, and nothing broke
	case derr != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return &deadlineError{err: err}
	}
	return err
}

// deadlineError is what a netConn call returns when its deadline passes: a net.Error whose
// Timeout is true, and which is os.ErrDeadlineExceeded.
type deadlineError struct {
	err error // what the connection reported, when the timeout broke it
}

// errDeadline is the deadlineError of a call that timed out and left the connection intact.
var errDeadline = &deadlineError{}

func (e *deadlineError) Error() string {
	if e.err != nil {
		return "wsx: i/o timeout: " + strings.TrimPrefix(e.err.Error(), "wsx: ")
	}
	return "wsx: i/o timeout"
}

func (e *deadlineError) Timeout() bool   { return true }
func (e *deadlineError) Temporary() bool { return true }

func (e *deadlineError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

func (e *deadlineError) Unwrap() error { return e.err }

// Read returns what is left of the last message read, or reads the next one: straight into p
// when p is as large as the messages a NetConn sends, else into a pooled buffer. Messages are
// read whole, with ReadMessage: a deadline that cuts one short leaves it with the Conn, which
// delivers it whole to the next call, whatever context that call has. (A message Reader keeps
// the context it was opened with, and one that ended while no read was in progress could not
// go on under a new deadline.)
func (nc *netConn) Read(p []byte) (int, error) {
	if err := acquire(&nc.readLock, &nc.rd); err != nil {
		return 0, err
	}
	defer nc.readLock.unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if len(nc.buf) == 0 {
		if nc.readErr != nil {
			return 0, nc.readErr
		}
		direct := len(p) >= netConnMessage
		dst := p[:0:len(p)] // never past len(p): the rest of p's array is not ours
		if !direct {
			nc.bufp = netConnBuffers.Get().(*[]byte)
			dst = (*nc.bufp)[:0]
		}
		typ, msg, err := nc.c.ReadMessage(nc.rd.Context(), dst)
		switch {
		case err != nil:
			err = nc.readFailed(err)
		case typ != nc.typ:
			err = nc.wrongType(typ)
		case len(msg) == 0:
			nc.readErr = io.EOF // an empty message: the peer's CloseWrite
			err = io.EOF
		}
		if err != nil {
			nc.releaseBuffer()
			return 0, err
		}
		if direct && len(msg) <= len(p) && &msg[0] == &p[0] {
			return len(msg), nil // read in place
		}
		if nc.bufp != nil {
			*nc.bufp = msg[:0] // keep a buffer that grew
		}
		nc.buf = msg
	}
	n := copy(p, nc.buf)
	nc.buf = nc.buf[n:]
	if len(nc.buf) == 0 {
		nc.releaseBuffer()
	}
	return n, nil
}

// netConnBuffers hold the messages that NetConns read for calls with small buffers.
var netConnBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, netConnMessage)
	return &b
}}

// releaseBuffer gives the read buffer back to the pool, unless a large message from a peer
// that is not a NetConn made it grow.
func (nc *netConn) releaseBuffer() {
	if nc.bufp != nil && cap(*nc.bufp) <= 2*netConnMessage {
		netConnBuffers.Put(nc.bufp)
	}
	nc.bufp, nc.buf = nil, nil
}

// readFailed turns the error of a read on c into the net.Conn's: io.EOF for the peer's
// Close frame with a code that means the stream ended normally.
func (nc *netConn) readFailed(err error) error {
	if nc.rd.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return failed(&nc.rd, err)
	}
	switch code := CloseStatus(err); code {
	case -1, StatusAbnormalClosure:
		return err
	case StatusNormalClosure, StatusGoingAway, StatusNoStatusReceived:
		nc.peerClosed = true
		nc.readErr = io.EOF
		return io.EOF
	}
	nc.peerClosed = true
	return err
}

// wrongType fails the connection on a message of the other type (§7.4.1: 1003 is for "a type
// of data it cannot accept").
func (nc *netConn) wrongType(typ MessageType) error {
	nc.readErr = fmt.Errorf("wsx: NetConn received a %v message on a %v stream; connection closed with status %v", typ, nc.typ, StatusUnsupportedData)
	nc.c.Close(StatusUnsupportedData, "expected "+nc.typ.String()+" messages")
	return nc.readErr
}

func (nc *netConn) Write(p []byte) (int, error) {
	if err := acquire(&nc.writeLock, &nc.wd); err != nil {
		return 0, err
	}
	defer nc.writeLock.unlock()
	if nc.writeErr != nil {
		return 0, nc.writeErr
	}
	if nc.typ == MessageText {
		return nc.writeText(p)
	}
	n := 0
	for n < len(p) {
		k := min(len(p)-n, netConnMessage)
		if err := nc.c.Write(nc.wd.Context(), nc.typ, p[n:n+k]); err != nil {
			return n, failed(&nc.wd, err)
		}
		n += k
	}
	return n, nil
}

var errNotUTF8 = errors.New("wsx: NetConn: a text stream must be valid UTF-8 (§5.6); nothing of this Write was sent")

// writeText writes p as text messages that each end on a code point boundary, keeping a code
// point cut short at the end of p for the next call.
func (nc *netConn) writeText(p []byte) (int, error) {
	v := nc.text // a refused Write leaves the stream's state as it was
	if !v.Write(p) {
		return 0, errNotUTF8
	}
	rest := p
	if nc.npending > 0 {
		// Complete the code point the last Write cut short, and send it alone: gluing it to
		// what follows would need a copy of p, or a fragmented message that a timeout could
		// leave unfinished.
		size := seqLen(nc.pending[0])
		need := size - nc.npending
		if len(rest) < need {
			nc.npending += copy(nc.pending[nc.npending:], rest)
			nc.text = v
			return len(p), nil
		}
		copy(nc.pending[nc.npending:], rest[:need])
		if err := nc.c.Write(nc.wd.Context(), MessageText, nc.pending[:size]); err != nil {
			return 0, failed(&nc.wd, err)
		}
		nc.npending = 0
		rest = rest[need:]
	}
	for {
		k := textPrefix(rest, netConnMessage)
		if k == 0 {
			break
		}
		if err := nc.c.Write(nc.wd.Context(), MessageText, rest[:k]); err != nil {
			// What went out ends on a code point boundary: the stream is complete so far.
			nc.text.Reset()
			return len(p) - len(rest), failed(&nc.wd, err)
		}
		rest = rest[k:]
	}
	nc.npending = copy(nc.pending[:], rest)
	nc.text = v
	return len(p), nil
}

// textPrefix returns the length of the longest prefix of b, at most max bytes long, that ends
// on a code point boundary. b is valid UTF-8 from its start, except that it may end inside a
// code point.
func textPrefix(b []byte, max int) int {
	if len(b) > max {
		i := max
		for i > 0 && b[i]&0xc0 == 0x80 { // a continuation byte: not a boundary
			i--
		}
		return i
	}
	// Where does the last code point start, and is it whole?
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if b[i]&0xc0 != 0x80 {
			if i+seqLen(b[i]) > len(b) {
				return i
			}
			break
		}
	}
	return len(b)
}

// seqLen returns the length of the UTF-8 sequence that starts with the leading byte c.
func seqLen(c byte) int {
	switch {
	case c < 0x80:
		return 1
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	}
	return 4
}

var errWriteClosed = fmt.Errorf("wsx: NetConn: write after CloseWrite: %w", net.ErrClosed)

// CloseWrite ends the stream this end sends with an empty message; see NetConn.
func (nc *netConn) CloseWrite() error {
	if err := acquire(&nc.writeLock, &nc.wd); err != nil {
		return err
	}
	defer nc.writeLock.unlock()
	if nc.writeErr != nil {
		return nc.writeErr
	}
	if nc.npending > 0 {
		return errors.New("wsx: NetConn: CloseWrite would end the text stream inside a UTF-8 code point (§5.6)")
	}
	if err := nc.c.Write(nc.wd.Context(), nc.typ, nil); err != nil {
		return failed(&nc.wd, err)
	}
	nc.writeErr = errWriteClosed
	return nil
}

// Close runs the closing handshake; see NetConn.
func (nc *netConn) Close() error {
	if !nc.closing.CompareAndSwap(false, true) {
		return errClosed
	}
	// Calls in progress return; they may leave c in the middle of a message, which c's Close
	// reads past.
	nc.rd.Close(errClosed)
	nc.wd.Close(errClosed)
	nc.readLock.lock(context.Background()) // no Read is running: peerClosed is settled
	defer nc.readLock.unlock()
	err := nc.c.Close(StatusNormalClosure, "")
	if err != nil && nc.peerClosed {
		return nil // the peer closed first, and c answered
	}
	return err
}

func (nc *netConn) LocalAddr() net.Addr  { return nc.c.LocalAddr() }
func (nc *netConn) RemoteAddr() net.Addr { return nc.c.RemoteAddr() }

func (nc *netConn) SetDeadline(t time.Time) error {
	if nc.closing.Load() {
		return errClosed
	}
	nc.rd.Set(t)
	nc.wd.Set(t)
	return nil
}

func (nc *netConn) SetReadDeadline(t time.Time) error {
	if nc.closing.Load() {
		return errClosed
	}
	nc.rd.Set(t)
	return nil
}

func (nc *netConn) SetWriteDeadline(t time.Time) error {
	if nc.closing.Load() {
		return errClosed
	}
	nc.wd.Set(t)
	return nil
}
