package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

const proxyUsage = `Usage: wsx proxy [flags] [addr] URL

Listens on addr (default 127.0.0.1:9000; a bare port listens on 127.0.0.1) and forwards each
WebSocket connection it receives to URL, logging every message both ways: point a client at
the proxy instead of the server, and watch what they say to each other.

The client's path and query are added to URL's path: with URL ws://127.0.0.1:8080/api, a
client of ws://127.0.0.1:9000/v1?x=1 reaches ws://127.0.0.1:8080/api/v1?x=1. The client's
subprotocol offer, Origin (unless --upstream-origin replaces it) and other request header
fields (Authorization, Cookie, User-Agent...) go to the server, which chooses; its refusal
(status and body) goes back to the client. Each side negotiates permessage-deflate with the
proxy on its own (--compression=false turns it off on both), so the log shows messages
uncompressed. A Close goes through with its code and reason; a connection
that drops makes the proxy close the other side with 1001 (the client left) or 1014 (bad
gateway: the server left). Pings are answered by the proxy on each side, not forwarded.

Pages are held to the same-origin policy, as with wsx serve: --origin and --insecure-origin
let other origins in. The server timeouts of wsx serve apply on the client side.

Examples:
  wsx proxy ws://127.0.0.1:8080/          # then connect to ws://127.0.0.1:9000/... instead
  wsx proxy 9001 wss://stream.example.com/ --log-format json > log.jsonl
  wsx proxy --origin https://app.example.com -H 'Authorization: Bearer T0K3N' wss://api.example.com/
`

// proxyConfig is what the flags of wsx proxy select.
type proxyConfig struct {
	addr     string
	upstream *url.URL
	gatewayConfig
}

func runProxy(ctx context.Context, e *env, args []string) int {
	f := newFlags("proxy", proxyUsage)
	var cfg proxyConfig
	cfg.addFlags(f, 30*time.Second, "also log each message's bytes in hex, not only its start")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	var listen string
	switch len(pos) {
	case 1:
	case 2:
		listen = pos[0]
	default:
		return f.usageError(e, "want [addr] URL, got %d arguments", len(pos))
	}
	var err error
	if cfg.addr, err = listenAddr(listen, "127.0.0.1:9000"); err != nil {
		return f.usageError(e, "%v", err)
	}
	cfg.accept.addr = cfg.addr
	if err := checkWebSocketURL(pos[len(pos)-1]); err != nil {
		return f.usageError(e, "%v", err)
	}
	cfg.upstream, _ = url.Parse(pos[len(pos)-1])
	if err := cfg.check(); err != nil {
		return f.usageError(e, "%v", err)
	}
	if _, err := cfg.dial.target(cfg.upstream.String()); err != nil {
		return f.usageError(e, "%v", err)
	}
	log := cfg.log.logger(e.stderr)
	p := &proxy{cfg: &cfg, log: log, opts: cfg.accept.options()}
	p.opts.Group = &p.group
	if err := p.run(ctx); err != nil {
		log.Error("proxy failed", "err", err)
		return exitFail
	}
	return exitOK
}

// proxy is a running wsx proxy.
type proxy struct {
	cfg    *proxyConfig
	log    *slog.Logger
	opts   wsx.AcceptOptions
	nextID atomic.Uint64
	group  wsx.Group      // client connections, closed with 1001 at shutdown
	conns  sync.WaitGroup // running relays
	watch  *writeWatch    // the write timeout, both sides
}

func (p *proxy) run(ctx context.Context) error {
	p.watch = newWriteWatch(p.cfg.timeouts.write)
	defer p.watch.close()
	srv := p.cfg.timeouts.httpServer(p, p.log)
	scheme := "ws"
	if p.cfg.tls.enabled() {
		scheme = "wss"
		var err error
		if srv.TLSConfig, err = p.cfg.tls.config(p.cfg.addr, p.log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", p.cfg.addr)
	if err != nil {
		return err
	}
	p.log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+displayHost(ln.Addr())+"/",
		"upstream", p.cfg.upstream.Redacted())
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { srv.Shutdown(shutdownCtx) })
	wg.Go(func() { p.group.Shutdown(shutdownCtx) })
	wg.Wait()
	p.conns.Wait()
	p.log.Info("stopped")
	return nil
}

// forwardedFields are the request header fields that do not go to the server: those of the
// handshake itself (§4.1), which the proxy makes anew, and HTTP/1.1's hop-by-hop ones
// (RFC 9110 §7.6.1).
var forwardedFields = []string{"Host", "Upgrade", "Connection", "Origin", "Content-Length", "Transfer-Encoding",
	"Keep-Alive", "Te", "Trailer", "Proxy-Authorization", "Proxy-Connection"}

// upstreamTarget returns what to dial for the client's request r: the URL with r's path and
// query added, and r's subprotocols, Origin and header fields.
func (p *proxy) upstreamTarget(r *http.Request) (*target, error) {
	u := *p.cfg.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	if r.URL.RawQuery != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += r.URL.RawQuery
	}
	dial := p.cfg.dial
	dial.protocols = nil
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		dial.protocols.Set(v)
	}
	if dial.origin == "" {
		dial.origin = r.Header.Get("Origin")
	}
	dial.headers = slices.Clone(dial.headers)
	for name, values := range r.Header {
		if slices.Contains(forwardedFields, name) || strings.HasPrefix(name, "Sec-Websocket-") {
			continue
		}
		if slices.ContainsFunc(p.cfg.dial.headers, func(h [2]string) bool { return http.CanonicalHeaderKey(h[0]) == name }) {
			continue // -H replaces what the client sent
		}
		for _, v := range values {
			dial.headers = append(dial.headers, [2]string{name, v})
		}
	}
	return dial.target(u.String())
}

// ServeHTTP forwards one client's WebSocket connection.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isHandshake(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		http.Error(w, "wsx proxy: this is a WebSocket proxy to "+p.cfg.upstream.Redacted()+": connect with a WebSocket client", http.StatusUpgradeRequired)
		return
	}
	id := p.nextID.Add(1)
	t, err := p.upstreamTarget(r)
	if err != nil {
		p.log.Warn("handshake refused", "conn", id, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "wsx proxy: "+err.Error(), http.StatusBadRequest)
		return
	}
	// The server first: its answer decides the client's.
	var dialErr strings.Builder
	up, resp, err := t.dial(r.Context(), p.cfg.dial.timeout, &dialErr, "upstream")
	if err != nil {
		why := strings.ReplaceAll(strings.TrimSpace(dialErr.String()), "\n", "; ")
		p.log.Warn("upstream refused", "conn", id, "remote", r.RemoteAddr, "upstream", t.display, "err", why)
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			copyRefusal(w, resp)
		} else {
			http.Error(w, "wsx proxy: the server "+t.display+" could not be reached", http.StatusBadGateway)
		}
		return
	}
	opts := p.opts
	if sp := up.Subprotocol(); sp != "" {
		opts.Subprotocols = []string{sp}
	}
	c, err := wsx.Accept(w, r, &opts)
	if err != nil {
		p.log.Warn("handshake refused", "conn", id, "remote", r.RemoteAddr, "err", errText(err))
		up.Close(wsx.StatusGoingAway, "the client's handshake failed")
		return
	}
	p.log.Info("connected", "conn", id, "remote", r.RemoteAddr, "path", r.URL.Path, "upstream", t.display,
		"subprotocol", c.Subprotocol(), "client_extensions", c.Extensions(), "upstream_extensions", up.Extensions())
	p.conns.Add(1)
	go p.relay(id, c, up)
}

// copyRefusal sends the server's refusal of a handshake to the client: its status, its
// content type and the start of its body.
func copyRefusal(w http.ResponseWriter, resp *http.Response) {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	for _, name := range []string{"Www-Authenticate", "Sec-Websocket-Version", "Retry-After", "Location"} {
		if v := resp.Header.Values(name); len(v) > 0 {
			w.Header()[name] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	if resp.Body != nil {
		io.Copy(w, resp.Body) // Dial kept the first 4 KiB
	}
}

// relay carries the messages of a client and a server both ways until one of them closes,
// then closes the other alike, and logs how it ended.
func (p *proxy) relay(id uint64, client, server *wsx.Conn) {
	defer p.conns.Done()
	var toClient, toServer watchedConn
	p.watch.add(&toClient, client)
	p.watch.add(&toServer, server)
	defer toClient.remove()
	defer toServer.remove()
	defer client.CloseNow()
	defer server.CloseNow()
	start := time.Now()
	type end struct {
		from string
		err  error
		msgs int64
	}
	ends := make(chan end, 2)
	pipe := func(from string, src *wsx.Conn, dst *watchedConn) {
		n, err := p.forward(id, from, src, dst)
		ends <- end{from, err, n}
	}
	go pipe("client", client, &toServer)
	go pipe("server", server, &toClient)
	first := <-ends
	// The side that ended first decides: its Close goes to the other side as it was sent.
	other, reason := server, "the client went away"
	code := wsx.StatusGoingAway
	if first.from == "server" {
		other, reason, code = client, "the server went away", wsx.StatusBadGateway
	}
	var ce *wsx.CloseError
	if errors.As(first.err, &ce) && ce.Code != wsx.StatusAbnormalClosure {
		code, reason = ce.Code, ce.Reason
		if !sendableCode(int(code)) { // 1005: a Close without a code
			code = wsx.StatusNormalClosure
		}
	}
	other.Close(code, reason)
	second := <-ends
	msgs := map[string]int64{first.from: first.msgs, second.from: second.msgs}
	attrs := []any{"conn", id, "by", first.from, "duration", formatDuration(time.Since(start)),
		"msgs_from_client", msgs["client"], "msgs_from_server", msgs["server"]}
	if ce != nil && ce.Code != wsx.StatusAbnormalClosure {
		p.log.Info("closed", append(attrs, "status", int(ce.Code), "reason", ce.Reason)...)
	} else {
		p.log.Warn("dropped", append(attrs, "err", errText(first.err))...)
	}
}

// forward sends the messages of src to dst, logging each, until src ends or dst fails. It
// returns how many it forwarded and why it stopped.
func (p *proxy) forward(id uint64, from string, src *wsx.Conn, dst *watchedConn) (int64, error) {
	ctx := context.Background()
	to := map[string]string{"client": "server", "server": "client"}[from]
	var n int64
	var buf []byte
	for {
		typ, msg, err := src.ReadMessage(ctx, buf[:0])
		if err != nil {
			return n, err
		}
		attrs := []any{"conn", id, "from", from, "type", typ.String(), "len", len(msg), "data", preview(typ, msg)}
		if p.cfg.log.verbose {
			attrs = append(attrs, "hex", string(appendHexDump(nil, msg)))
		}
		p.log.Info("message", attrs...)
		if err := dst.write(ctx, typ, msg); err != nil {
			return n, fmt.Errorf("forwarding to the %s: %w", to, dst.timeoutError(err))
		}
		n++
		buf = reuse(msg)
	}
}
