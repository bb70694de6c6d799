//go:build !unix && !js

package wsx

import (
	"net"
	"time"
)

// rawConn is used on Unix only; elsewhere an idle connection keeps its read buffer.
type rawConn struct{}

// rawWrites is the state of raw writes, of which there are none here.
type rawWrites struct {
	fn    func(fd uintptr) bool
	bound int64
}

func (s *sendState) bindRaw() {}

func (rawConn) ok() bool { return false }

func (c *Conn) initRaw() {}

func (c *Conn) fillRaw() error { panic("unreachable: no raw connection") }

func (c *Conn) write(p []byte) (int, error) { return c.writeConn(p) }

func (c *Conn) writev(bufs *net.Buffers) (int64, error) { return c.writevConn(bufs) }

func (c *Conn) boundWrites(deadline time.Time) {
	c.w.dl.setAt(deadline) // the zero deadline too: see rawconn_unix.go
}
