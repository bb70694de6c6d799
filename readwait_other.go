//go:build !unix

package wsx

// rawReader is used on Unix only; elsewhere an idle connection keeps its read buffer.
type rawReader struct{}

func (c *Conn) initIdleRead() {}

func (c *Conn) fillIdle() error { panic("unreachable: no raw reader") }

func (c *Conn) write(p []byte) (int, error) { return c.nc.Write(p) }
