//go:build !js

package event

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/bridge"
	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/engine"
)

// Conn is a WebSocket connection served in event mode. Its handlers run on the worker that
// owns it, one at a time. Its methods are safe for concurrent use and never block: Write,
// Ping and Close queue what the socket cannot take at once, and what happens later is
// reported to OnClose.
//
// An idle connection is its socket, this struct and a slot in a table of descriptors: the
// receiving engine, the message being assembled and the output waiting for the socket are
// taken from pools when bytes move and given back when they stop.
type Conn struct {
	srv *Server
	fd  int32  // the socket (epoll driver); kept after it is closed, to find the worker
	gen uint32 // tells this connection's events from those of an earlier one on fd

	pend atomic.Uint32 // tasks posted to the owner, not yet run

	// Kept by the owner: the worker whose epoll set holds the socket, or the goroutine that
	// reads it.
	phase  uint8
	opened bool // OnOpen was called
	ended  bool // OnClose was called, or is not to be

	wflag uint8 // under mu: outOpen, outShut, outGone (here, where it takes no room)

	in  *input // the handshake, a frame or message in progress, or a wait; nil while idle
	ext *extras
	tls *tlsLink
	alt *goLink // the goroutine driver's state; nil for the epoll driver

	limit atomic.Int64 // SetReadLimit's value, 0 for the server's

	mu    sync.Mutex // the sending side: wflag and
	tx    engine.Sender
	out   *output // bytes the socket has not taken yet; nil when none
	value any
}

// Phases of a connection, kept by its owner.
const (
	phUpgrade  = iota // reading the opening handshake's request
	phTLS             // the TLS handshake runs in a goroutine of its own
	phOpen            // the WebSocket connection is open
	phClosing         // our Close went out; the peer's is awaited
	phFlush           // the connection ended: the socket closes once its output is out
	phDrain           // failed or refused: once the output is out, the sending half is shut and the peer's last bytes are discarded until it closes
	phReleased        // the socket is closed
)

// Bits of Conn.wflag, under Conn.mu.
const (
	outOpen = 1 << iota // the opening handshake completed: messages may go out
	outShut             // no more messages: the connection ended or is ending
	outGone             // the socket is closed: nothing more goes out
)

// Tasks other goroutines post to a connection's owner, as bits of Conn.pend.
const (
	taskAdopt     = 1 << iota // a new connection: take it in and start its handshake
	taskTLSDone               // the TLS handshake finished
	taskWatch                 // output is pending: bound its wait by StallTimeout
	taskClosing               // our Close went out: bound the wait for the peer's
	taskFlushed               // the output of an ending connection is out
	taskSlow                  // output went past MaxPending
	taskStalled               // output made no progress for StallTimeout
	taskGoingAway             // Shutdown: close with 1001
	taskCloseNow              // CloseNow, or Close of the Server
)

// input is a connection's receiving state while it is not idle. It comes from a pool.
type input struct {
	rx      engine.Receiver
	rxLimit int64 // the read limit rx has
	typ     wsx.MessageType
	msg     []byte    // the message so far when it does not arrive whole; from getBuffer
	charged int64     // msg's capacity, taken from the message memory budget
	head    []byte    // an opening handshake request that has not arrived whole
	due     time.Time // when the wait in progress ends (see Conn.timeout)
	shut    bool      // phDrain: the sending half is shut
	drained int64     // phDrain: bytes discarded
}

var inputs = sync.Pool{New: func() any { return new(input) }}

// extras is what the opening handshake negotiated, when it is more than the defaults.
type extras struct {
	subprotocol string
	extensions  string
	inflater    *deflate.Decompressor
}

// Subprotocol returns the subprotocol agreed in the opening handshake, or "".
func (c *Conn) Subprotocol() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.subprotocol
}

// Extensions returns the Sec-WebSocket-Extensions value agreed in the opening handshake, or
// "".
func (c *Conn) Extensions() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.extensions
}

// RemoteAddr returns the peer's address, or nil once the connection is closed. It is looked
// up on each call, as a connection keeps no copy.
func (c *Conn) RemoteAddr() net.Addr { return c.addr(true) }

// LocalAddr returns the connection's local address, or nil once it is closed.
func (c *Conn) LocalAddr() net.Addr { return c.addr(false) }

func (c *Conn) addr(remote bool) net.Addr {
	if c.alt != nil {
		if remote {
			return c.alt.nc.RemoteAddr()
		}
		return c.alt.nc.LocalAddr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wflag&outGone != 0 {
		return nil
	}
	return socketAddr(c.fd, remote)
}

// SetReadLimit changes the largest message the connection accepts; n means what
// wsx.ConnOptions.ReadLimit means (0 the server's default, negative no limit). It applies
// from the next bytes that arrive.
func (c *Conn) SetReadLimit(n int64) { c.limit.Store(bridge.ReadLimit(n)) }

// SetValue keeps v with the connection, for the handlers; Value returns it.
func (c *Conn) SetValue(v any) {
	c.mu.Lock()
	c.value = v
	c.mu.Unlock()
}

// Value returns what SetValue kept, or nil.
func (c *Conn) Value() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// post asks the connection's owner to run task, and wakes it when it has nothing else to do
// for the connection.
func (c *Conn) post(task uint32) {
	if c.pend.Or(task) == 0 {
		c.wake()
	}
}

// runTasks runs the tasks posted to the connection; the caller is its owner.
func (c *Conn) runTasks() {
	t := c.pend.Swap(0)
	if c.phase == phReleased {
		return
	}
	switch {
	case t&taskAdopt != 0:
		c.adopt()
	case t&taskTLSDone != 0:
		c.tlsDone()
	}
	if c.phase == phReleased {
		return
	}
	switch {
	case t&taskCloseNow != 0:
		c.end(bridge.ErrClosed)
		c.release()
	case t&taskSlow != 0:
		c.slow(errPending)
	case t&taskStalled != 0:
		c.slow(c.outputStalled())
	case t&taskGoingAway != 0:
		c.goingAway()
	}
	if c.phase == phReleased {
		return
	}
	if t&taskClosing != 0 && c.phase == phOpen {
		c.phase = phClosing
		c.wait(c.srv.cfg.limits.CloseTimeout)
	}
	if t&taskWatch != 0 {
		c.watch()
	}
	if t&taskFlushed != 0 {
		c.afterFlush()
	}
}

// state returns the connection's input state, taking one from the pool if it is idle.
func (c *Conn) state() *input {
	if c.in == nil {
		c.in = inputs.Get().(*input)
	}
	return c.in
}

// wait bounds what the connection waits for, from now, by d.
func (c *Conn) wait(d time.Duration) {
	c.state().due = time.Now().Add(d)
	c.watch()
}

// park gives the input state back to its pool once the connection waits for nothing and
// holds nothing: between messages, an open connection holds no engine and no buffer.
func (c *Conn) park() {
	in := c.in
	if in == nil || !in.due.IsZero() || in.msg != nil || in.head != nil || !in.rx.Idle() {
		return
	}
	c.in = nil
	inputs.Put(in)
}

// release closes the socket and gives back everything the connection holds; the caller is
// its owner.
func (c *Conn) release() {
	if c.phase == phReleased {
		return
	}
	c.end(bridge.ErrClosed)
	c.phase = phReleased
	c.mu.Lock()
	c.wflag |= outShut | outGone
	if o := c.out; o != nil {
		c.out = nil
		o.free()
	}
	c.closeSocket()
	c.mu.Unlock()
	if t := c.tls; t != nil {
		t.stop()
	}
	if in := c.in; in != nil {
		c.in = nil
		in.dropMessage()
		in.head = nil
		in.due, in.shut, in.drained = time.Time{}, false, 0
		in.rx, in.rxLimit = engine.Receiver{}, 0
		inputs.Put(in)
	}
	c.srv.released()
}

// end reports the end of the connection to OnClose, once, if it was opened; no message goes
// out after it.
func (c *Conn) end(err error) {
	if c.ended {
		return
	}
	c.ended = true
	c.mu.Lock()
	c.wflag |= outShut
	c.mu.Unlock()
	if c.in != nil {
		c.in.dropMessage() // no message is delivered after the end
	}
	if c.opened && c.srv.OnClose != nil {
		c.srv.call(c, func() { c.srv.OnClose(c, err) })
	}
}
