//go:build !js

package event

import "time"

// How a connection's bytes move depends on its driver: a socket in a worker's epoll set
// (fd), or a net.Conn read by a goroutine of its own (alt).

// aLongTimeAgo is a deadline in the past: setting it on what an owner waits for wakes it.
var aLongTimeAgo = time.Unix(1, 0)

// writeSocket writes a then b without blocking and returns how much the socket took; the
// caller holds mu.
func (c *Conn) writeSocket(a, b []byte) (int, error) {
	if c.alt != nil {
		return 0, nil // the goroutine driver's writer takes the output
	}
	return writeFD(c.fd, a, b)
}

// kick makes sure the pending output is on its way; the caller holds mu. Epoll reports room
// in the socket to the worker; the goroutine driver needs a goroutine to write.
func (c *Conn) kick() {
	if c.alt != nil {
		c.alt.kick(c)
	}
}

// closeSocket closes the connection's socket; the caller is the owner and holds mu.
func (c *Conn) closeSocket() {
	if c.alt != nil {
		c.alt.nc.Close()
		return
	}
	c.closeFD()
}

// shutdownWrite shuts the sending half of the socket, so that the peer reads the end of the
// stream after our last bytes; the caller is the owner.
func (c *Conn) shutdownWrite() {
	if c.alt != nil {
		if cw, ok := c.alt.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		return
	}
	c.shutdownFD()
}

// wake hands c to its owner to run the tasks posted to it.
func (c *Conn) wake() {
	if c.alt != nil {
		c.alt.wake()
		return
	}
	c.srv.loops.workerOf(c).enqueue(c)
}

// watch makes the owner bound c's waits in time; the caller is the owner.
func (c *Conn) watch() {
	if c.alt == nil {
		c.watchFD()
	} // the goroutine driver sets its deadlines from the waits each time it reads
}

// adopt starts a connection that was just accepted; the caller is its owner.
func (c *Conn) adopt() {
	if c.alt == nil && !c.adoptSocket() {
		c.release()
		return
	}
	c.startHandshake()
}

// input runs bytes read from the socket through the connection: to the TLS handshake, to
// TLS, or straight in.
func (c *Conn) input(p []byte) {
	switch {
	case c.phase == phTLS:
		c.tls.feed(c, p)
	case c.tls != nil:
		c.tls.receive(c, p)
	default:
		c.receive(p)
	}
}

// plain returns the buffer TLS records are decrypted into; the caller is the owner.
func (c *Conn) plain() []byte {
	if c.alt != nil {
		return c.alt.plain
	}
	return c.plainFD()
}
