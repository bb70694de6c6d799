//go:build !js

package wsx

import (
	"context"
	"net"
	"net/http"
	"net/url"

	"github.com/wsx-go/wsx/internal/memconn"
)

// pipeBuffer is what each direction of a Pipe holds before a Write blocks, as a socket's
// buffer would.
const pipeBuffer = 64 << 10

// pipeURL is the URL the client end of a Pipe dials: its host is the Host of the handshake
// request, against which AcceptConn checks a client's Origin.
const pipeURL = "ws://wsx.pipe/"

// Pipe returns two connected Conns held in memory, for tests: client, as Dial returns it with
// dialOpts, and server, as AcceptConn returns it with acceptOpts. Either options may be nil.
//
// The real opening handshake runs between them, so subprotocols, permessage-deflate, origin
// checks, limits and every ConnOptions setting are negotiated and applied as over TCP. The
// bytes go through an in-memory connection instead of a socket: buffered in each direction
// (64 KiB, so that both ends can write at once, as in a closing handshake), with deadlines, so
// that contexts, timeouts and the closing handshake behave as they do on the network. Nothing
// listens, nothing is dialed, and a test runs the same every time.
//
// The client dials "ws://wsx.pipe/": a client Origin is same-origin only for that host.
// dialOpts' NetDialContext, Proxy and TLSConfig are not used. When the handshake fails (the
// server refuses, or the options contradict each other), Pipe returns the server's error if it
// refused, the client's otherwise, and no Conn.
func Pipe(dialOpts *DialOptions, acceptOpts *AcceptOptions) (client, server *Conn, err error) {
	cnc, snc := memconn.Pair("client", "server", pipeBuffer)
	var opts DialOptions
	if dialOpts != nil {
		opts = *dialOpts
	}
	opts.NetDialContext = func(context.Context, string, string) (net.Conn, error) { return cnc, nil }
	opts.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	opts.TLSConfig = nil

	type accepted struct {
		c   *Conn
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		c, err := AcceptConn(context.Background(), snc, acceptOpts)
		done <- accepted{c, err}
	}()
	client, _, err = Dial(context.Background(), pipeURL, &opts)
	if err != nil {
		cnc.Close() // Dial may have failed before it dialed: the server must not wait for it
	}
	a := <-done
	if a.err == nil && err == nil {
		return client, a.c, nil
	}
	if client != nil {
		client.CloseNow()
	}
	if a.c != nil {
		a.c.CloseNow()
	}
	if _, refused := a.err.(*refusal); refused || err == nil {
		return nil, nil, a.err
	}
	return nil, nil, err
}
