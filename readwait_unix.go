//go:build unix

package wsx

import (
	"io"
	"syscall"
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

// rawReader is the state of reads and writes through syscall.RawConn.
type rawReader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // c.rawRead, bound once so that reads do not allocate
	n   int
	err error

	// Writes, under frameLock.
	wfn  func(fd uintptr) bool // c.rawWrite, bound once
	wbuf []byte
	wn   int
	werr error
}

// initIdleRead sets up buffer-free waiting when nc is a socket and the read buffer is pooled.
func (c *Conn) initIdleRead() {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = &c.rawState
	c.raw.rc = rc
	c.raw.fn = c.rawRead
	c.raw.wfn = c.rawWrite
}

// write writes p to the connection, through RawConn.Write on a socket. The caller holds
// frameLock.
func (c *Conn) write(p []byte) (int, error) {
	r := c.raw
	if r == nil {
		return c.nc.Write(p)
	}
	r.wbuf, r.wn, r.werr = p, 0, nil
	err := r.rc.Write(r.wfn)
	r.wbuf = nil
	if err == nil {
		err = r.werr
	}
	return r.wn, err
}

// rawWrite is called by RawConn.Write: it writes what the socket takes, and asks to wait for
// room when it takes nothing more (EAGAIN).
func (c *Conn) rawWrite(fd uintptr) bool {
	r := c.raw
	for r.wn < len(r.wbuf) {
		n, err := syscall.Write(int(fd), r.wbuf[r.wn:])
		switch err {
		case nil:
			r.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werr = err
			return true
		}
	}
	return true
}

// fillIdle reads into an empty read buffer, taking the buffer from the pool only once the
// socket has data.
func (c *Conn) fillIdle() error {
	r := c.raw
	r.n, r.err = 0, nil
	err := r.rc.Read(r.fn)
	if err == nil {
		err = r.err
	}
	if r.n > 0 {
		c.rend = r.n
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	return c.ioError(err)
}

// rawRead is called by RawConn.Read: it reads what the socket has, or returns the buffer to
// the pool and asks to wait when it has nothing (EAGAIN).
func (c *Conn) rawRead(fd uintptr) bool {
	c.readBuffer()
	for {
		n, err := syscall.Read(int(fd), c.rbuf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.releaseReadBuffer()
			return false
		}
		if err != nil {
			n = 0
		}
		c.raw.n, c.raw.err = n, err
		return true
	}
}
