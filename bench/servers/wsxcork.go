package servers

import "net"

func init() {
	register(&Lib{Name: "wsx-cork", Serve: serveWsxCork, Deflate: true,
		Variant: "wsx with writes held until its next read"})
}

// serveWsxCork measures what write coalescing would save before wsx has it: the wsx server
// (AcceptConn, ReadMessage, Write) on a connection whose writes are held in a buffer until
// wsx next reads from the socket, which it does only when it has parsed every frame already
// read. Echoes of messages that arrived together then leave together, in one write.
//
// It is a measuring device, not a way to use wsx: the held bytes belong to one goroutine (the
// echo loop both reads and writes), and the wrapper hides the socket from wsx, so wsx reads
// and writes through net.Conn instead of syscall.RawConn.
func serveWsxCork(ln net.Listener, o Options) (Server, error) {
	return serveWsxConns(ln, o, func(nc net.Conn) net.Conn { return &corkConn{Conn: nc} })
}

// corkConn holds writes until the next Read, or until 64 KiB are held.
type corkConn struct {
	net.Conn
	held []byte
}

const corkLimit = 64 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	if len(c.held)+len(p) <= corkLimit {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *corkConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *corkConn) flush() error {
	if len(c.held) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.held)
	c.held = c.held[:0]
	return err
}
