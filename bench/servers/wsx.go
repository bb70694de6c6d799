package servers

import (
	"context"
	"net"
	"net/http"

	"github.com/wsx-go/wsx"
)

func init() {
	register(&Lib{Name: "wsx", Serve: serveWsx, Deflate: true, Fanout: fanoutWsx})
	register(&Lib{Name: "wsx-http", Serve: serveWsxHTTP, Deflate: true, Variant: "Accept behind net/http"})
}

// wsxOptions are the options of both wsx servers.
func wsxOptions(o Options) *wsx.AcceptOptions {
	opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: ReadLimit}}
	if o.Deflate {
		opts.Compression = &wsx.CompressionOptions{Level: DeflateLevel}
	}
	return opts
}

// serveWsx uses wsx as its documentation recommends for speed on a port that serves only
// WebSockets (ExampleAcceptConn): AcceptConn on the raw accepted connection (no net/http), and
// the read loop in a goroutine of its own, which starts with a small stack instead of keeping
// the one the handshake grew. Like the gobwas server, it gives the handshake no deadline.
func serveWsx(ln net.Listener, o Options) (Server, error) {
	return serveWsxConns(ln, o, nil)
}

// serveWsxConns runs serveWsx's accept loop, handing AcceptConn what wrap makes of each
// accepted connection (nil: the connection itself).
func serveWsxConns(ln net.Listener, o Options, wrap func(net.Conn) net.Conn) (Server, error) {
	return acceptWsx(ln, wsxOptions(o), wrap, wsxEcho)
}

// acceptWsx accepts connections on ln with AcceptConn, on what wrap makes of each if wrap is
// not nil, and runs serve on each upgraded connection in a goroutine of its own
// (ExampleAcceptConn), until ln is closed.
func acceptWsx(ln net.Listener, opts *wsx.AcceptOptions, wrap func(net.Conn) net.Conn, serve func(*wsx.Conn)) (Server, error) {
	return serveConns(ln, func(nc net.Conn) {
		if wrap != nil {
			nc = wrap(nc)
		}
		c, err := wsx.AcceptConn(context.Background(), nc, opts)
		if err != nil {
			return
		}
		go serve(c)
	})
}

// serveWsxHTTP is wsx behind net/http, for a port that serves HTTP too: Accept in a handler,
// whose goroutine runs the read loop (and keeps net/http's per-connection state alive).
func serveWsxHTTP(ln net.Listener, o Options) (Server, error) {
	opts := wsxOptions(o)
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, opts)
		if err != nil {
			return
		}
		wsxEcho(c)
	})), nil
}

// wsxEcho echoes with ReadMessage appending into one reused buffer, and Write.
// wsxEcho is the echo loop as wsx's README writes it, and as TestIdleStackStaysSmall runs it:
// Write called from the loop itself. Through wsxEach's callback, one frame deeper, the write
// path no longer fits the 2 KiB stack a goroutine starts with, and every idle connection
// keeps the 4 KiB stack it grew to (idle10k: 7.5 KB of RSS per connection instead of 5.4).
func wsxEcho(c *wsx.Conn) {
	defer c.CloseNow()
	ctx := context.Background()
	var buf []byte
	for {
		typ, p, err := c.ReadMessage(ctx, buf[:0])
		if err != nil {
			return
		}
		buf = p
		if err := c.Write(ctx, typ, buf); err != nil {
			return
		}
	}
}

// wsxEach reads c's messages with ReadMessage appending into one reused buffer and hands each
// to f, until a read or f fails; it then closes c.
func wsxEach(c *wsx.Conn, f func(ctx context.Context, typ wsx.MessageType, p []byte) error) {
	defer c.CloseNow()
	ctx := context.Background()
	var buf []byte
	for {
		typ, p, err := c.ReadMessage(ctx, buf[:0])
		if err != nil {
			return
		}
		buf = p
		if err := f(ctx, typ, buf); err != nil {
			return
		}
	}
}
