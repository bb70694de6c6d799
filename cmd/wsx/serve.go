package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/hub"
	"github.com/wsx-go/wsx/natsbroker"
)

const serveUsage = `Usage: wsx serve [flags] [addr]

Runs a WebSocket server on addr (default 127.0.0.1:8080; a bare port listens on 127.0.0.1).
WebSocket handshakes are accepted on every path. Each message is echoed back unchanged (text
stays text, binary stays binary), or with --broadcast sent to every client connected to the
same path, the sender included. Plain GET requests get the playground page at / (a key/Accept
calculator and a WebSocket client), or the files of --dir.

Clients that offer permessage-deflate (RFC 7692), as browsers and conformance suites do, get
it unless --compression=false.

Browsers are held to the same-origin policy of RFC 6455 §10.2: pages served from this server
may connect, a page from another origin only if --origin allows it. Clients that send no
Origin (programs, not browsers) may always connect.

Logs go to stderr. On SIGINT or SIGTERM every client gets a Close frame with status 1001
(going away) before the server exits.

Examples:
  wsx serve                              # echo on ws://127.0.0.1:8080/, playground at http://127.0.0.1:8080/
  wsx serve :9001 --insecure-origin      # all interfaces, any origin (conformance suites)
  wsx serve --broadcast 8080             # a chat: every message goes to everyone on the same path
  wsx serve --broadcast --nats nats://127.0.0.1:4222 8080   # and on the same path in other wsx serve
  wsx serve --dir ./public -s chat.v2    # static files plus WebSockets speaking subprotocol chat.v2
  wsx serve --tls-self-signed 8443       # wss:// with a certificate made at start (wsx connect --insecure)
  wsx serve --compression=false          # no permessage-deflate: every frame is readable on the wire
  wsx serve --origin '*.example.com'     # also allow pages from any subdomain of example.com
`

// serveConfig is what the flags of wsx serve select.
type serveConfig struct {
	addr           string
	broadcast      bool
	nats           string // with broadcast: the NATS server joining several processes
	dir            string
	subprotocols   []string
	origins        []string
	insecureOrigin bool
	compression    bool
	compressLevel  int
	readLimit      int64 // 0: no limit
	tlsCert        string
	tlsKey         string
	tlsSelfSigned  bool
	logFormat      string
	verbose        bool
	http3          bool // transports.go
}

func runServe(ctx context.Context, e *env, args []string) int {
	f := newFlags("serve", serveUsage)
	cfg := serveConfig{readLimit: 64 << 20}
	f.BoolVar(&cfg.broadcast, "broadcast", false, "send each message to every client on the same path instead of echoing it;\na client more than 1 MiB behind is closed with 1008, one that takes no data for 10 s is dropped")
	f.StringVar(&cfg.nats, "nats", "", "with --broadcast, join the wsx serve processes connected to the NATS server at `URL`")
	f.StringVar(&cfg.dir, "dir", "", "serve the files of `directory` to plain GET requests instead of the playground\n(the playground stays at /_wsx/playground)")
	f.Var((*listFlag)(&cfg.subprotocols), "subprotocol", "subprotocol `name` to agree to, in order of preference (repeat or comma-separate)")
	f.Var((*listFlag)(&cfg.subprotocols), "s", "short for --subprotocol")
	f.Var((*listFlag)(&cfg.origins), "origin", "`pattern` of other origins whose pages may connect, such as '*.example.com',\n'localhost:*' or 'https://app.example.com' (repeat or comma-separate)")
	f.BoolVar(&cfg.insecureOrigin, "insecure-origin", false, "accept pages from every origin (cross-site WebSocket hijacking; for tests only)")
	f.BoolVar(&cfg.compression, "compression", true, "accept permessage-deflate (RFC 7692) when the client offers it, as browsers do;\n--compression=false declines it")
	f.IntVar(&cfg.compressLevel, "compression-level", 0, "DEFLATE `level`, 1 (fastest) to 9 (smallest); 0: the library's default")
	f.Var((*sizeFlag)(&cfg.readLimit), "read-limit", "largest message `size` accepted, such as 16MiB; larger ones close the\nconnection with 1009 (0: no limit)")
	f.StringVar(&cfg.tlsCert, "tls-cert", "", "serve wss:// with the PEM certificate chain in `file` (needs --tls-key)")
	f.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	f.BoolVar(&cfg.tlsSelfSigned, "tls-self-signed", false, "serve wss:// with a self-signed certificate made at start, for localhost")
	f.BoolVar(&cfg.http3, "http3", false, "also serve HTTP/3 (RFC 9220 WebSockets) on the same port over UDP (needs TLS)")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log `format`: text or json")
	f.BoolVar(&cfg.verbose, "verbose", false, "also log every message")
	f.BoolVar(&cfg.verbose, "v", false, "short for --verbose")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	switch len(pos) {
	case 0:
		cfg.addr = "127.0.0.1:8080"
	case 1:
		cfg.addr = pos[0]
		if _, err := strconv.ParseUint(cfg.addr, 10, 16); err == nil {
			cfg.addr = "127.0.0.1:" + cfg.addr
		}
	default:
		return f.usageError(e, "want at most one address, got %q", pos)
	}
	switch {
	case (cfg.tlsCert == "") != (cfg.tlsKey == ""):
		return f.usageError(e, "--tls-cert and --tls-key go together")
	case cfg.tlsCert != "" && cfg.tlsSelfSigned:
		return f.usageError(e, "choose --tls-cert/--tls-key or --tls-self-signed, not both")
	case cfg.compressLevel < 0 || cfg.compressLevel > 9:
		return f.usageError(e, "--compression-level must be 1 to 9")
	case cfg.compressLevel != 0 && !cfg.compression:
		return f.usageError(e, "--compression-level goes with compression, which --compression=false turns off")
	case cfg.http3 && cfg.tlsCert == "" && !cfg.tlsSelfSigned:
		return f.usageError(e, "--http3 needs --tls-cert/--tls-key or --tls-self-signed")
	case cfg.nats != "" && !cfg.broadcast:
		return f.usageError(e, "--nats goes with --broadcast")
	case cfg.logFormat != "text" && cfg.logFormat != "json":
		return f.usageError(e, "--log-format must be text or json, not %q", cfg.logFormat)
	}
	if cfg.dir != "" {
		if fi, err := os.Stat(cfg.dir); err != nil || !fi.IsDir() {
			return f.usageError(e, "--dir %q is not a directory", cfg.dir)
		}
	}

	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if cfg.verbose {
		opts.Level = slog.LevelDebug
	}
	var h slog.Handler = slog.NewTextHandler(e.stderr, opts)
	if cfg.logFormat == "json" {
		h = slog.NewJSONHandler(e.stderr, opts)
	}
	log := slog.New(h)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("server failed", "err", err)
		return exitFail
	}
	return exitOK
}

// serve runs the server until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger) error {
	s := newServer(cfg, log)
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
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	wsScheme, httpScheme := "ws", "http"
	if cfg.tlsCert != "" || cfg.tlsSelfSigned {
		wsScheme, httpScheme = "wss", "https"
		cert, err := loadCertificate(cfg, log)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	configureHTTP2(srv, srv.TLSConfig) // HTTP/2 WebSockets (RFC 8441): transports.go
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.http3 {
		h, wait, err := serveHTTP3(ctx, ln.Addr().String(), srv.TLSConfig, srv.Handler, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer wait()
		srv.Handler = h
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	host := displayHost(ln.Addr().(*net.TCPAddr))
	mode := "echo"
	if cfg.broadcast {
		mode = "broadcast"
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", wsScheme+"://"+host+"/", "mode", mode,
		"compression", cfg.compression, "nats", cfg.nats, "playground", httpScheme+"://"+host+s.pagePath())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down", "connections", s.group.Len())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// http.Server.Shutdown closes the listener and waits for HTTP requests; it leaves the
	// connections Accept took over to the Group, which closes them with 1001 (going away,
	// §7.4.1). Once both are done no handler can start, and the running ones are waited for.
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

// displayHost returns a host:port to put in the URLs shown to the user: a wildcard listener
// is reachable at localhost.
func displayHost(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(a.Port))
	}
	return a.String()
}

// server is the http.Handler of wsx serve.
type server struct {
	cfg        serveConfig
	log        *slog.Logger
	files      http.Handler // plain GET requests: --dir, or nil for the playground
	opts       wsx.AcceptOptions
	hub        *hub.Hub // --broadcast: a topic per path
	handshakes handshakeLog
	nextID     atomic.Uint64

	group    wsx.Group      // the open WebSocket connections
	handlers sync.WaitGroup // running WebSocket handlers
}

func newServer(cfg serveConfig, log *slog.Logger) *server {
	s := &server{cfg: cfg, log: log}
	if cfg.dir != "" {
		s.files = http.FileServer(http.Dir(cfg.dir))
	}
	limit := cfg.readLimit
	if limit == 0 {
		limit = -1 // ConnOptions: negative means no limit
	}
	s.opts = wsx.AcceptOptions{
		Subprotocols:            cfg.subprotocols,
		OriginPatterns:          cfg.origins,
		InsecureSkipOriginCheck: cfg.insecureOrigin,
		Group:                   &s.group,
		ConnOptions:             wsx.ConnOptions{ReadLimit: limit},
	}
	if cfg.compression {
		// Without context takeover, a broadcast message is compressed once for all clients.
		s.opts.Compression = &wsx.CompressionOptions{Level: cfg.compressLevel, NoContextTakeover: cfg.broadcast}
	}
	return s
}

// The playground's own paths. They start with /_wsx/ so that they do not hide the files of --dir.
const (
	playgroundPath = "/_wsx/playground"
	handshakePath  = "/_wsx/handshake"
	acceptPath     = "/_wsx/accept"
)

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
		s.serveHandshakeLog(w, r)
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

// connStats counts what one connection carried, for its closing log line.
type connStats struct {
	msgsIn, msgsOut   int64
	bytesIn, bytesOut int64
}

func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	if pid := r.URL.Query().Get(playgroundParam); pid != "" {
		// Kept before the 101 goes out, so that it is there when the page asks for it.
		s.handshakes.add(pid, newHandshakeRecord(r))
	}
	c, err := wsx.Accept(w, r, &s.opts)
	if err != nil {
		s.log.Warn("handshake refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		return
	}
	defer c.CloseNow() // whatever ended the loop, release the connection
	id := s.nextID.Add(1)
	log := s.log.With("conn", id)
	log.Info("connected", "remote", r.RemoteAddr, "path", r.URL.Path, "subprotocol", c.Subprotocol(),
		"extensions", c.Extensions(), "origin", r.Header.Get("Origin"), "user_agent", r.Header.Get("User-Agent"))
	start := time.Now()
	var st connStats
	if s.cfg.broadcast {
		err = s.broadcast(r.URL.Path, c, log, &st)
	} else {
		err = echo(c, log, &st)
	}
	attrs := []any{"duration", time.Since(start).Round(time.Millisecond), "msgs_in", st.msgsIn, "msgs_out", st.msgsOut, "bytes_in", st.bytesIn, "bytes_out", st.bytesOut}
	var ce *wsx.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code != wsx.StatusAbnormalClosure:
		// The peer closed, whatever its reason: nothing went wrong here.
		if ce.Reason != "" {
			attrs = append(attrs, "reason", ce.Reason)
		}
		log.Info("closed", append(attrs, "status", int(ce.Code))...)
	default:
		// The connection failed (this side sent 1002, 1007, 1009...) or was dropped.
		log.Warn("failed", append(attrs, "err", err)...)
	}
}

// echo sends every message back unchanged until the connection ends, and returns why it
// ended. It reads continuously, so pings are answered and a Close completes the handshake.
func echo(c *wsx.Conn, log *slog.Logger, st *connStats) error {
	ctx := context.Background()
	buf := make([]byte, 0, 4096)
	for {
		typ, msg, err := c.ReadMessage(ctx, buf[:0])
		if err != nil {
			return err
		}
		st.msgsIn++
		st.bytesIn += int64(len(msg))
		log.Debug("message", "type", typ, "len", len(msg))
		if err := c.Write(ctx, typ, msg); err != nil {
			return err
		}
		st.msgsOut++
		st.bytesOut += int64(len(msg))
		// Keep the grown buffer for the next message, unless one huge message grew it.
		if cap(msg) <= 1<<20 {
			buf = msg[:0]
		}
	}
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

// loadCertificate returns the TLS certificate of --tls-cert/--tls-key, or makes a
// self-signed one.
func loadCertificate(cfg serveConfig, log *slog.Logger) (tls.Certificate, error) {
	if !cfg.tlsSelfSigned {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return cert, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		return cert, nil
	}
	host, _, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := selfSignedCertificate(host, time.Now())
	if err != nil {
		return cert, err
	}
	sum := sha256.Sum256(cert.Certificate[0])
	log.Info("made a self-signed certificate", "names", strings.Join(cert.Leaf.DNSNames, ","),
		"ips", fmt.Sprint(cert.Leaf.IPAddresses), "not_after", cert.Leaf.NotAfter.Format(time.RFC3339),
		"sha256", hex.EncodeToString(sum[:]))
	return cert, nil
}

// selfSignedCertificate makes an ECDSA P-256 certificate valid for a week from now, for
// localhost, the loopback addresses and host (a name or an address; "" adds nothing).
func selfSignedCertificate(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"wsx serve (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// The playground page, embedded in the binary.
//
//go:embed playground
var playgroundFS embed.FS

func servePlayground(w http.ResponseWriter, r *http.Request) {
	page, err := playgroundFS.ReadFile("playground/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// playgroundParam is the query parameter by which the playground asks the server to keep the
// handshake request of its connection, to show it: /echo?wsx-playground=ID. The ID is random,
// so that a page sees only its own requests (they may carry cookies).
const playgroundParam = "wsx-playground"

// handshakeRecord is a handshake request as the server received it, for the playground.
type handshakeRecord struct {
	Time        time.Time   `json:"time"`
	RemoteAddr  string      `json:"remoteAddr"`
	RequestLine string      `json:"requestLine"`
	Headers     [][2]string `json:"headers"` // Host first, then by name: net/http keeps no order
}

func newHandshakeRecord(r *http.Request) handshakeRecord {
	rec := handshakeRecord{
		Time:        time.Now(),
		RemoteAddr:  r.RemoteAddr,
		RequestLine: r.Method + " " + r.RequestURI + " " + r.Proto,
		Headers:     [][2]string{{"Host", r.Host}},
	}
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[name] {
			rec.Headers = append(rec.Headers, [2]string{name, v})
		}
	}
	return rec
}

// handshakeLog keeps the most recent playground handshakes by ID.
type handshakeLog struct {
	mu    sync.Mutex
	byID  map[string]handshakeRecord
	order []string // oldest first
}

const maxHandshakes = 256

func (l *handshakeLog) add(id string, rec handshakeRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = make(map[string]handshakeRecord)
	}
	if _, ok := l.byID[id]; !ok {
		l.order = append(l.order, id)
	}
	l.byID[id] = rec
	if len(l.order) > maxHandshakes {
		delete(l.byID, l.order[0])
		l.order = l.order[1:]
	}
}

func (l *handshakeLog) get(id string) (handshakeRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.byID[id]
	return rec, ok
}

func (s *server) serveHandshakeLog(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.handshakes.get(r.URL.Query().Get("id"))
	if !ok {
		http.Error(w, "no handshake with that id", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rec)
}
