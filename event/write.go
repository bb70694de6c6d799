//go:build !js

package event

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/bridge"
	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
)

// errPending is how a connection whose peer does not read its output fails.
var errPending = &wsx.ProtocolError{Code: wsx.StatusPolicyViolation,
	Rule: "the peer does not read: its output would go past MaxPending bytes (Server.MaxPending)"}

// Write sends p as one message of type typ. It never blocks: what the socket does not take at
// once waits in the connection's output, in order, and goes out as the peer reads. Text must
// be UTF-8 (§8.1): Write refuses text that is not, before anything goes out. A message that
// would take the output past Server.MaxPending is not sent: the connection fails with
// wsx.StatusPolicyViolation (1008) and Write returns that error. wsx.Uncompressed sends the
// message without compression when permessage-deflate is on.
func (c *Conn) Write(typ wsx.MessageType, p []byte, opts ...wsx.WriteOption) error {
	if typ != wsx.MessageText && typ != wsx.MessageBinary {
		return fmt.Errorf("wsx: cannot write a message of type %v", typ)
	}
	if typ == wsx.MessageText {
		if err := engine.CheckText(p); err != nil {
			return fmt.Errorf("wsx: %w", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wflag&(outOpen|outShut) != outOpen {
		return bridge.ErrClosed
	}
	rsv := byte(0)
	if c.tx.Compresses(len(p)) && !slices.Contains(opts, wsx.Uncompressed) {
		bp := compressBuffers.Get().(*[]byte)
		defer compressBuffers.Put(bp)
		*bp = c.tx.Compressor().AppendMessage((*bp)[:0], p)
		p, rsv = *bp, frame.Rsv1
	}
	h, err := c.tx.Data(frame.Opcode(typ), rsv, true, int64(len(p)))
	if err != nil {
		return bridge.ErrClosed // §5.5.1: no data after our Close
	}
	var hdr [frame.MaxHeaderSize]byte
	return c.send(hdr[:frame.Put(hdr[:], h)], p)
}

// compressBuffers hold compressed messages while they are written.
var compressBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Ping sends a Ping with payload (at most 125 bytes, §5.5.2). The Pong comes to
// ConnOptions.OnPong.
func (c *Conn) Ping(payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wflag&(outOpen|outShut) != outOpen {
		return bridge.ErrClosed
	}
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	f, err := c.tx.AppendPing(b[:0], payload)
	if err == engine.ErrCloseSent {
		return bridge.ErrClosed
	}
	if err != nil {
		return fmt.Errorf("wsx: %w", err)
	}
	return c.send(f, nil)
}

// pong answers the peer's Ping (§5.5.2), unless our Close went out.
func (c *Conn) pong(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b [frame.MaxHeaderSize + frame.MaxControlPayload]byte
	if f, ok := c.tx.AppendPong(b[:0], p); ok && c.wflag&outShut == 0 {
		c.send(f, nil)
	}
}

// send sends the bytes of a then b as protocol output, through TLS when it is on; the
// caller holds mu.
func (c *Conn) send(a, b []byte) error {
	if t := c.tls; t != nil {
		return t.write(c, a, b)
	}
	return c.sendRaw(a, b)
}

// sendRaw sends a then b to the socket; the caller holds mu. Nothing pending, it writes
// straight from a and b, and keeps what the socket did not take; else it queues behind what
// is pending, so that bytes go out in order.
func (c *Conn) sendRaw(a, b []byte) error {
	if c.wflag&outGone != 0 {
		return bridge.ErrClosed
	}
	if c.out == nil && (c.alt == nil || c.alt.inflight == 0) {
		n, err := c.writeSocket(a, b)
		if err != nil {
			return c.writeFailed(err)
		}
		if n == len(a)+len(b) {
			return nil
		}
		if n >= len(a) {
			a, b = b[n-len(a):], nil
		} else {
			a = a[n:]
		}
	}
	if c.out == nil {
		c.out = outputs.Get().(*output)
		c.out.since = time.Now()
		c.post(taskWatch)
	} else if c.pending()+len(a)+len(b) > c.srv.cfg.maxPending && c.wflag&outShut == 0 {
		c.wflag |= outShut
		c.post(taskSlow)
		return errPending
	}
	c.out.add(a, b)
	c.kick()
	return nil
}

// pending returns the bytes waiting for the socket; the caller holds mu.
func (c *Conn) pending() int {
	n := 0
	if c.out != nil {
		n = len(c.out.buf) - c.out.off
	}
	if c.alt != nil {
		n += c.alt.inflight
	}
	return n
}

// writeFailed handles a write the socket refused: the peer is gone (a reset, or it shut its
// reading half). Nothing more can go out; reading goes on, to report the peer's Close if it
// sent one, or the end of the connection.
func (c *Conn) writeFailed(err error) error {
	c.wflag |= outShut | outGone
	if o := c.out; o != nil {
		c.out = nil
		o.free()
	}
	return fmt.Errorf("wsx: write failed: %w", err)
}

// writable writes pending output after the socket made room; the caller is the owner.
func (c *Conn) writable() {
	c.mu.Lock()
	flushed := c.flush()
	c.mu.Unlock()
	if flushed {
		c.afterFlush()
	}
}

// flush writes what the socket takes of the pending output; the caller holds mu. It reports
// whether the output of an ending connection has all gone out.
func (c *Conn) flush() bool {
	o := c.out
	if o == nil || c.wflag&outGone != 0 {
		return false
	}
	n, err := c.writeSocket(o.buf[o.off:], nil)
	if err != nil {
		c.writeFailed(err)
		return c.wflag&outShut != 0
	}
	if n > 0 {
		o.off += n
		o.since = time.Now()
	}
	if o.off < len(o.buf) {
		return false
	}
	c.out = nil
	o.free()
	return c.wflag&outShut != 0
}

// output is what a connection's socket has not taken yet, in order: buf[off:].
type output struct {
	buf   []byte // from getBuffer
	off   int
	since time.Time // the last progress, for StallTimeout
}

var outputs = sync.Pool{New: func() any { return new(output) }}

// add appends a and b.
func (o *output) add(a, b []byte) {
	n := len(a) + len(b)
	if len(o.buf)+n > cap(o.buf) {
		pending := len(o.buf) - o.off
		nb := o.buf
		if pending+n > cap(o.buf) {
			nb = getBuffer(max(pending+n, 2*cap(o.buf)))
		}
		nb = nb[:copy(nb[:pending], o.buf[o.off:])]
		if cap(nb) != cap(o.buf) && o.buf != nil {
			putBuffer(o.buf)
		}
		o.buf, o.off = nb, 0
	}
	o.buf = append(append(o.buf, a...), b...)
}

func (o *output) free() {
	if o.buf != nil {
		putBuffer(o.buf)
	}
	*o = output{}
	outputs.Put(o)
}
