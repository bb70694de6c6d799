//go:build !js

package event

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// The goroutine driver serves a connection without epoll: where the platform has none, or
// when the listener has no file descriptor. A goroutine per connection reads and runs its
// events, with the same handlers, limits and policies; another writes while output is
// pending, with StallTimeout as its write deadline. It costs what wsx's goroutine mode costs
// per connection and exists so that the same program runs everywhere.

// goLink is the goroutine driver's state of a connection.
type goLink struct {
	nc       net.Conn
	plain    []byte // TLS plaintext
	writing  bool   // under Conn.mu: a goroutine is writing the output
	inflight int    // under Conn.mu: bytes it is writing
	woken    chan struct{}
}

// serveGoroutines accepts on ln until it fails, with a goroutine for each connection.
func (s *Server) serveGoroutines(ln net.Listener) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			// As net/http does: out of descriptors (EMFILE) and the like pass.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("wsx: event server: accept: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		gen, ok := s.admit()
		if !ok {
			nc.Close()
			continue
		}
		c := &Conn{srv: s, gen: gen, alt: &goLink{nc: nc, woken: make(chan struct{}, 1)}}
		if s.TLSConfig != nil {
			c.alt.plain = make([]byte, 16<<10)
		}
		s.mu.Lock()
		if s.served == nil {
			s.served = map[*Conn]bool{}
		}
		s.served[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go c.alt.run(c)
	}
}

// run reads the connection and runs its events until it is released. Once the peer closed
// its end, it only waits for the tasks that end the connection.
func (g *goLink) run(c *Conn) {
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.served, c)
		c.srv.mu.Unlock()
		c.srv.wg.Done()
	}()
	buf := make([]byte, 16<<10)
	c.adopt()
	eof := false
	for {
		c.runTasks()
		if c.phase == phReleased {
			return
		}
		var due time.Time
		if c.in != nil {
			due = c.in.due
		}
		if eof {
			g.sleep(c, due)
			continue
		}
		g.nc.SetReadDeadline(due)
		if c.pend.Load() != 0 {
			continue
		}
		n, err := g.nc.Read(buf)
		if n > 0 {
			c.input(buf[:n])
		}
		switch {
		case err == nil || c.phase == phReleased:
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.expire(time.Now()) // or woken by wake
		case err == io.EOF:
			eof = true
			c.eof(nil)
		default:
			c.eof(err)
		}
	}
}

// sleep waits for a task or for due.
func (g *goLink) sleep(c *Conn, due time.Time) {
	var expired <-chan time.Time
	if !due.IsZero() {
		t := time.NewTimer(time.Until(due))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-g.woken:
	case <-expired:
		c.expire(time.Now())
	}
}

// wake interrupts the goroutine's read or sleep, so that it runs the tasks posted to the
// connection.
func (g *goLink) wake() {
	g.nc.SetReadDeadline(aLongTimeAgo)
	select {
	case g.woken <- struct{}{}:
	default:
	}
}

// kick starts a goroutine that writes the pending output; the caller holds Conn.mu.
func (g *goLink) kick(c *Conn) {
	if g.writing || c.out == nil {
		return
	}
	g.writing = true
	c.srv.wg.Add(1)
	go g.write(c)
}

// write writes the pending output until there is none, each write bounded by StallTimeout.
// It takes the output over while it writes, so that writers queue behind it meanwhile.
func (g *goLink) write(c *Conn) {
	defer c.srv.wg.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	stall := c.srv.cfg.limits.StallTimeout
	for c.out != nil && c.wflag&outGone == 0 {
		o := c.out
		c.out = nil
		g.inflight = len(o.buf) - o.off
		c.mu.Unlock()
		var dl time.Time
		if stall > 0 {
			dl = time.Now().Add(stall)
		}
		g.nc.SetWriteDeadline(dl)
		_, err := g.nc.Write(o.buf[o.off:])
		o.free()
		c.mu.Lock()
		g.inflight = 0
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.post(taskStalled)
		default:
			c.writeFailed(err)
		}
		if err != nil {
			break
		}
		if c.out == nil && c.wflag&outShut != 0 {
			c.post(taskFlushed)
		}
	}
	g.writing = false
}
