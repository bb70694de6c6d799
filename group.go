//go:build !js

package wsx

import (
	"context"
	"sync"
)

// A Group is a set of live connections that can be closed together, as when a server shuts
// down. Give it to Accept through AcceptOptions.Group; connections leave it when they close.
// The zero value is ready to use.
//
//	var conns wsx.Group
//	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
//		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{Group: &conns})
//		...
//	})
//	...
//	srv.Shutdown(ctx)   // stops new requests; hijacked connections are not its business
//	conns.Shutdown(ctx) // every WebSocket gets Close 1001 (going away)
type Group struct {
	mu       sync.Mutex
	conns    map[*Conn]struct{}
	shutdown bool
	empty    chan struct{} // closed when the set becomes empty during Shutdown
}

// add puts c in the group; it reports false once the group is shutting down.
func (g *Group) add(c *Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return false
	}
	if g.conns == nil {
		g.conns = make(map[*Conn]struct{})
	}
	g.conns[c] = struct{}{}
	rs := c.rare()
	c.mu.Lock()
	rs.watcher = g
	c.mu.Unlock()
	return true
}

// closing reports whether Shutdown has been called.
func (g *Group) closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shutdown
}

// connClosed takes c out of the group when its transport closes.
func (g *Group) connClosed(c *Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	if len(g.conns) == 0 && g.empty != nil {
		close(g.empty)
		g.empty = nil
	}
	g.mu.Unlock()
}

// Len returns the number of live connections in the group.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Shutdown refuses new connections (Accept answers 503 Service Unavailable), closes every
// connection in the group with StatusGoingAway (1001, §7.4.1), and waits until they are all
// closed or ctx is done, when it drops the rest without a handshake and returns ctx's error.
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.shutdown = true
	conns := make([]*Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	var empty chan struct{}
	if len(g.conns) > 0 {
		empty = make(chan struct{})
		g.empty = empty
	}
	g.mu.Unlock()
	for _, c := range conns {
		go c.Close(StatusGoingAway, "server shutting down")
	}
	if empty == nil {
		return nil
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.CloseNow()
		}
		return ctx.Err()
	}
}
