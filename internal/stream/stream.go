// Package stream turns one stream of a multiplexed HTTP connection (an HTTP/2 stream carrying
// a WebSocket, RFC 8441, or an HTTP/3 one, RFC 9220) into a net.Conn whose deadlines behave
// like a socket's.
//
// HTTP/2 in net/http and x/net has deadlines that are fatal to a stream: a read deadline that
// expires closes the request body for good, and a write deadline resets the stream when it
// fires, even if no write is in progress then. A WebSocket connection sets a read deadline
// while a read waits (its context's, or the stall bound while the peer owes it the rest of a
// message) and promises that a read cut short by its context leaves the connection usable; it
// sets a write deadline before every write (the stall bound), long before most writes could
// wait. So Conn never sets a deadline on the stream:
//
//   - Reads: one goroutine per Conn (the pump) reads the stream, without a deadline, into a
//     buffer of the Conn's; Read takes what it holds and waits for more above the stream, where
//     a deadline only ends the wait. The pump holds a 512-byte buffer while the stream is idle
//     and borrows a 16 KiB one from a pool while data flows. It reads again only once Read has
//     taken everything, so a Conn buffers at most one chunk beyond what the transport's flow
//     control holds. It ends when the stream's reads fail (the peer's end of stream, a reset,
//     Close).
//   - Writes happen in the caller's goroutine. A write deadline is a timer that acts only while
//     a Write is blocked: it aborts the stream (the WebSocket connection ends after a write
//     timeout in any case, since part of a frame may have gone out), and the Write returns
//     os.ErrDeadlineExceeded. A deadline that passes while no Write runs costs nothing; the
//     next Write fails with os.ErrDeadlineExceeded without writing.
package stream

import (
	"net"
	"os"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/expiry"
)

// Stream is what a transport provides for one stream.
type Stream interface {
	// Read reads the peer's data. Only the pump calls it, one call at a time.
	Read(p []byte) (int, error)
	// Write sends p and flushes it to the connection. Calls come one at a time.
	Write(p []byte) (int, error)
	// CloseWrite ends the sending half of the stream (END_STREAM on HTTP/2, FIN on QUIC), or
	// returns an error if the transport cannot do that on its own.
	CloseWrite() error
	// Abort resets the stream. It may be called from any goroutine, concurrently with Read
	// and Write, which it must make return.
	Abort()
	// Close ends the stream: the sending half as CloseWrite does, and the receiving half. It
	// must make a blocked Read return. It is called once.
	Close() error
}

// Sizes of the pump's buffers: a small one, part of the Conn, while the stream is idle or
// carries small messages; a large one, from a pool, while reads fill the small one.
const (
	smallBuffer = 512
	largeBuffer = 16 << 10
)

var largeBuffers = sync.Pool{New: func() any {
	b := make([]byte, largeBuffer)
	return &b
}}

// Conn is a net.Conn over a Stream.
type Conn struct {
	s             Stream
	local, remote net.Addr

	readMu sync.Mutex // one Read at a time
	mu     sync.Mutex // guards the fields below
	buf    []byte     // what the pump read and Read has not taken yet
	rerr   error      // the error that ended the pump, after buf
	large  *[]byte    // the pump's large buffer, while it has one
	pump   bool       // the pump was started
	closed bool
	ready  chan struct{} // the pump filled buf or ended (one-slot signal)
	taken  chan struct{} // Read emptied buf (one-slot signal)
	done   chan struct{} // closed by Close
	rdl    expiry.Timer  // the read deadline
	small  [smallBuffer]byte

	writeMu sync.Mutex // one Write at a time
	wmu     sync.Mutex // guards the write deadline fields
	wdl     time.Time  // the write deadline
	wtimer  *time.Timer
	writing bool // a Write is in progress
	aborted bool // the write deadline aborted the stream
	once    sync.Once
}

// New returns a Conn over s, with the addresses of the connection that carries it.
func New(s Stream, local, remote net.Addr) *Conn {
	return &Conn{
		s:      s,
		local:  local,
		remote: remote,
		ready:  make(chan struct{}, 1),
		taken:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

// signal sends on a one-slot channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Read reads what the peer sent. It returns os.ErrDeadlineExceeded when the read deadline
// passes first, and the stream stays usable: the next Read gets the data.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		if len(c.buf) > 0 {
			n := copy(p, c.buf)
			c.buf = c.buf[n:]
			if len(c.buf) == 0 {
				signal(c.taken)
				if c.rerr != nil {
					c.releaseLargeLocked() // the pump has ended
				}
			}
			c.mu.Unlock()
			return n, nil
		}
		if c.rerr != nil {
			err := c.rerr
			c.mu.Unlock()
			return 0, err
		}
		if len(p) == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		if c.rdl.Err() != nil {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		expired := c.rdl.Done()
		if !c.pump {
			c.pump = true
			go c.runPump()
		}
		c.mu.Unlock()
		select {
		case <-c.ready:
		case <-expired:
		case <-c.done:
		}
	}
}

// runPump reads the stream into the Conn's buffers until the stream's reads fail.
func (c *Conn) runPump() {
	large := false
	for {
		b := c.small[:]
		if large {
			c.mu.Lock()
			if c.large == nil {
				c.large = largeBuffers.Get().(*[]byte)
			}
			b = *c.large
			c.mu.Unlock()
		}
		n, err := c.s.Read(b)
		c.mu.Lock()
		c.buf = b[:n]
		if err != nil {
			c.rerr = err
		}
		closed := c.closed
		c.mu.Unlock()
		signal(c.ready)
		if err != nil || closed {
			break
		}
		if n == 0 {
			continue
		}
		select {
		case <-c.taken:
		case <-c.done:
		}
		// A read that filled its buffer finds more waiting: read the next with the large
		// one. One that did not emptied what the transport held: wait with the small one.
		large = n == len(b)
		if !large {
			c.releaseLarge()
		}
	}
	c.mu.Lock()
	if len(c.buf) == 0 || c.closed {
		c.buf = nil
		c.releaseLargeLocked()
	}
	c.mu.Unlock()
}

func (c *Conn) releaseLarge() {
	c.mu.Lock()
	c.releaseLargeLocked()
	c.mu.Unlock()
}

func (c *Conn) releaseLargeLocked() {
	if c.large != nil && len(c.buf) == 0 {
		largeBuffers.Put(c.large)
		c.large = nil
	}
}

// Write sends p and flushes it. When the write deadline passes while Write is blocked, the
// stream is aborted and Write returns os.ErrDeadlineExceeded.
func (c *Conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.wmu.Lock()
	switch {
	case c.isClosed():
		c.wmu.Unlock()
		return 0, net.ErrClosed
	case c.aborted:
		c.wmu.Unlock()
		return 0, os.ErrDeadlineExceeded
	case !c.wdl.IsZero() && !time.Now().Before(c.wdl):
		c.wmu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	c.writing = true
	c.armWriteTimerLocked()
	c.wmu.Unlock()

	n, err := c.s.Write(p)

	c.wmu.Lock()
	c.writing = false
	if c.aborted {
		err = os.ErrDeadlineExceeded
	}
	c.wmu.Unlock()
	return n, err
}

// armWriteTimerLocked makes the write timer fire at the write deadline, if there is one.
func (c *Conn) armWriteTimerLocked() {
	if c.wdl.IsZero() {
		if c.wtimer != nil {
			c.wtimer.Stop()
		}
		return
	}
	d := time.Until(c.wdl)
	if c.wtimer == nil {
		c.wtimer = time.AfterFunc(d, c.writeTimeout)
	} else {
		c.wtimer.Reset(d)
	}
}

// writeTimeout runs when the write timer fires: it aborts a Write still blocked past the
// deadline.
func (c *Conn) writeTimeout() {
	c.wmu.Lock()
	abort := c.writing && !c.aborted && !c.wdl.IsZero() && !time.Now().Before(c.wdl)
	if abort {
		c.aborted = true
	}
	c.wmu.Unlock()
	if abort {
		c.s.Abort()
	}
}

// isClosed reports whether Close was called.
func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// CloseWrite ends the sending half of the stream.
func (c *Conn) CloseWrite() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.isClosed() {
		return net.ErrClosed
	}
	return c.s.CloseWrite()
}

// Close ends the stream and makes blocked Reads and Writes return.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.rdl.Close(net.ErrClosed)
		c.mu.Unlock()
		close(c.done)
		c.wmu.Lock()
		if c.wtimer != nil {
			c.wtimer.Stop()
		}
		c.wmu.Unlock()
		err = c.s.Close()
		c.mu.Lock()
		c.buf = nil
		if !c.pump {
			c.releaseLargeLocked()
		}
		c.mu.Unlock()
	})
	return err
}

// LocalAddr returns the local address of the connection that carries the stream.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address of the connection that carries the stream.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the time after which a waiting Read returns os.ErrDeadlineExceeded.
// Unlike the stream's own deadline, it ends nothing: a later Read, under a later deadline,
// gets the data.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.Set(t)
	return nil
}

// SetWriteDeadline sets the time after which a blocked Write aborts the stream.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.wdl = t
	abort := false
	if c.writing {
		if !t.IsZero() && !time.Now().Before(t) {
			// Already past: abort now rather than through the timer.
			abort = !c.aborted
			c.aborted = true
		} else {
			c.armWriteTimerLocked()
		}
	}
	c.wmu.Unlock()
	if abort {
		c.s.Abort()
	}
	return nil
}

var _ net.Conn = (*Conn)(nil)
