//go:build !js

package event

import (
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/bridge"
	"github.com/wsx-go/wsx/internal/engine"
)

// receive takes bytes the peer sent (decrypted, with TLS); the caller is the owner. p is
// valid during the call only, and may be modified (payload is unmasked in place).
func (c *Conn) receive(p []byte) {
	switch c.phase {
	case phUpgrade:
		c.upgrade(p)
	case phOpen, phClosing:
		c.frames(p)
	case phDrain:
		in := c.state()
		if in.drained += int64(len(p)); in.drained > bridge.FailLingerBytes {
			c.release()
		}
	}
}

// frames runs the engine over p and acts on what it finds: messages go to OnMessage, pings
// are answered, the peer's Close completes the closing handshake, a broken rule fails the
// connection.
func (c *Conn) frames(p []byte) {
	in := c.receiving()
	for c.phase == phOpen || c.phase == phClosing {
		var room []byte
		if in.msg != nil {
			room = in.msg[len(in.msg):cap(in.msg)]
		}
		ev, nin, nout := in.rx.Next(p, room)
		p = p[nin:]
		if in.msg != nil {
			in.msg = in.msg[:len(in.msg)+nout]
		}
		switch ev.Kind {
		case engine.NeedInput:
			c.idleOrWait(in)
			return
		case engine.MessageStart:
			in.typ = wsx.MessageType(ev.Opcode)
			if d := in.rx.Direct(); d > 0 && d <= int64(len(p)) && in.rx.Final() {
				// The whole message is in p: hand it over from there.
				msg := p[:d]
				p = p[d:]
				if e := in.rx.Payload(msg); e != nil {
					c.fail(e)
					return
				}
				if ev, _, _ = in.rx.Next(p, nil); ev.Kind != engine.MessageEnd {
					c.control(ev, &in.rx) // the failure of a text message cut inside a code point
					return
				}
				c.deliver(in.typ, msg)
				continue
			}
			if !c.grow(in) {
				return
			}
		case engine.OutputFull:
			if !c.grow(in) {
				return
			}
		case engine.MessageEnd:
			msg := in.msg
			if msg == nil {
				msg = p[:0] // an empty message
			}
			c.deliver(in.typ, msg)
			in.dropMessage()
		default:
			c.control(ev, &in.rx)
		}
	}
}

// directRoom returns room in the message being assembled that the next read may fill
// straight, sparing a copy: when what is left of the current frame's payload is at least a
// read buffer's worth (size) and needs no inflating. It returns nil when the next bytes must
// go through the read buffer.
func (c *Conn) directRoom(size int) []byte {
	in := c.in
	if in == nil || c.tls != nil || in.msg == nil || c.phase != phOpen && c.phase != phClosing {
		return nil
	}
	d := in.rx.Direct()
	if d < int64(size) {
		return nil
	}
	if cap(in.msg)-len(in.msg) < size && !c.grow(in) {
		return nil
	}
	return in.msg[len(in.msg):cap(in.msg)][:min(int64(cap(in.msg)-len(in.msg)), d)]
}

// direct takes the n bytes a read put in the room directRoom returned: the engine unmasks and
// checks them in place, and the message goes on.
func (c *Conn) direct(n int) {
	in := c.in
	p := in.msg[len(in.msg) : len(in.msg)+n]
	if err := in.rx.Payload(p); err != nil {
		c.fail(err)
		return
	}
	in.msg = in.msg[:len(in.msg)+n]
	c.frames(nil) // the end of the frame or message, if it came
}

// receiving returns the input state with the engine ready: an idle connection's engine is
// set up afresh from the connection's settings.
func (c *Conn) receiving() *input {
	idle := c.in == nil || c.in.rxLimit == 0
	in := c.state()
	limit := c.limit.Load()
	if limit == 0 {
		limit = c.srv.cfg.limits.ReadLimit
	}
	if idle {
		cfg := engine.Config{ReadLimit: limit, MaxFragments: c.srv.cfg.limits.MaxFragments}
		if c.ext != nil {
			cfg.Inflater = c.ext.inflater
		}
		in.rx.Init(cfg)
		in.rxLimit = limit
	} else if limit != in.rxLimit {
		in.rx.SetReadLimit(limit)
		in.rxLimit = limit
	}
	return in
}

// idleOrWait parks an idle connection's input state after the input ran out, or bounds the
// wait for the rest of a frame or message by StallTimeout (a peer must not hold a half-sent
// message's memory forever).
func (c *Conn) idleOrWait(in *input) {
	if in.rx.Idle() && in.msg == nil {
		if c.phase == phOpen {
			in.due = time.Time{}
			in.rxLimit = 0 // set up afresh when bytes come
			c.park()
		}
		return
	}
	if d := c.srv.cfg.limits.StallTimeout; d > 0 && c.phase == phOpen {
		c.wait(d)
	}
}

// deliver hands a message to OnMessage.
func (c *Conn) deliver(typ wsx.MessageType, msg []byte) {
	if h := c.srv.OnMessage; h != nil && c.pend.Load()&taskCloseNow == 0 {
		c.srv.call(c, func() { h(c, typ, msg) })
	}
}

// grow makes room for more of the message being assembled, from the buffer pools, within the
// read limit and the process's message memory budget; it reports false when it failed the
// connection instead.
func (c *Conn) grow(in *input) bool {
	size := len(in.msg)
	more := max(size, 512)
	doubling := true
	if d := in.rx.Direct(); d > 0 && d < int64(more) {
		more, doubling = int(d), false // the frame's rest fits: that much and no more
	}
	if in.rxLimit > 0 && int64(more) > max(in.rxLimit-int64(size), 0)+1 {
		// Never room past the limit: one byte more lets a compressed message that ends right
		// at the limit finish.
		more, doubling = int(max(in.rxLimit-int64(size), 0)+1), false
	}
	if doubling && in.rxLimit > 0 && int64(bufferSize(size+more)) > in.rxLimit+1 {
		doubling = false // a pooled power of two would go past the limit
	}
	var b []byte
	if doubling {
		b = getBuffer(size + more) // a power of two, from a pool
	} else {
		b = messageBuffer(size + more) // what the message needs
	}
	if !bridge.ReserveMessageMemory(int64(cap(b) - cap(in.msg))) {
		putBuffer(b)
		c.failWith(bridge.ErrMessageMemory.(*wsx.ProtocolError))
		return false
	}
	in.charged += int64(cap(b) - cap(in.msg))
	b = append(b, in.msg...)
	if in.msg != nil {
		putBuffer(in.msg)
	}
	in.msg = b
	return true
}

// dropMessage gives the message buffer back, and its memory to the budget.
func (in *input) dropMessage() {
	if in.msg != nil {
		putBuffer(in.msg)
		in.msg = nil
	}
	if in.charged != 0 {
		bridge.ReleaseMessageMemory(in.charged)
		in.charged = 0
	}
}

// control acts on an event of rx other than message data: the peer's Ping (answered with a
// Pong), Pong and Close, or a rule it broke.
func (c *Conn) control(ev engine.Event, rx *engine.Receiver) {
	opts := &c.srv.cfg.opts.ConnOptions
	switch ev.Kind {
	case engine.Ping:
		c.pong(rx.Control())
		if opts.OnPing != nil {
			c.srv.call(c, func() { opts.OnPing(rx.Control()) })
		}
	case engine.Pong:
		if opts.OnPong != nil {
			c.srv.call(c, func() { opts.OnPong(rx.Control()) })
		}
	case engine.Close:
		c.peerClosed(ev.Code, rx.Control())
	case engine.Failed:
		c.fail(rx.Err())
	}
}
