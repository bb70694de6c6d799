package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/hub"
	"github.com/wsx-go/wsx/natsbroker"
)

const serveUsage = `Usage: wsx serve [flags] [addr]

Runs a WebSocket server on addr (default 127.0.0.1:8080; a bare port listens on 127.0.0.1).
WebSocket handshakes are accepted on every path. Each message is echoed back unchanged (text
stays text, binary stays binary), or with --broadcast sent to every client connected to the
same path, the sender included, or with --exec given to a command of each connection's own.
Plain GET requests get the playground page at / (a WebSocket client, and a key/Accept
calculator), or the files of --dir.

Clients that offer permessage-deflate (RFC 7692), as browsers and conformance suites do, get
it unless --compression=false.

HTTP/2 is served beside HTTP/1.1 (over TLS, and h2c with prior knowledge without it), with
WebSockets as streams of it (RFC 8441), as browsers open them when they can; --http3 also
serves HTTP/3 with its WebSockets (RFC 9220) on the same port over UDP.

Browsers are held to the same-origin policy of RFC 6455 §10.2: pages served from this server
may connect, a page from another origin only if --origin allows it. Clients that send no
Origin (programs, not browsers) may always connect.

Limits, each with its flag: a message may be 32 MiB (wsx's default, --read-limit); a request
head 16 KiB (431 above); a request head must arrive within 10s (--read-header-timeout); a
message or HTTP response to a client must go out within 30s, or the client, which is not
reading, is disconnected (--write-timeout); an HTTP keep-alive connection is closed after
60s without a request (--idle-timeout).

--exec CMD runs CMD (with sh -c) for each connection: every message is written to its stdin
followed by a newline, and every line of its stdout is sent as a text message (a binary one
if it is not UTF-8); with --exec-raw, messages are written as they are and each read of its
stdout is sent as a binary message. WSX_REMOTE_ADDR, WSX_PATH and WSX_SUBPROTOCOL tell CMD
about the client. Most programs keep their output in a buffer when it is not a terminal:
make CMD flush each line (stdbuf -oL CMD, python3 -u, ...). When CMD exits the connection closes with 1000 (1011 if CMD failed); when
the client leaves, CMD's stdin is closed and CMD is killed if it has not exited 2s later.

Logs go to stderr; -v adds a line for every message with its type, length and the start of
it, escaped. On SIGINT or SIGTERM every client gets a Close frame with status 1001 (going
away) before the server exits.

Examples:
  wsx serve                              # echo on ws://127.0.0.1:8080/, playground at http://127.0.0.1:8080/
  wsx serve :9001 --insecure-origin      # all interfaces, any origin (conformance suites)
  wsx serve --broadcast 8080             # a chat: every message goes to everyone on the same path
  wsx serve --broadcast --nats nats://127.0.0.1:4222 8080   # and on the same path in other wsx serve
  wsx serve --exec 'stdbuf -oL tr a-z A-Z'   # each connection talks to its own tr
  wsx serve --exec-raw --exec 'nc localhost 5432'   # a byte stream to a TCP service per connection
  wsx serve --dir ./public -s chat.v2    # static files plus WebSockets speaking subprotocol chat.v2
  wsx serve --tls-self-signed 8443       # wss:// with a certificate made at start (wsx connect --insecure)
  wsx serve --tls-self-signed --http3 8443   # and HTTP/3 on UDP port 8443 (wsx connect --http3 -k)
  wsx serve --compression=false          # no permessage-deflate: every frame is readable on the wire
  wsx serve --origin '*.example.com'     # also allow pages from any subdomain of example.com
  wsx serve -v --log-format json         # every message logged, as JSON lines
  wsx serve --event :9001                # echo only, idle connections hold no goroutine (many clients)
`

// serveConfig is what the flags of wsx serve select.
type serveConfig struct {
	addr          string
	broadcast     bool
	nats          string // with broadcast: the NATS server joining several processes
	exec          string
	execRaw       bool
	dir           string
	subprotocols  []string
	accept        acceptConfig
	compressLevel int
	tls           serverTLS
	timeouts      serverTimeouts
	log           logConfig
	execStderr    io.Writer // the commands' stderr: the server's
	http3         bool      // transports.go
	event         bool
}

func runServe(ctx context.Context, e *env, args []string) int {
	f := newFlags("serve", serveUsage)
	var cfg serveConfig
	f.BoolVar(&cfg.broadcast, "broadcast", false, "send each message to every client on the same path instead of echoing it;\na client more than 1 MiB behind is closed with 1008, one that takes no data for 10 s is dropped")
	f.StringVar(&cfg.nats, "nats", "", "with --broadcast, join the wsx serve processes connected to the NATS server at `URL`")
	f.StringVar(&cfg.exec, "exec", "", "run `command` for each connection, with the messages as its stdin and stdout")
	f.BoolVar(&cfg.execRaw, "exec-raw", false, "with --exec: pass bytes as they are instead of lines")
	f.StringVar(&cfg.dir, "dir", "", "serve the files of `directory` to plain GET requests instead of the playground\n(the playground stays at /_wsx/playground)")
	f.Var((*listFlag)(&cfg.subprotocols), "subprotocol", "subprotocol `name` to agree to, in order of preference (repeat or comma-separate)")
	f.Var((*listFlag)(&cfg.subprotocols), "s", "short for --subprotocol")
	cfg.accept.addFlags(f)
	f.IntVar(&cfg.compressLevel, "compression-level", 0, "DEFLATE `level`, 1 (fastest) to 9 (smallest); 0: the library's default")
	cfg.tls.addFlags(f)
	f.BoolVar(&cfg.http3, "http3", false, "also serve HTTP/3 (RFC 9220 WebSockets) on the same port over UDP (needs TLS)")
	cfg.timeouts.addFlags(f)
	cfg.log.addFlags(f, "also log every message")
	f.BoolVar(&cfg.event, "event", false, "serve WebSockets only, in event mode (package event), for many clients: an idle\nconnection holds no goroutine or buffer; echo only, no playground")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if len(pos) > 1 {
		return f.usageError(e, "want at most one address, got %q", pos)
	}
	var err error
	if cfg.addr, err = listenAddr(strings.Join(pos, ""), "127.0.0.1:8080"); err != nil {
		return f.usageError(e, "%v", err)
	}
	cfg.accept.addr = cfg.addr
	if err := checkAll(cfg.accept.check, cfg.tls.check, cfg.timeouts.check, cfg.log.check); err != nil {
		return f.usageError(e, "%v", err)
	}
	switch {
	case cfg.compressLevel < 0 || cfg.compressLevel > 9:
		return f.usageError(e, "--compression-level must be 1 to 9")
	case cfg.compressLevel != 0 && !cfg.accept.compression:
		return f.usageError(e, "--compression-level goes with compression, which --compression=false turns off")
	case cfg.nats != "" && !cfg.broadcast:
		return f.usageError(e, "--nats goes with --broadcast")
	case cfg.broadcast && cfg.exec != "":
		return f.usageError(e, "--broadcast and --exec are two ways to answer: choose one")
	case cfg.execRaw && cfg.exec == "":
		return f.usageError(e, "--exec-raw goes with --exec")
	case cfg.http3 && !cfg.tls.enabled():
		return f.usageError(e, "--http3 needs --tls-cert/--tls-key or --tls-self-signed")
	case cfg.event && (cfg.broadcast || cfg.exec != "" || cfg.dir != ""):
		return f.usageError(e, "--event serves the echo only: no --broadcast, --exec or --dir")
	case cfg.event && cfg.http3:
		return f.usageError(e, "--event serves WebSockets over HTTP/1.1 only: no --http3")
	}
	if cfg.dir != "" {
		if fi, err := os.Stat(cfg.dir); err != nil || !fi.IsDir() {
			return f.usageError(e, "--dir %q is not a directory", cfg.dir)
		}
	}
	cfg.execStderr = e.stderr
	log := cfg.log.logger(e.stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("server failed", "err", err)
		return exitFail
	}
	return exitOK
}

// serve runs the server until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger) error {
	if cfg.event {
		return serveEvent(ctx, cfg, log)
	}
	s := newServer(cfg, log)
	defer s.watch.close()
	var broker hub.Broker
	if cfg.nats != "" {
		nc, err := nats.Connect(cfg.nats, nats.NoEcho(), nats.MaxReconnects(-1), nats.Name("wsx serve"))
		if err != nil {
			return err
		}
		defer nc.Close()
		if broker, err = natsbroker.New(nc, ""); err != nil {
			return err
		}
	}
	s.hub = hub.New(&hub.Options{Broker: broker})
	srv := cfg.timeouts.httpServer(s, log)
	wsScheme, httpScheme := "ws", "http"
	var tlsConfig *tls.Config
	if cfg.tls.enabled() {
		wsScheme, httpScheme = "wss", "https"
		var err error
		if tlsConfig, err = cfg.tls.config(cfg.addr, log); err != nil {
			return err
		}
	}
	configureHTTP2(srv, tlsConfig) // HTTP/2 WebSockets (RFC 8441): transports.go
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	addr := ln.Addr()
	if cfg.http3 {
		h, wait, err := serveHTTP3(ctx, addr.String(), tlsConfig, srv.Handler, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer wait()
		srv.Handler = h
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	host := displayHost(addr)
	mode := "echo"
	switch {
	case cfg.broadcast:
		mode = "broadcast"
	case cfg.exec != "":
		mode = "exec"
	}
	log.Info("listening", "addr", addr.String(), "url", wsScheme+"://"+host+"/", "mode", mode,
		"compression", cfg.accept.compression, "nats", cfg.nats, "playground", httpScheme+"://"+host+s.pagePath())

	s.httpConns = newConnQueue(addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.httpConns) }()
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		acceptLoop(ln, log, func(nc net.Conn) {
			s.routing.Add(1)
			s.route(nc)
		})
	}()
	select {
	case err := <-errc:
		ln.Close()
		<-accepting
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down", "connections", s.group.Len())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Stop accepting, and close the connections still in their opening handshake. Then
	// http.Server.Shutdown closes its listener and waits for HTTP requests; it leaves the
	// WebSocket connections to the Group, which closes them with 1001 (going away, §7.4.1).
	// Once all that is done no handler can start, and the running ones are waited for.
	ln.Close()
	<-accepting
	s.pending.closeAll()
	s.routing.Wait()
	var wg sync.WaitGroup
	wg.Go(func() { srv.Shutdown(shutdownCtx) })
	wg.Go(func() {
		s.hub.Shutdown(shutdownCtx) // --broadcast: what is queued goes out before the 1001
		s.group.Shutdown(shutdownCtx)
	})
	wg.Wait()
	s.handlers.Wait()
	log.Info("stopped")
	return nil
}

// server is wsx serve: its router, and the http.Handler of the requests that are not
// WebSocket handshakes on their connection's first request.
type server struct {
	cfg        serveConfig
	log        *slog.Logger
	files      http.Handler // plain GET requests: --dir, or nil for the playground
	opts       wsx.AcceptOptions
	hub        *hub.Hub // --broadcast: a topic per path
	handshakes handshakeLog
	nextID     atomic.Uint64
	httpConns  *connQueue // the connections for net/http

	watch    *writeWatch    // the write timeout of WebSocket connections
	pending  connSet        // connections in their opening handshake
	routing  sync.WaitGroup // running routes
	group    wsx.Group      // the open WebSocket connections
	handlers sync.WaitGroup // running WebSocket handlers
}

func newServer(cfg serveConfig, log *slog.Logger) *server {
	s := &server{cfg: cfg, log: log, watch: newWriteWatch(cfg.timeouts.write)}
	if cfg.dir != "" {
		s.files = http.FileServer(http.Dir(cfg.dir))
	}
	s.opts = cfg.accept.options()
	s.opts.Subprotocols = cfg.subprotocols
	s.opts.Group = &s.group
	if s.opts.Compression != nil {
		s.opts.Compression.Level = cfg.compressLevel
		// Without context takeover, a broadcast message is compressed once for all clients.
		s.opts.Compression.NoContextTakeover = cfg.broadcast
	}
	return s
}

// pagePath is where the playground page is: / unless --dir took it.
func (s *server) pagePath() string {
	if s.files != nil {
		return playgroundPath
	}
	return "/"
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case isHandshake(r):
		s.serveWebSocket(w, r)
	case r.URL.Path == handshakePath:
		s.handshakes.serveHTTP(w, r)
	case r.URL.Path == acceptPath:
		// For the playground on pages where Web Crypto is unavailable (not a secure context).
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, wsx.AcceptKey(r.URL.Query().Get("key")))
	case r.URL.Path == playgroundPath || r.URL.Path == "/" && s.files == nil:
		servePlayground(w, r)
	case r.URL.Path == "/favicon.ico" && s.files == nil:
		w.WriteHeader(http.StatusNoContent) // browsers ask for it with the playground
	case s.files != nil:
		s.files.ServeHTTP(w, r)
	default:
		// RFC 9110 §15.5.22: 426 names the protocol the resource speaks.
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		http.Error(w, "wsx serve: this is a WebSocket endpoint: connect with a WebSocket client; the playground page is at /", http.StatusUpgradeRequired)
	}
}

// isHandshake reports whether r means to open a WebSocket, even a broken one: Accept then
// explains what is wrong with it.
func isHandshake(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || r.Header.Get("Sec-WebSocket-Key") != "" || r.Header.Get("Sec-WebSocket-Version") != ""
}

// serveWebSocket accepts a handshake that came through net/http: one that followed another
// request on a keep-alive connection.
func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	info := handshakeInfo{remote: r.RemoteAddr, path: r.URL.Path, origin: r.Header.Get("Origin"),
		userAgent: r.Header.Get("User-Agent"), playgroundID: r.URL.Query().Get(playgroundParam)}
	c, err := wsx.Accept(w, r, &s.opts)
	if err != nil {
		s.refused(info, err)
		return
	}
	var rec *handshakeRecord
	if info.playgroundID != "" {
		rec = recordRequest(r)
	}
	// The handler returns, and the connection lives on in a goroutine with a small stack;
	// but net/http ends an HTTP/2 stream when its handler returns (RFC 8441).
	s.connected(c, info, rec, r.ProtoMajor == 2)
}

// refused logs a handshake that failed.
func (s *server) refused(info handshakeInfo, err error) {
	s.log.Warn("handshake refused", "remote", info.remote, "path", info.path, "err", errText(err))
}

// connected logs an accepted connection, keeps the record of its request for the
// playground, and serves it in a goroutine of its own, or in this one when inline.
func (s *server) connected(c *wsx.Conn, info handshakeInfo, rec *handshakeRecord, inline bool) {
	if rec != nil {
		s.handshakes.add(info.playgroundID, rec)
	}
	id := s.nextID.Add(1)
	s.log.Info("connected", "conn", id, "remote", info.remote, "path", info.path, "subprotocol", c.Subprotocol(),
		"extensions", c.Extensions(), "origin", info.origin, "user_agent", info.userAgent)
	s.handlers.Add(1)
	sc := &serverConn{s: s, c: c, id: id, path: info.path, start: time.Now()}
	s.watch.add(&sc.w, c)
	switch {
	case inline:
		sc.serve()
	case s.cfg.broadcast || s.cfg.exec != "":
		go sc.serve()
	default:
		go sc.echo()
	}
}

// connStats counts what one connection carried, for its closing log line. The goroutine
// that serves the connection owns it: no lock or atomic on the path of a message.
type connStats struct {
	msgsIn, msgsOut   int64
	bytesIn, bytesOut int64
}

// serverConn is a WebSocket connection of wsx serve, with what its goroutine needs. It is
// on the heap so that the goroutine's own frames stay small: a goroutine keeps the 2 KiB
// stack it starts with only if, waiting for a message, it uses less than a quarter of a
// 4 KiB one (the GC halves a stack only then), and wsx's read path takes most of that.
type serverConn struct {
	s     *server
	c     *wsx.Conn
	id    uint64
	path  string
	start time.Time
	st    connStats
	w     watchedConn
	buf   []byte // the echo's: none until a message comes
}

// serve answers the connection as the flags say until it ends, and logs how it ended.
func (sc *serverConn) serve() {
	switch {
	case sc.s.cfg.broadcast:
		sc.ended(sc.s.broadcast(sc.path, sc.c, sc.s.log.With("conn", sc.id), &sc.st))
	case sc.s.cfg.exec != "":
		sc.ended(sc.exec())
	default:
		sc.echo()
	}
}

// ended releases the connection and logs how it ended.
//
//go:noinline
func (sc *serverConn) ended(err error) {
	s, st := sc.s, &sc.st
	defer s.handlers.Done()
	sc.c.CloseNow() // whatever ended the loop, release the connection
	sc.w.remove()
	err = sc.w.timeoutError(err)
	attrs := []any{"conn", sc.id, "duration", formatDuration(time.Since(sc.start)), "msgs_in", st.msgsIn, "msgs_out", st.msgsOut,
		"bytes_in", st.bytesIn, "bytes_out", st.bytesOut}
	var ce *wsx.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code != wsx.StatusAbnormalClosure:
		// The peer closed, whatever its reason: nothing went wrong here.
		if ce.Reason != "" {
			attrs = append(attrs, "reason", ce.Reason)
		}
		s.log.Info("closed", append(attrs, "status", int(ce.Code))...)
	case err == nil:
		s.log.Info("closed", attrs...) // closed by this side, as --exec does
	case errors.Is(err, errWriteTimeout):
		s.log.Warn("failed", append(attrs, "err", fmt.Sprintf("the client took no message for %s (--write-timeout)", s.cfg.timeouts.write))...)
	default:
		// The connection failed (this side sent 1002, 1007, 1009...) or was dropped.
		s.log.Warn("failed", append(attrs, "err", errText(err))...)
	}
}

// echo sends every message back unchanged until the connection ends, and logs how it
// ended. It reads continuously, so pings are answered and a Close completes the handshake.
// Nothing on its path allocates or takes a lock of the command's, and it is the whole of
// its goroutine, whose stack must stay small (see serverConn).
func (sc *serverConn) echo() {
	for {
		typ, msg, err := sc.c.ReadMessage(context.Background(), sc.buf[:0])
		if err != nil {
			sc.ended(err)
			return
		}
		sc.st.msgsIn++
		sc.st.bytesIn += int64(len(msg))
		if sc.s.cfg.log.verbose {
			sc.logIn(typ, msg)
		}
		sc.w.begin()
		err = sc.c.Write(context.Background(), typ, msg)
		sc.w.end()
		if err != nil {
			sc.ended(err)
			return
		}
		sc.st.msgsOut++
		sc.st.bytesOut += int64(len(msg))
		sc.buf = reuse(msg)
	}
}

//go:noinline
func (sc *serverConn) logIn(typ wsx.MessageType, msg []byte) { sc.s.logMessage(sc.id, "in", typ, msg) }

// logMessage logs a message of connection id going dir ("in" or "out") for -v.
func (s *server) logMessage(id uint64, dir string, typ wsx.MessageType, msg []byte) {
	s.log.Debug("message", "conn", id, "dir", dir, "type", typ.String(), "len", len(msg), "data", preview(typ, msg))
}

// previewLen is how much of a message -v shows.
const previewLen = 64

// preview returns the start of a message for a log line: text escaped as for a terminal,
// binary in hex, followed by "…" when cut.
func preview(typ wsx.MessageType, msg []byte) string {
	cut := len(msg) > previewLen
	if cut {
		msg = msg[:previewLen]
		for typ == wsx.MessageText && len(msg) > 0 && !utf8.Valid(msg) {
			msg = msg[:len(msg)-1] // not in the middle of a character
		}
	}
	var s string
	if typ == wsx.MessageText {
		s = escapeControl(msg)
	} else {
		s = string(appendHexDump(nil, msg))
	}
	if cut {
		s += "…"
	}
	return s
}

// broadcast publishes every message c sends to the clients on path, c included (all the
// processes joined by --nats), and returns why the connection ended.
func (s *server) broadcast(path string, c *wsx.Conn, log *slog.Logger, st *connStats) error {
	ctx := context.Background()
	defer s.hub.Leave(c)
	if err := s.hub.Subscribe(ctx, c, path); err != nil {
		return err
	}
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return err
		}
		st.msgsIn++
		st.bytesIn += int64(len(msg))
		log.Debug("message", "type", typ, "len", len(msg), "path", path)
		if err := s.hub.Publish(ctx, path, typ, msg); err != nil {
			log.Warn("publish failed", "path", path, "err", err)
		}
	}
}
