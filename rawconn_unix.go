//go:build unix

package wsx

import (
	"io"
	"net"
	"syscall"
	"time"
)

// An idle connection spends its life waiting for the peer's next frame. On a TCP socket wsx
// waits through syscall.RawConn without holding a read buffer: the buffer comes from a pool when
// data arrives and goes back when the socket has nothing more, so thousands of idle connections
// cost no read buffers at all.
//
// Both directions go through syscall.RawConn for a second reason: its call chain down to the
// system call is shallower than net.Conn's, and a goroutine whose frames never take more than
// about 1.1 KiB keeps the 2 KiB stack it started with. The GC halves a stack only when less
// than a quarter of it is in use (with an 800-byte guard), so a goroutine parked in the poller
// never shrinks from 4 KiB back to 2 KiB: it must not grow at all. Waiting for data at the top
// of ReadMessage (read.go) and writing frames through RawConn.Write keeps an echo loop started
// in a goroutine of its own within that, which halves the stack of an idle connection.
//
// The callbacks are also where the stall bound (ConnOptions.StallTimeout) is armed: only when
// the socket has nothing to read, or no room to write, and only until the next progress, so
// that I/O that does not wait costs no deadline.

// rawConn is what a Conn keeps for reads and writes through syscall.RawConn.
type rawConn struct {
	rc syscall.RawConn // nil when the transport is not a socket

	// Reads, under the read lock.
	rfn  func(fd uintptr) bool // c.rawRead, bound by the first read so that reads do not allocate
	rn   int32                 // what the read got (at most a read buffer), -1 for no buffer
	rerr uint32                // the errno of the last read (uint32 rather than syscall.Errno keeps a Conn small)
}

// rawWrites is the state of the write in progress through syscall.RawConn, in the sending
// side's working state (sendState), under frameLock.
type rawWrites struct {
	fn      func(fd uintptr) bool // the state's rawWrite, bound once for the state's life
	buf     []byte                // what write writes
	bufs    *net.Buffers          // or what writev writes, consumed as it goes out
	n       int                   // bytes written
	bound   int64                 // a deadline (Unix nanoseconds) for every wait of the writes that follow
	err     uint32                // the errno of the write
	stalled bool                  // the write waited: its wait's bounds are armed
}

func (r *rawConn) ok() bool { return r.rc != nil }

// bindRaw binds the state's write callback, once for its life.
func (s *sendState) bindRaw() { s.raw.fn = s.rawWrite }

// initRaw sets up raw I/O when nc is a socket.
func (c *Conn) initRaw() {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.raw.rc = rc
	// The callbacks are bound when their direction is first used, not here: a handshake
	// costs two allocations less, and a connection that only reads or only writes pays for
	// one callback.
}

// write writes p to the connection, through RawConn.Write on a socket. The caller holds
// frameLock.
func (c *Conn) write(p []byte) (int, error) {
	if c.raw.rc == nil {
		return c.writeConn(p)
	}
	c.w.raw.buf = p
	n, err := c.writeRaw()
	return int(n), err
}

// writev writes the buffers, consuming them as net.Buffers.WriteTo does; the caller holds
// frameLock. On a socket a writev system call takes as much as the socket has room for, however
// large the frames: the stall bound is armed only while a write waits for room (rawWrite), so a
// large frame needs no pieces (writevConn). More buffers than one raw writev takes (many
// prepared or coalesced frames, small ones mostly) go through net.Conn's writev, which takes
// up to 1,024 at once.
func (c *Conn) writev(bufs *net.Buffers) (int64, error) {
	if c.raw.rc == nil || len(*bufs) > maxIovecs {
		return c.writevConn(bufs)
	}
	c.w.raw.bufs = bufs
	return c.writeRaw()
}

// writeRaw writes w.raw.buf or w.raw.bufs through RawConn.Write.
func (c *Conn) writeRaw() (int64, error) {
	r := &c.w.raw
	c.w.dl.settle()
	r.n, r.err = 0, 0
	err := c.raw.rc.Write(r.fn)
	r.buf, r.bufs = nil, nil
	n := int64(r.n)
	c.wrote(n)
	if r.stalled {
		if err != nil {
			err = c.writeFailed(n, err)
		}
		r.stalled = false
		c.w.dl.disarmStall()
	}
	if err == nil && r.err != 0 {
		err = syscall.Errno(r.err)
	}
	return n, err
}

// boundWrites bounds the writes that follow by deadline, until the zero deadline lifts the
// bound. On a socket the deadline is set only if a write has to wait: setting one costs a
// timer, and a deeper call chain under the reading goroutine's Pong than its 2 KiB stack has
// room for.
func (c *Conn) boundWrites(deadline time.Time) {
	if c.raw.rc != nil {
		c.w.raw.bound = unixNano(deadline)
	} else {
		// The zero deadline too: a bound left behind would cut short a write made later
		// outside a call's context (held frames flushed by the reading side).
		c.w.dl.setAt(deadline)
	}
}

// rawWrite is called by RawConn.Write: it writes what the socket takes, and asks to wait for
// room when it takes nothing more (EAGAIN), bounding the wait by the stall timeout.
func (s *sendState) rawWrite(fd uintptr) bool {
	r := &s.raw
	for r.n < len(r.buf) || r.bufs != nil && len(*r.bufs) > 0 {
		var n int
		var err error
		if r.bufs != nil {
			n, err = writevFD(int(fd), *r.bufs)
			if err == nil {
				consume(r.bufs, n)
			}
		} else {
			n, err = syscall.Write(int(fd), r.buf[r.n:])
		}
		switch err {
		case nil:
			r.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			// The wait, and only the wait, is bounded by the control frame's deadline and
			// the stall timeout; progress lifts both (write).
			s.dl.armWait(r.bound, s.stalledSince, s.c.opts.stallTimeout)
			r.stalled = true
			return false
		default:
			r.err = uint32(err.(syscall.Errno))
			return true
		}
	}
	return true
}

// fillRaw reads into an empty read buffer, taking the buffer from the pool only once the
// socket has data. While the socket has none, the reading side's working state goes back to its
// pool too, if it holds nothing (parkRead), and comes back with the data.
func (c *Conn) fillRaw() error {
	r := &c.raw
	r.rn, r.rerr = 0, 0
	c.progressed() // a bound a read through net.Conn left (input) must not cut this one short
	if r.rfn == nil {
		r.rfn = c.rawRead
	}
	err := r.rc.Read(r.rfn)
	for err == nil && r.rn < 0 {
		// The pool had no buffer or state: make them here, where the stack has room for
		// the allocator, and read again.
		c.attachRead()
		c.readBuffer()
		r.rn = 0
		err = r.rc.Read(r.rfn)
	}
	c.attachRead() // a wait that ended without data (a deadline, a close) left it parked
	if r.rn > 0 {
		c.r.end = int(r.rn)
		c.progressed()
		return nil
	}
	if err == nil && r.rerr != 0 {
		err = syscall.Errno(r.rerr)
	}
	if err == nil {
		err = io.EOF
	}
	err = c.ioError(err) // while the stall bound is armed, so that it is recognised
	c.progressed()
	return err
}

// rawRead is called by RawConn.Read: it reads what the socket has, or returns the buffer to
// the pool and asks to wait when it has nothing (EAGAIN), bounding the wait by the stall
// timeout when the peer owes us the rest of a frame.
func (c *Conn) rawRead(fd uintptr) bool {
	if !c.attachPooledRead() || !c.pooledReadBuffer() {
		c.raw.rn = -1 // fillRaw makes them
		return true
	}
	for {
		n, err := syscall.Read(int(fd), c.r.buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.releaseReadBuffer()
			// armReadStall's arming, called from here directly: see the stack note above.
			if d := c.owedStall(); d > 0 && !c.r.stalling {
				c.r.dl.armStall(0, d)
				c.r.stalling = true
			}
			c.parkRead()
			return false
		}
		c.raw.rn, c.raw.rerr = int32(n), 0
		if err != nil {
			c.raw.rn, c.raw.rerr = 0, uint32(err.(syscall.Errno))
		}
		c.readBusy = n == len(c.r.buf) || (c.readBusy && n > DefaultReadBufferSize)
		return true
	}
}

// consume drops the first n bytes of bufs, as net.Buffers.WriteTo does with what it wrote.
func consume(bufs *net.Buffers, n int) {
	for len(*bufs) > 0 {
		b := (*bufs)[0]
		if n < len(b) {
			(*bufs)[0] = b[n:]
			return
		}
		n -= len(b)
		(*bufs)[0] = nil
		*bufs = (*bufs)[1:]
	}
}
