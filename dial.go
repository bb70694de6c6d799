//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/header"
	"github.com/wsx-go/wsx/internal/httphead"
	"github.com/wsx-go/wsx/internal/proxy"
)

// DialOptions configures Dial. A nil *DialOptions, like the zero value, offers no
// subprotocol, sends no extra header, verifies TLS against the system roots and takes the
// proxy from the environment.
type DialOptions struct {
	// Header holds extra fields for the opening handshake request, such as Authorization,
	// Cookie or User-Agent (§4.1 item 12). It must not hold the fields the handshake sets
	// itself (Host, Upgrade, Connection, Origin, any Sec-WebSocket-*) nor fields that frame a
	// request body (Content-Length, Transfer-Encoding): Dial fails if it does.
	Header http.Header

	// Origin, if not empty, is sent as the Origin field (§4.1 item 8), for servers that
	// check it: the ASCII serialization of an origin, such as "https://example.com".
	Origin string

	// Subprotocols are offered in Sec-WebSocket-Protocol, most preferred first (§4.1 item
	// 10). Each must be a token and appear once. Conn.Subprotocol reports the server's choice;
	// a server that picks one that was not offered fails the handshake.
	Subprotocols []string

	// TLSConfig configures TLS for wss:// URLs and https:// proxies. Dial uses a clone, sets
	// its ServerName to the host being connected to when empty (the proxy's host for the
	// proxy) and its NextProtos to "http/1.1" only: the opening handshake is HTTP/1.1
	// (§4.1), so ALPN must not offer h2. nil means a zero tls.Config.
	TLSConfig *tls.Config

	// NetDialContext opens the TCP connection, to the server or to the proxy. nil means
	// the DialContext method of a zero net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy returns the proxy to reach the server through, or nil for a direct connection
	// (§4.1 client step 3). The request it is given is the opening handshake, with an
	// http:// URL for ws:// and https:// for wss://, so that http.ProxyFromEnvironment and
	// http.ProxyURL work unchanged. http://, https:// (CONNECT tunnels, RFC 9110 §9.3.6),
	// socks5:// and socks5h:// (RFC 1928) proxy URLs are supported; userinfo in the proxy URL
	// authenticates to the proxy.
	//
	// nil means http.ProxyFromEnvironment, which reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY
	// (and their lower-case forms) once per process and never proxies requests to
	// "localhost" or to loopback addresses. To ignore the environment, set Proxy to a
	// function that returns nil, nil.
	Proxy func(*http.Request) (*url.URL, error)

	// Compression, when not nil, offers permessage-deflate (RFC 7692) with these settings.
	// The connection compresses only if the server accepts; a server answer that breaks the
	// offer (a parameter not offered, a larger window than asked for) fails the dial.
	Compression *CompressionOptions

	// Transport carries the connection on a stream of an HTTP/2 (RFC 8441) or HTTP/3
	// (RFC 9220) connection instead of a TCP connection of its own. nil, the default, is
	// HTTP/1.1 (RFC 6455 §4.1). The modules github.com/wsx-go/wsx/h2transport and
	// github.com/wsx-go/wsx/h3transport provide transports; see StreamTransport.
	Transport StreamTransport

	// ConnOptions configure the connection once it is established.
	ConnOptions
}

// Limits of the client side of the opening handshake.
const (
	// maxResponseHead bounds what a server can make Dial buffer before its response
	// ends (http.ReadResponse has no bound of its own); it matches net/http's server
	// default for requests.
	maxResponseHead = 1 << 20
	// errorBodyLimit and errorBodyTimeout bound how much of a refusal's body Dial keeps for
	// the caller, and how long it waits for it.
	errorBodyLimit   = 4 << 10
	errorBodyTimeout = time.Second
)

// Dial opens a WebSocket connection to urlStr, a ws:// or wss:// URL (http:// and https://
// are accepted as aliases), and performs the client's opening handshake (§4.1).
//
// ctx bounds all of it: name resolution, TCP, the proxy, TLS and the handshake; without a
// deadline on ctx, DefaultHandshakeTimeout does. Once Dial returns, ctx no longer matters;
// the connection's reads and writes take their own contexts. A failure after ctx is done
// reports ctx's cause (context.DeadlineExceeded for its deadline), whatever the operation in
// progress made of it.
//
// Dial validates the server's response as §4.1 requires: status 101, Upgrade "websocket",
// Connection "Upgrade", the Sec-WebSocket-Accept matching the key it sent, and no
// subprotocol or extension that was not offered. On success it returns the 101 response,
// whose body is empty. When the server answered but the handshake failed (another status,
// such as a redirect, which Dial does not follow, or 401; or a response that breaks a rule),
// Dial returns the response with the error, so that its status and header can be inspected;
// its Body holds up to the first 4 KiB of the server's body and need not be closed.
//
// Errors name the URL dialed, without its query, which may carry credentials:
// "wsx: dial ws://example.com/chat: server answered "404 Not Found", want 101 ...".
//
// Dial does not wait for other handshakes to the same server to finish, as §4.1 client step 2
// asks of browsers: that rule protects servers from scripts, while programs that open many
// connections on purpose should limit their concurrency themselves.
func Dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := parseURL(urlStr)
	if err != nil {
		return nil, nil, fmt.Errorf("wsx: dial: %w", err)
	}
	ctx, cancel := withHandshakeTimeout(ctx)
	defer cancel()
	c, resp, err := dialTransport(ctx, u, opts) // dial_stream.go
	if err != nil {
		return nil, resp, fmt.Errorf("wsx: dial %s: %w", displayURL(u), err)
	}
	return c, resp, nil
}

// withHandshakeTimeout gives ctx the default handshake deadline if it has none.
func withHandshakeTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, handshakeTimeout)
}

// displayURL returns u, parsed by parseURL, as errors show it: with its WebSocket scheme and
// its path, which tells which resource a 404 is about, but without its query, which may
// carry a token.
func displayURL(u *url.URL) string {
	return wsScheme(u) + "://" + u.Host + u.EscapedPath()
}

// parseURL checks a WebSocket URI (§3, §4.1 client step 1) and returns it with the http or
// https scheme, the form an HTTP request and http.ProxyFromEnvironment expect.
func parseURL(s string) (*url.URL, error) {
	// §3: fragments MUST NOT be used, and a '#' that is not one must be escaped as %23, so
	// any '#' is an error (url.Parse would silently accept an empty fragment).
	if strings.IndexByte(s, '#') >= 0 {
		return nil, fmt.Errorf("invalid URL %q: WebSocket URIs have no fragment; escape '#' as %%23 (§3)", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch u.Scheme { // url.Parse lowers the scheme (§3: it matches case-insensitively)
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("invalid URL %q: scheme must be ws or wss (§3)", s)
	}
	switch {
	case u.Opaque != "":
		return nil, fmt.Errorf("invalid URL %q: want %s://host/path (§3)", s, wsScheme(u))
	case u.User != nil:
		// A ws-URI's authority is host and port only; credentials go in DialOptions.Header.
		return nil, fmt.Errorf("invalid URL %s://%s: WebSocket URIs have no userinfo; send credentials in an Authorization header (§3)", wsScheme(u), u.Host)
	case u.Hostname() == "":
		return nil, fmt.Errorf("invalid URL %q: no host (§3)", s)
	}
	for i := 0; i < len(u.Host); i++ {
		if u.Host[i] >= 0x80 {
			return nil, fmt.Errorf("invalid URL %q: the host must be ASCII; write an internationalized name in its xn-- form", s)
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("invalid URL %q: bad port %q (§3)", s, p)
		}
	}
	if target := u.RequestURI(); !validRequestTarget(target) {
		return nil, fmt.Errorf("invalid URL %q: the path and query must not hold spaces or control characters", s)
	}
	return u, nil
}

// wsScheme returns the WebSocket scheme of u, which parseURL gave an http or https scheme.
func wsScheme(u *url.URL) string {
	if u.Scheme == "https" {
		return "wss"
	}
	return "ws"
}

// validRequestTarget reports whether s can be sent as an HTTP request-target: url.Parse lets
// spaces through in a query, which would break the request line.
func validRequestTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// defaultPort returns the port §3 assigns to a scheme when the URI names none: 80 for ws,
// 443 for wss; also those of http and https proxies, and 1080 for SOCKS (RFC 1928 §3).
func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "socks5", "socks5h":
		return "1080"
	}
	return "80"
}

// hostPort returns the host of u without an IPv6 zone (a zone means nothing to the peer) and
// its port, the scheme's default when u names none.
func hostPort(u *url.URL) (host, port string) {
	host, _, _ = strings.Cut(u.Hostname(), "%")
	port = u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return host, port
}

// hostHeader returns the Host field of §4.1 item 4: the host, bracketed when it is an IPv6
// literal, followed by ":port" only when the port is not the scheme's default.
func hostHeader(u *url.URL) string {
	host, port := hostPort(u)
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if port != defaultPort(u.Scheme) {
		host += ":" + port
	}
	return host
}

// offerExtensions returns the extensions Dial offers in Sec-WebSocket-Extensions (§4.1 item
// 11, §9.1), most preferred first; the response may accept no other.
func offerExtensions(opts *DialOptions) []header.Extension {
	if opts.Compression == nil {
		return nil
	}
	return []header.Extension{deflate.ClientOffer(opts.Compression.config())}
}

// acceptExtensions applies the extensions the server accepted (already checked to be among
// those offered) to the connection's configuration.
func acceptExtensions(cfg *connConfig, accepted []header.Extension, opts *DialOptions) error {
	for _, e := range accepted {
		if !strings.EqualFold(e.Name, deflate.ExtensionName) || opts.Compression == nil {
			continue
		}
		dcfg := opts.Compression.config()
		params, err := deflate.ClientAccept(e, dcfg) // the error quotes the answer
		if err != nil {
			return err
		}
		cfg.deflate, cfg.compression = &params, dcfg
	}
	return nil
}

// newRequest builds the client's opening handshake (§4.1 items 1-12) for u, making offer.
func newRequest(ctx context.Context, u *url.URL, offer *handshake.Offer, opts *DialOptions) (*http.Request, error) {
	h := make(http.Header, len(opts.Header)+8)
	for name, values := range opts.Header {
		if err := checkExtraField(name, values); err != nil {
			return nil, err
		}
		h[name] = slices.Clone(values)
	}
	h[handshake.FieldUpgrade] = []string{"websocket"}
	h[handshake.FieldConnection] = []string{"Upgrade"}
	h[handshake.FieldKey] = []string{offer.Key}
	h[handshake.FieldVersion] = []string{handshake.Version}
	if opts.Origin != "" {
		if !header.ValidFieldValue(opts.Origin) {
			return nil, fmt.Errorf("invalid Origin %q", opts.Origin)
		}
		h[handshake.FieldOrigin] = []string{opts.Origin}
	}
	if len(offer.Protocols) > 0 {
		for i, p := range offer.Protocols {
			// §4.1 item 10: non-empty tokens, all unique.
			if !header.IsToken(p) {
				return nil, fmt.Errorf("invalid subprotocol %q: not a token (§4.1)", p)
			}
			if slices.Contains(offer.Protocols[:i], p) {
				return nil, fmt.Errorf("subprotocol %q offered twice (§4.1)", p)
			}
		}
		h[handshake.FieldProtocol] = []string{strings.Join(offer.Protocols, ", ")}
	}
	if len(offer.Extensions) > 0 {
		offers := make([]string, len(offer.Extensions))
		for i, e := range offer.Extensions {
			offers[i] = e.String()
		}
		h[handshake.FieldExtensions] = []string{strings.Join(offers, ", ")}
	}
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       hostHeader(u),
	}
	return req.WithContext(ctx), nil
}

// checkExtraField refuses a DialOptions.Header field that would contradict the handshake or
// break the HTTP request.
func checkExtraField(name string, values []string) error {
	switch {
	case !header.IsToken(name):
		return fmt.Errorf("invalid header field name %q", name)
	case handshake.IsOwnField(name), strings.EqualFold(name, "Host"):
		return fmt.Errorf("DialOptions.Header must not set %s: the handshake sets it (use the URL, Subprotocols or Origin)", name)
	case strings.EqualFold(name, handshake.FieldOrigin):
		return errors.New("DialOptions.Header must not set Origin: use DialOptions.Origin")
	case strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Transfer-Encoding"):
		return fmt.Errorf("DialOptions.Header must not set %s: the handshake request has no body", name)
	}
	for _, v := range values {
		if !header.ValidFieldValue(v) {
			return fmt.Errorf("invalid value %q for header field %s", v, name)
		}
	}
	return nil
}

// ownField is a field of the handshake request: its http.Header key and its spelling on
// the wire, the RFC's, for servers that compare names case-sensitively against the RFC.
type ownField struct{ key, wire string }

var ownFields = [...]ownField{
	{handshake.FieldUpgrade, "Upgrade"},
	{handshake.FieldConnection, "Connection"},
	{handshake.FieldKey, "Sec-WebSocket-Key"},
	{handshake.FieldVersion, "Sec-WebSocket-Version"},
	{handshake.FieldOrigin, "Origin"},
	{handshake.FieldProtocol, "Sec-WebSocket-Protocol"},
	{handshake.FieldExtensions, "Sec-WebSocket-Extensions"},
}

// appendRequest appends the wire form of req: the request line, then Host and the
// handshake's own fields in a fixed order, then the extra fields sorted by name.
func appendRequest(b []byte, req *http.Request) []byte {
	b = append(b, "GET "...)
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\n"...)
	for _, f := range ownFields {
		b = appendField(b, f.wire, req.Header[f.key])
	}
	extra := make([]string, 0, len(req.Header))
	for name := range req.Header {
		if !slices.ContainsFunc(ownFields[:], func(f ownField) bool { return f.key == name }) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		b = appendField(b, name, req.Header[name])
	}
	return append(b, "\r\n"...)
}

func appendField(b []byte, name string, values []string) []byte {
	for _, v := range values {
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	return b
}

// dial connects to u, directly or through a proxy, and runs the opening handshake.
func dial(ctx context.Context, u *url.URL, opts *DialOptions) (_ *Conn, _ *http.Response, err error) {
	offer := handshake.Offer{
		Key:        NewKey(), // §4.1 item 7: a fresh nonce for every connection
		Protocols:  opts.Subprotocols,
		Extensions: offerExtensions(opts),
	}
	req, err := newRequest(ctx, u, &offer, opts)
	if err != nil {
		return nil, nil, err
	}
	proxyURL, err := proxyFor(opts, req)
	if err != nil {
		return nil, nil, err
	}
	host, port := hostPort(u)
	addr := net.JoinHostPort(u.Hostname(), port) // the zone, if any, matters for dialing
	if proxyURL != nil {
		phost, pport := hostPort(proxyURL)
		addr = net.JoinHostPort(phost, pport)
	}

	// Errors from here on are prefixed with the stage they happened in; one caused by ctx is
	// reported as ctx's error, which the failing operation may show only as a closed
	// connection, an expired deadline or a response cut short.
	var (
		stage    string
		nc       net.Conn
		stop     = func() bool { return true }
		deadline = handshakeDeadline(ctx)
	)
	defer func() {
		if err == nil {
			return
		}
		if nc != nil {
			stop()
			nc.Close()
		}
		cause := handshakeCause(ctx, deadline, err)
		switch {
		case stage != "" && cause != nil:
			err = fmt.Errorf("%s: %w", stage, cause)
		case stage != "":
			err = fmt.Errorf("%s: %w", stage, err)
		case cause != nil: // the TCP dial: net names the address; ctx names the cause
			err = fmt.Errorf("%w (%v)", cause, err)
		}
	}()

	dialer := opts.NetDialContext
	if dialer == nil {
		dialer = new(net.Dialer).DialContext
	}
	if nc, err = dialer(ctx, "tcp", addr); err != nil { // net's errors name the address
		return nil, nil, err
	}
	if nc == nil {
		return nil, nil, errors.New("DialOptions.NetDialContext returned neither a connection nor an error")
	}
	// ctx bounds every step through nc: its deadline is nc's, and cancelling it closes nc,
	// which ends any read or write in progress.
	stop = context.AfterFunc(ctx, func() { nc.Close() })
	nc.SetDeadline(deadline)

	conn := nc
	if proxyURL != nil {
		stage = "proxy " + proxyURL.Redacted()
		phost, _ := hostPort(proxyURL)
		cfg := tlsConfig(opts.TLSConfig, phost)
		cfg.ServerName = phost // TLSConfig.ServerName, if set, names the server, not the proxy
		if conn, err = proxy.Tunnel(ctx, conn, proxyURL, cfg, host, port); err != nil {
			return nil, nil, err
		}
	}
	if u.Scheme == "https" {
		// §4.1 client step 5: TLS before the handshake, with SNI.
		stage = "TLS handshake"
		tc := tls.Client(conn, tlsConfig(opts.TLSConfig, host))
		if err = tc.HandshakeContext(ctx); err != nil {
			return nil, nil, err
		}
		conn = tc
	}

	stage = "sending the opening handshake"
	if _, err = conn.Write(appendRequest(make([]byte, 0, 512), req)); err != nil {
		return nil, nil, err
	}
	stage = "reading the opening handshake response"
	hr := &httphead.HeadReader{R: conn, Limit: maxResponseHead}
	br := bufio.NewReader(hr)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, hr.Cause(err)
	}
	stage = "" // the findings say what they are about
	var answer handshake.Answer
	if f := handshake.CheckResponse(resp, &offer, &answer); f.Failed() {
		if resp.StatusCode != http.StatusSwitchingProtocols {
			keepErrorBody(conn, resp)
		}
		return nil, resp, errors.New(f.Problem)
	}

	if !stop() {
		return nil, resp, context.Cause(ctx) // too late: the AfterFunc closed nc
	}
	nc.SetDeadline(time.Time{})
	hr.Limit = math.MaxInt // the connection owns the reader now
	cfg, err := clientConfig(&answer, opts)
	if err != nil {
		conn.Close()
		return nil, resp, err
	}
	if br.Buffered() > 0 {
		cfg.br = br // frames the server sent right behind its response
	}
	return newConn(conn, cfg), resp, nil
}

// clientConfig returns the configuration of a client Conn whose server agreed to answer.
func clientConfig(answer *handshake.Answer, opts *DialOptions) (connConfig, error) {
	cfg := connConfig{client: true, subprotocol: answer.Protocol, opts: opts.ConnOptions}
	if len(answer.Extensions) > 0 {
		names := make([]string, len(answer.Extensions))
		for i, e := range answer.Extensions {
			names[i] = e.String()
		}
		cfg.extensions = strings.Join(names, ", ")
		if err := acceptExtensions(&cfg, answer.Extensions, opts); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// proxyFor returns the proxy DialOptions choose for the handshake request req, or nil for
// a direct connection.
func proxyFor(opts *DialOptions, req *http.Request) (*url.URL, error) {
	choose := opts.Proxy
	if choose == nil {
		choose = http.ProxyFromEnvironment
	}
	p, err := choose(req)
	if err != nil {
		return nil, fmt.Errorf("choosing a proxy: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	switch p.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy %s: unsupported scheme %q; want http, https, socks5 or socks5h", p.Redacted(), p.Scheme)
	}
	if p.Hostname() == "" {
		return nil, fmt.Errorf("proxy %s: no host", p.Redacted())
	}
	return p, nil
}

// tlsConfig returns the TLS configuration to reach serverName with.
func tlsConfig(base *tls.Config, serverName string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// keepErrorBody replaces the body of a refusal with its first errorBodyLimit bytes, read
// now, before the connection closes. A slow body is cut short after errorBodyTimeout.
func keepErrorBody(conn net.Conn, resp *http.Response) {
	deadline := time.Now().Add(errorBodyTimeout)
	if d, ok := resp.Request.Context().Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetReadDeadline(deadline)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	resp.Body = io.NopCloser(bytes.NewReader(body))
}
