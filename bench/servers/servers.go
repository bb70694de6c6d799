// Package servers holds one WebSocket echo server per library under comparison, each written
// the way that library's README recommends for speed. A server echoes every data message back
// with the same type and payload.
package servers

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
)

// Options select per-run server settings.
type Options struct {
	// Deflate enables permessage-deflate (RFC 7692) on the server. Whether it is used still
	// depends on the client's offer.
	Deflate bool
}

// DeflateLevel is the compression level of every server that has a setting for it (wsx,
// gobwas, gorilla, gws, nbio; coder has none and always uses 1), so that permessage-deflate
// compares equal work. 1 is also the default of all of them.
const DeflateLevel = 1

// ReadLimit is the largest message the echo servers accept. Libraries whose default is lower
// (coder: 32 KiB) are raised to it so that every scenario fits.
const ReadLimit = 32 << 20

// Server is a running echo server.
type Server interface {
	// Close stops accepting and releases the server's resources. Connections already
	// upgraded may outlive it; they end when the client closes them.
	Close() error
}

// Lib describes one library.
type Lib struct {
	Name string
	// Serve starts an echo server on ln and returns at once; nil for a library that runs
	// the fan-out scenarios only.
	Serve func(ln net.Listener, o Options) (Server, error)
	// Fanout starts a fan-out server (fanout.go) on ln and returns at once; nil when the
	// library does not run the fan-out scenarios.
	Fanout func(ln net.Listener, o Options) (Server, error)
	// Deflate tells whether the server supports permessage-deflate in this benchmark;
	// DeflatePending, when set, tells why it does not yet.
	Deflate        bool
	DeflatePending string
	// Pending, when set, tells why the library cannot run yet.
	Pending string
	// Floor marks the bare floor (bare.go): no WebSocket library, but the least a
	// goroutine-per-connection server pays per message. It is reported beside the libraries,
	// never counted as a peer, and has no idle figure (its one buffer per connection is not
	// what a library would keep).
	Floor bool
	// EventLoop marks a server without a goroutine per connection (nbio's epoll engine).
	EventLoop bool
	// Variant, for another way to run wsx (wsx-http, wsx-cork), says what it is. Variants
	// are reported beside wsx, never counted as peers.
	Variant string
	// TLS tells that the server speaks TLS, with a self-signed certificate: only
	// the idle scenarios run against it.
	TLS bool
}

var libs = map[string]*Lib{}

func register(l *Lib) { libs[l.Name] = l }

// ErrUnknown is returned by Get for a library that is not registered.
var ErrUnknown = errors.New("servers: unknown library")

// Get returns the library called name.
func Get(name string) (*Lib, error) {
	l, ok := libs[name]
	if !ok {
		return nil, ErrUnknown
	}
	return l, nil
}

// Names returns the registered servers: wsx first, the peers in alphabetical order, then
// wsx's variants and the floor.
func Names() []string {
	var names []string
	for n := range libs {
		names = append(names, n)
	}
	rank := func(n string) int {
		switch {
		case n == "wsx":
			return 0
		case libs[n].Variant != "":
			return 2
		case libs[n].Floor:
			return 3
		}
		return 1
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// serveConns runs handle in a goroutine of its own for every connection that ln accepts, for
// the servers that take raw connections; closing ln stops it.
func serveConns(ln net.Listener, handle func(net.Conn)) (Server, error) {
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(nc)
		}
	}()
	return ln, nil
}

// httpServer serves h on ln with net/http, for the libraries that upgrade from a handler.
type httpServer struct{ s *http.Server }

func serveHTTP(ln net.Listener, h http.Handler) *httpServer {
	s := &http.Server{Handler: h}
	go s.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Close
	return &httpServer{s}
}

func (h *httpServer) Close() error { return h.s.Close() }

// appendAll reads r to EOF, appending to dst; it is how the servers built on io.Reader
// messages reuse one buffer per connection instead of allocating per message.
func appendAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
