//go:build !js

package event

import (
	"time"

	"github.com/wsx-go/wsx/internal/bridge"
)

// startHandshake bounds the opening handshake of a new connection by HandshakeTimeout; with
// TLS, the TLS handshake begins.
func (c *Conn) startHandshake() {
	c.wait(c.srv.cfg.handshakeTimeout)
	if c.srv.TLSConfig != nil {
		c.phase = phTLS
		c.startTLS()
		return
	}
	c.phase = phUpgrade
}

// upgrade takes the bytes of the opening handshake's request: it answers the request once its
// head is complete, by wsx.AcceptConn's rules (RFC 6455 §4.2), and opens the connection, or
// refuses it. A head that arrives in pieces is kept until it is whole, within
// HandshakeTimeout and AcceptConn's size limits; a worker never waits for it.
func (c *Conn) upgrade(p []byte) {
	in := c.state()
	b := p
	if in.head != nil {
		in.head = append(in.head, p...)
		b = in.head
	}
	resp := getBuffer(512)
	a, n, out, err := bridge.AcceptBytes(b, c.srv.cfg.opts, resp)
	switch {
	case err == bridge.ErrIncomplete:
		putBuffer(resp)
		if in.head == nil {
			in.head = append(make([]byte, 0, 2*len(p)), p...)
		}
		return
	case err != nil:
		// Refused: the refusal goes out, then the connection ends as a failed one does.
		c.mu.Lock()
		c.send(out, nil)
		c.wflag |= outShut
		c.mu.Unlock()
		putBuffer(out)
		in.head = nil
		c.drain()
		return
	}
	c.mu.Lock()
	c.tx.Init(a.Sender)
	c.wflag |= outOpen
	err = c.send(out, nil)
	c.mu.Unlock()
	putBuffer(out)
	if err != nil {
		c.release()
		return
	}
	if a.Subprotocol != "" || a.Extensions != "" || a.Receiver.Inflater != nil {
		c.ext = &extras{subprotocol: a.Subprotocol, extensions: a.Extensions, inflater: a.Receiver.Inflater}
	}
	c.phase = phOpen
	in.due = time.Time{}
	c.opened = true
	if h := c.srv.OnOpen; h != nil {
		c.srv.call(c, func() { h(c) })
	}
	// Frames the client sent right behind its request.
	rest := b[n:]
	c.frames(rest)
	if c.in != nil {
		c.in.head = nil
	}
	c.park()
}
