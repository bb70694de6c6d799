package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/httphead"
)

// What every server the command starts (serve, proxy, bridge) shares: where it listens, and
// the timeouts that keep a client from holding a connection, a goroutine or memory forever.

// Defaults of the server timeouts, stated in each server's --help and in the README.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	defaultIdleTimeout       = 60 * time.Second
)

// maxRequestHead bounds the request head a server reads: AcceptConn's own limit, shared with
// the library (a larger handshake gets 431 Request Header Fields Too Large, RFC 6585 §5),
// and net/http's MaxHeaderBytes for plain HTTP requests.
const maxRequestHead = httphead.MaxRequestHead

// serverTimeouts bound what a client can hold of a server.
type serverTimeouts struct {
	// readHeader bounds the time from accepting a connection (or the end of the previous
	// HTTP request on it) to the end of the request head: a silent or slow client
	// (slowloris) is disconnected after it.
	readHeader time.Duration
	// write bounds each write to a client: a WebSocket message, or a whole HTTP response.
	// A client that stops reading is disconnected after it instead of holding a goroutine
	// and its unsent data forever.
	write time.Duration
	// idle bounds how long an HTTP keep-alive connection waits for its next request.
	idle time.Duration
}

func (t *serverTimeouts) addFlags(f *flags) {
	f.DurationVar(&t.readHeader, "read-header-timeout", defaultReadHeaderTimeout, "close a connection whose request head has not arrived `duration` after it\nopened (or after its previous request)")
	f.DurationVar(&t.write, "write-timeout", defaultWriteTimeout, "close a connection when a message (or an HTTP response) to the client has not\ngone out `duration` after it began (a quarter more at most): a client that\nstopped reading")
	f.DurationVar(&t.idle, "idle-timeout", defaultIdleTimeout, "close an HTTP keep-alive connection with no request for `duration`")
}

// check returns a usage error for a timeout that is not positive.
func (t *serverTimeouts) check() error {
	for name, d := range map[string]time.Duration{"--read-header-timeout": t.readHeader, "--write-timeout": t.write, "--idle-timeout": t.idle} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	return nil
}

// httpServer returns an http.Server for h with the timeouts and the header limit, serving
// HTTP/1.1 only: without extended CONNECT (RFC 8441) an HTTP/2 request cannot become a
// WebSocket.
func (t *serverTimeouts) httpServer(h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.readHeader,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    maxRequestHead,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	return srv
}

// deadlineContext is a context with a deadline and nothing else: no cancellation, hence no
// timer and no goroutine watching it. wsx applies a context's deadline to the socket
// ("ctx bounds the call") and reports a call it cut short as context.DeadlineExceeded, so
// this bounds an AcceptConn at the cost of nothing but the socket's deadline.
type deadlineContext struct{ at time.Time }

func (d *deadlineContext) Deadline() (time.Time, bool) { return d.at, true }
func (d *deadlineContext) Done() <-chan struct{}       { return nil }
func (d *deadlineContext) Err() error                  { return nil }
func (d *deadlineContext) Value(any) any               { return nil }

// acceptConfig is what the flags of a WebSocket server say about the connections it
// accepts.
type acceptConfig struct {
	addr           string   // where the server listens (set by the command before check)
	hosts          []string // --host
	origins        []string
	insecureOrigin bool
	compression    bool
	readLimit      int64 // 0: no limit
}

func (a *acceptConfig) addFlags(f *flags) {
	a.readLimit = wsx.DefaultReadLimit
	f.Var((*listFlag)(&a.origins), "origin", "`pattern` of other origins whose pages may connect, such as '*.example.com',\n'localhost:*' or 'https://app.example.com' (repeat or comma-separate)")
	f.Var((*listFlag)(&a.hosts), "host", "`name` the server answers for: on a loopback address, besides the loopback names\n(other Host names are refused with 421 against DNS rebinding); elsewhere, the only\nones (repeat or comma-separate; a name without a port means any port)")
	f.BoolVar(&a.insecureOrigin, "insecure-origin", false, "accept pages from every origin (cross-site WebSocket hijacking; for tests only)")
	f.BoolVar(&a.compression, "compression", true, "accept permessage-deflate (RFC 7692) when the client offers it, as browsers do;\n--compression=false declines it")
	f.Var((*sizeFlag)(&a.readLimit), "read-limit", "largest message `size` accepted, such as 16MiB; larger ones close the\nconnection with 1009 (0: no limit)")
}

// check returns a usage error for flags that cannot work: a malformed --origin pattern
// would make every cross-origin handshake fail with 500 later (issue 8 item 9).
func (a *acceptConfig) check() error {
	if err := (&wsx.AcceptOptions{OriginPatterns: a.origins}).Validate(); err != nil {
		return fmt.Errorf("--origin: %s", errText(err))
	}
	if err := (&wsx.AcceptOptions{HostPatterns: hostPatterns(a.addr, a.hosts...)}).Validate(); err != nil {
		return fmt.Errorf("--host: %s", errText(err))
	}
	return nil
}

// options returns the wsx.AcceptOptions of the flags.
func (a *acceptConfig) options() wsx.AcceptOptions {
	limit := a.readLimit
	if limit == 0 {
		limit = -1 // ConnOptions: negative means no limit
	}
	opts := wsx.AcceptOptions{
		HostPatterns:            hostPatterns(a.addr, a.hosts...),
		OriginPatterns:          a.origins,
		InsecureSkipOriginCheck: a.insecureOrigin,
		ConnOptions:             wsx.ConnOptions{ReadLimit: limit},
	}
	if a.compression {
		opts.Compression = &wsx.CompressionOptions{}
	}
	return opts
}

// gatewayConfig is what the flags of a command that accepts connections and dials one for
// each (proxy, bridge) select.
type gatewayConfig struct {
	dial     connectConfig // how to reach the target: -H, --insecure, --proxy...
	accept   acceptConfig
	tls      serverTLS
	timeouts serverTimeouts
	log      logConfig
}

func (g *gatewayConfig) addFlags(f *flags, dialTimeout time.Duration, verbose string) {
	g.dial.addDialFlags(f, false)
	f.DurationVar(&g.dial.timeout, "timeout", dialTimeout, "give up on reaching the target after `duration`")
	g.accept.addFlags(f)
	g.tls.addFlags(f)
	g.timeouts.addFlags(f)
	g.log.addFlags(f, verbose)
}

// check returns a usage error for flags that cannot work, and makes the dialled side
// follow the accepted one's read limit and compression.
func (g *gatewayConfig) check() error {
	g.dial.readLimit = g.accept.readLimit
	g.dial.compression = g.accept.compression
	return checkAll(g.accept.check, g.tls.check, g.timeouts.check, g.log.check)
}

// logConfig is what the flags of a server say about its log.
type logConfig struct {
	format  string
	verbose bool
}

func (l *logConfig) addFlags(f *flags, verbose string) {
	f.StringVar(&l.format, "log-format", "text", "log `format`: text or json")
	f.BoolVar(&l.verbose, "verbose", false, verbose)
	f.BoolVar(&l.verbose, "v", false, "short for --verbose")
}

func (l *logConfig) check() error {
	if l.format != "text" && l.format != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", l.format)
	}
	return nil
}

// logger returns the logger of a server: text or JSON lines on w, debug lines with -v.
func (l *logConfig) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if l.verbose {
		opts.Level = slog.LevelDebug
	}
	if l.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkAll returns the first error of checks.
func checkAll(checks ...func() error) error {
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// reuse returns the buffer to read the next message into after msg: msg's own, grown to fit
// it, unless one huge message grew it past 1 MiB, which is not worth keeping.
func reuse(msg []byte) []byte {
	if cap(msg) > 1<<20 {
		return nil
	}
	return msg[:0]
}

// listenAddr returns the address to listen on for the argument arg of a server command: def
// when arg is empty, 127.0.0.1:PORT for a bare port, else arg, which must be host:port with
// a port from 0 to 65535 (0: any free port).
func listenAddr(arg, def string) (string, error) {
	switch {
	case arg == "":
		return def, nil
	case !strings.Contains(arg, ":"):
		arg = "127.0.0.1:" + arg
	}
	_, port, err := net.SplitHostPort(arg)
	if err != nil {
		return "", fmt.Errorf("bad address %q: want host:port, :port or a port", arg)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("bad address %q: the port must be a number from 0 to 65535", arg)
	}
	return arg, nil
}

// displayHost returns a host:port to put in the URLs shown to the user: a wildcard listener
// is reachable at localhost.
func displayHost(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(t.Port))
	}
	return a.String()
}

// acceptLoop accepts connections from ln and hands each to serve in a goroutine of its own,
// until ln is closed. Like http.Server, it waits and retries after errors such as running
// out of file descriptors, rather than stopping.
func acceptLoop(ln net.Listener, log *slog.Logger, serve func(net.Conn)) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			log.Warn("accept failed; retrying", "err", err, "in", formatDuration(delay))
			time.Sleep(delay)
			continue
		}
		delay = 0
		go serve(nc)
	}
}
