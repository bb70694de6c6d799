//go:build !js

package event

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/bridge"
)

// DefaultMaxPending is the default of Server.MaxPending.
const DefaultMaxPending = 1 << 20

// ErrServerClosed is returned by Serve once Shutdown or Close has been called.
var ErrServerClosed = errors.New("wsx: event server closed")

// A Server serves WebSocket connections in event mode. Set its fields before the first call
// to Serve and leave them alone afterwards. A Server may serve several listeners at once.
type Server struct {
	// Options are the settings of the opening handshake and of the connections, with the
	// meaning they have for wsx.AcceptConn: subprotocols, origin policy, compression, response
	// header fields, and ConnOptions's limits, timeouts and OnPing/OnPong hooks.
	// ConnOptions.ReadBufferSize and WriteBufferSize are not used (the workers read into
	// buffers of their own, and output goes to the socket from the caller's message), nor is
	// Group: Shutdown closes the server's connections. nil means the zero value.
	Options *wsx.AcceptOptions

	// TLSConfig, when set, serves wss://: every connection starts with a TLS handshake (see
	// the package documentation).
	TLSConfig *tls.Config

	// OnOpen is called when a connection has been upgraded, before any of its messages.
	OnOpen func(c *Conn)

	// OnMessage is called with each data message, whole. msg is valid only during the call:
	// it may lie in the worker's read buffer. The message's type is wsx.MessageText (valid
	// UTF-8) or wsx.MessageBinary.
	OnMessage func(c *Conn, typ wsx.MessageType, msg []byte)

	// OnClose is called once when a connection that was opened ends, with why: a
	// *wsx.CloseError for a closing handshake (Local says who started it; StatusAbnormalClosure
	// when the peer went away without one), a *wsx.ProtocolError when this end failed the
	// connection (the peer broke a rule, went past a limit, stalled, or did not read its
	// output), or an error wrapping net.ErrClosed after CloseNow or Close of the Server.
	OnClose func(c *Conn, err error)

	// Workers is the number of goroutines that run the connections' events, each with its
	// own epoll set; 0 means GOMAXPROCS.
	Workers int

	// MaxPending bounds the output waiting for one connection's socket, in bytes: a message
	// that would take it further fails the connection with wsx.StatusPolicyViolation (1008).
	// A connection with nothing pending takes a message of any size. 0 means
	// DefaultMaxPending. Output that makes no progress for ConnOptions.StallTimeout fails the
	// connection likewise.
	MaxPending int

	// HandshakeTimeout bounds the opening handshake, TLS included; 0 means
	// wsx.DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// ErrorLog receives what cannot be returned to anyone: a handler's panic, a failing
	// listener. nil means the log package's standard logger.
	ErrorLog *log.Logger

	initOnce sync.Once
	cfg      config
	loops    *loops // the epoll workers, where the platform has them

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	closing   bool           // Shutdown or Close was called
	live      int            // connections accepted and not released
	gone      chan struct{}  // closed when live drops to 0 during Shutdown
	served    map[*Conn]bool // connections of the goroutine driver
	acceptors map[*acceptor]struct{}
	gen       uint32         // connections accepted so far, for Conn.gen
	wg        sync.WaitGroup // the server's goroutines
	closeOnce sync.Once
}

// config is what the first Serve derives from the Server's fields.
type config struct {
	opts             *wsx.AcceptOptions
	limits           bridge.Limits
	handshakeTimeout time.Duration
	maxPending       int
	linger           time.Duration // how long a failed connection waits for its peer's end
	tick             time.Duration // how often the workers look at their timed connections
}

func (s *Server) init() {
	c := &s.cfg
	c.opts = s.Options
	if c.opts == nil {
		c.opts = new(wsx.AcceptOptions)
	}
	c.limits = bridge.ConnLimits(&c.opts.ConnOptions)
	c.handshakeTimeout = s.HandshakeTimeout
	if c.handshakeTimeout <= 0 {
		c.handshakeTimeout = wsx.DefaultHandshakeTimeout
	}
	c.maxPending = s.MaxPending
	if c.maxPending <= 0 {
		c.maxPending = DefaultMaxPending
	}
	c.linger = min(bridge.FailLinger, c.limits.CloseTimeout)
	// Timeouts fire within a tenth of the shortest of them late, at most 100 ms.
	shortest := min(c.handshakeTimeout, c.limits.CloseTimeout, c.linger)
	if c.limits.StallTimeout > 0 {
		shortest = min(shortest, c.limits.StallTimeout)
	}
	c.tick = min(max(shortest/10, time.Millisecond), 100*time.Millisecond)
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s.loops = newLoops(s, workers)
	s.acceptors = map[*acceptor]struct{}{}
}

// Serve accepts connections on ln and serves them until ln fails or the Server is closed; it
// returns ErrServerClosed after Shutdown or Close, else ln's error. On Linux a listener with a
// file descriptor (a *net.TCPListener or *net.UnixListener) is served by the epoll workers;
// any other listener, and every listener elsewhere, by a goroutine per connection.
func (s *Server) Serve(ln net.Listener) error {
	s.initOnce.Do(s.init)
	if !s.track(ln, true) {
		return ErrServerClosed
	}
	defer s.track(ln, false)
	var err error
	if s.loops == nil || !s.loops.serve(ln, &err) {
		err = s.serveGoroutines(ln)
	}
	if s.isClosing() {
		return ErrServerClosed
	}
	return err
}

// ListenAndServe listens on the TCP address addr and serves it.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// track adds ln to the listeners that Close closes, or removes it; it reports false when the
// Server is closed already.
func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closing {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// admit counts a new connection and returns its generation; it reports false once the Server
// is closing.
func (s *Server) admit() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return 0, false
	}
	s.live++
	s.gen++
	return s.gen, true
}

// released uncounts a connection whose socket is closed.
func (s *Server) released() {
	s.mu.Lock()
	s.live--
	if s.live == 0 && s.gone != nil {
		close(s.gone)
		s.gone = nil
	}
	s.mu.Unlock()
}

// Shutdown stops accepting connections, closes every open connection with
// wsx.StatusGoingAway (1001, §7.4.1) and waits until they are all closed, or until ctx is
// done: then it drops the rest as Close does and returns ctx's error. Connections in their
// opening handshake are dropped at once. It must not be called from a handler, whose worker
// it would wait for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.initOnce.Do(s.init)
	gone := s.stopAccepting()
	s.eachConn(taskGoingAway)
	var err error
	if gone != nil {
		select {
		case <-gone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.Close()
	return err
}

// Close stops accepting connections and closes every connection at once, without a closing
// handshake (the peers see 1006); OnClose is called for the open ones. It returns once the
// server's goroutines have ended, handlers in progress included, so it must not be called from
// a handler.
func (s *Server) Close() error {
	s.initOnce.Do(s.init)
	s.stopAccepting()
	s.eachConn(taskCloseNow)
	s.closeOnce.Do(func() {
		if s.loops != nil {
			s.loops.stop()
		}
	})
	s.wg.Wait()
	return nil
}

// stopAccepting closes the listeners and returns a channel closed when the last connection
// is released, or nil when there is none.
func (s *Server) stopAccepting() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for a := range s.acceptors {
		a.file.SetReadDeadline(aLongTimeAgo) // it sees the listener closed
	}
	if s.live == 0 {
		return nil
	}
	if s.gone == nil {
		s.gone = make(chan struct{})
	}
	return s.gone
}

// eachConn posts task to every connection.
func (s *Server) eachConn(task uint32) {
	if s.loops != nil {
		s.loops.each(func(c *Conn) { c.post(task) })
	}
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.served))
	for c := range s.served {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.post(task)
	}
}

// call runs a handler for c. A handler that panics has its connection closed, as net/http
// does with a request, instead of taking the worker, and the process, down.
func (s *Server) call(c *Conn, f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.logf("wsx: panic in an event handler: %v\n%s", r, debug.Stack())
			c.CloseNow()
		}
	}()
	f()
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
