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

// rawReader is the state of reads through syscall.RawConn.
type rawReader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // c.rawRead, bound once so that reads do not allocate
	n   int
	err error
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
