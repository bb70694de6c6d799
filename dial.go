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
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/header"
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
	// maxResponseHeaderBytes bounds what a server can make Dial buffer before its response
	// ends (http.ReadResponse has no bound of its own); it matches net/http's server
	// default for requests.
	maxResponseHeaderBytes = 1 << 20
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
// the connection's reads and writes take their own contexts.
//
// Dial validates the server's response as §4.1 requires: status 101, Upgrade "websocket",
// Connection "Upgrade", the Sec-WebSocket-Accept matching the key it sent, and no
// subprotocol or extension that was not offered. On success it returns the 101 response,
// whose body is empty. When the server answered but the handshake failed (another status,
// such as a redirect, which Dial does not follow, or 401; or a response that breaks a rule),
// Dial returns the response with the error, so that its status and header can be inspected;
// its Body holds up to the first 4 KiB of the server's body and need not be closed.
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
		// The URL's path and query may carry secrets; its scheme and host say enough.
		return nil, resp, fmt.Errorf("wsx: dial %s://%s: %w", wsScheme(u), u.Host, err)
	}
	return c, resp, nil
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
// 11, §9.1), most preferred first. checkResponse refuses any other in the response. None
// yet; permessage-deflate (RFC 7692) will be offered here.
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
		params, err := deflate.ClientAccept(e, dcfg)
		if err != nil {
			return fmt.Errorf("wsx: server's permessage-deflate answer %q: %w", e.String(), err)
		}
		cfg.deflate, cfg.compression = &params, dcfg
	}
	return nil
}

// newRequest builds the client's opening handshake (§4.1 items 1-12) for u, with key as
// its Sec-WebSocket-Key.
func newRequest(ctx context.Context, u *url.URL, key string, opts *DialOptions, exts []header.Extension) (*http.Request, error) {
	h := make(http.Header, len(opts.Header)+8)
	for name, values := range opts.Header {
		if err := checkExtraField(name, values); err != nil {
			return nil, err
		}
		h[name] = slices.Clone(values)
	}
	h[hdrUpgrade] = []string{"websocket"}
	h[hdrConnection] = []string{"Upgrade"}
	h[hdrKey] = []string{key}
	h[hdrVersion] = []string{version}
	if opts.Origin != "" {
		if !validFieldValue(opts.Origin) {
			return nil, fmt.Errorf("invalid Origin %q", opts.Origin)
		}
		h[hdrOrigin] = []string{opts.Origin}
	}
	if len(opts.Subprotocols) > 0 {
		for i, p := range opts.Subprotocols {
			// §4.1 item 10: non-empty tokens, all unique.
			if !header.IsToken(p) {
				return nil, fmt.Errorf("invalid subprotocol %q: not a token (§4.1)", p)
			}
			if slices.Contains(opts.Subprotocols[:i], p) {
				return nil, fmt.Errorf("subprotocol %q offered twice (§4.1)", p)
			}
		}
		h[hdrProtocol] = []string{strings.Join(opts.Subprotocols, ", ")}
	}
	if len(exts) > 0 {
		offers := make([]string, len(exts))
		for i, e := range exts {
			offers[i] = e.String()
		}
		h[hdrExtensions] = []string{strings.Join(offers, ", ")}
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
	case len(name) > len("Sec-WebSocket-") && strings.EqualFold(name[:len("Sec-WebSocket-")], "Sec-WebSocket-"),
		strings.EqualFold(name, "Host"), strings.EqualFold(name, hdrUpgrade),
		strings.EqualFold(name, hdrConnection):
		return fmt.Errorf("DialOptions.Header must not set %s: the handshake sets it (use the URL, Subprotocols or Origin)", name)
	case strings.EqualFold(name, hdrOrigin):
		return errors.New("DialOptions.Header must not set Origin: use DialOptions.Origin")
	case strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Transfer-Encoding"):
		return fmt.Errorf("DialOptions.Header must not set %s: the handshake request has no body", name)
	}
	for _, v := range values {
		if !validFieldValue(v) {
			return fmt.Errorf("invalid value %q for header field %s", v, name)
		}
	}
	return nil
}

// validFieldValue reports whether v is a valid field value (RFC 9110 §5.5): no control
// characters other than HTAB, so that no value can end the field or the request early.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// ownField is a field of the handshake request: its http.Header key and its spelling on
// the wire, the RFC's, for servers that compare names case-sensitively against the RFC.
type ownField struct{ key, wire string }

var ownFields = [...]ownField{
	{hdrUpgrade, "Upgrade"},
	{hdrConnection, "Connection"},
	{hdrKey, "Sec-WebSocket-Key"},
	{hdrVersion, "Sec-WebSocket-Version"},
	{hdrOrigin, "Origin"},
	{hdrProtocol, "Sec-WebSocket-Protocol"},
	{hdrExtensions, "Sec-WebSocket-Extensions"},
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
	exts := offerExtensions(opts)
	key := NewKey() // §4.1 item 7: a fresh nonce for every connection
	req, err := newRequest(ctx, u, key, opts, exts)
	if err != nil {
		return nil, nil, err
	}
	proxy, err := proxyFor(opts, req)
	if err != nil {
		return nil, nil, err
	}
	host, port := hostPort(u)
	addr := net.JoinHostPort(u.Hostname(), port) // the zone, if any, matters for dialing
	if proxy != nil {
		phost, pport := hostPort(proxy)
		addr = net.JoinHostPort(phost, pport)
	}

	// Errors from here on are prefixed with the stage they happened in; one caused by ctx is
	// reported as ctx's error, which the failing operation may show only as a closed
	// connection or an expired deadline.
	var (
		stage string
		nc    net.Conn
		stop  = func() bool { return true }
	)
	defer func() {
		if err == nil {
			return
		}
		if nc != nil {
			stop()
			nc.Close()
		}
		if stage != "" {
			if cerr := contextCause(ctx, err); cerr != nil {
				err = cerr
			}
			err = fmt.Errorf("%s: %w", stage, err)
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
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}

	conn := nc
	if proxy != nil {
		stage = "proxy " + proxy.Redacted()
		if conn, err = proxyConnect(ctx, conn, proxy, opts, host, port); err != nil {
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
	lr := &limitReader{r: conn, n: maxResponseHeaderBytes}
	br := bufio.NewReader(lr)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, err
	}
	stage = "" // checkResponse's errors say what they are about
	subprotocol, accepted, err := checkResponse(resp, key, opts.Subprotocols, exts)
	if err != nil {
		if resp.StatusCode != http.StatusSwitchingProtocols {
			keepErrorBody(conn, resp)
		}
		return nil, resp, err
	}

	if !stop() {
		return nil, resp, ctx.Err() // too late: the AfterFunc closed nc
	}
	nc.SetDeadline(time.Time{})
	lr.n = math.MaxInt // the connection owns the reader now
	cfg, err := clientConfig(subprotocol, accepted, opts)
	if err != nil {
		conn.Close()
		return nil, resp, err
	}
	if br.Buffered() > 0 {
		cfg.br = br // frames the server sent right behind its response
	}
	return newConn(conn, cfg), resp, nil
}

// clientConfig returns the configuration of a client Conn that agreed on subprotocol and the
// accepted extensions.
func clientConfig(subprotocol string, accepted []header.Extension, opts *DialOptions) (connConfig, error) {
	cfg := connConfig{client: true, subprotocol: subprotocol, opts: opts.ConnOptions}
	if len(accepted) > 0 {
		names := make([]string, len(accepted))
		for i, e := range accepted {
			names[i] = e.String()
		}
		cfg.extensions = strings.Join(names, ", ")
		if err := acceptExtensions(&cfg, accepted, opts); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// contextCause returns ctx's error if ctx caused err, and nil otherwise.
func contextCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	// nc's deadline is ctx's, and may pass a moment before ctx is marked done.
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return nil
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

// checkResponse validates the server's opening handshake response to a request with the
// given key, subprotocols and extension offers (§4.1, "the client MUST validate the
// server's response"), and returns the subprotocol and extensions in use. It does no I/O.
func checkResponse(resp *http.Response, key string, subprotocols []string, offered []header.Extension) (subprotocol string, exts []header.Extension, err error) {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", nil, fmt.Errorf("server answered %q, want 101 Switching Protocols (§4.1)", resp.Status)
	}
	if !resp.ProtoAtLeast(1, 1) {
		return "", nil, fmt.Errorf("server answered 101 in %s, want HTTP/1.1 (§4.1)", resp.Proto)
	}
	// §4.1 response item 2: Upgrade is "websocket", case-insensitively, and nothing else.
	up := resp.Header.Values(hdrUpgrade)
	if tokens, err := header.AppendTokens(nil, up); len(up) == 0 || err != nil ||
		slices.ContainsFunc(tokens, func(t string) bool { return !strings.EqualFold(t, "websocket") }) {
		return "", nil, fmt.Errorf("response Upgrade is %s, want \"websocket\" (§4.1)", quoteValues(up))
	}
	// §4.1 response item 3: Connection has the token "Upgrade", case-insensitively.
	if conn := resp.Header.Values(hdrConnection); !header.HasToken(conn, "upgrade") {
		return "", nil, fmt.Errorf("response Connection is %s, want the token \"Upgrade\" (§4.1)", quoteValues(conn))
	}
	// §4.1 response item 4, ignoring leading and trailing whitespace.
	want := AcceptKey(key)
	if got := resp.Header.Values(hdrAccept); len(got) != 1 || strings.TrimSpace(got[0]) != want {
		return "", nil, fmt.Errorf("response Sec-WebSocket-Accept is %s, want %q (§4.1)", quoteValues(got), want)
	}
	return checkNegotiated(resp, subprotocols, offered)
}

// checkNegotiated checks the subprotocol and extensions of a response that accepted the
// handshake, over any transport, and returns them.
func checkNegotiated(resp *http.Response, subprotocols []string, offered []header.Extension) (subprotocol string, exts []header.Extension, err error) {
	// §4.1 response item 6; the server names one subprotocol (§4.2.2 /subprotocol/).
	if got := resp.Header.Values(hdrProtocol); len(got) > 0 {
		tokens, err := header.AppendTokens(nil, got)
		if err != nil || len(tokens) != 1 {
			return "", nil, fmt.Errorf("response Sec-WebSocket-Protocol is %s, want one subprotocol (§4.2.2)", quoteValues(got))
		}
		if !slices.Contains(subprotocols, tokens[0]) {
			return "", nil, fmt.Errorf("server chose subprotocol %q, which was not offered (§4.1)", tokens[0])
		}
		subprotocol = tokens[0]
	}
	// §4.1 response item 5: every extension in use was offered. An offer's own code checks
	// the parameters the server chose.
	exts, err = header.ParseExtensions(resp.Header.Values(hdrExtensions))
	if err != nil {
		return "", nil, fmt.Errorf("response Sec-WebSocket-Extensions: %w (§9.1)", err)
	}
	// Names compare exactly, as registered (§11.4).
	for i, e := range exts {
		if !slices.ContainsFunc(offered, func(o header.Extension) bool { return o.Name == e.Name }) {
			return "", nil, fmt.Errorf("server accepted extension %q, which was not offered (§4.1)", e.Name)
		}
		// Dial offers each extension for one place in the chain; a second acceptance has no
		// meaning.
		if slices.ContainsFunc(exts[:i], func(o header.Extension) bool { return o.Name == e.Name }) {
			return "", nil, fmt.Errorf("server accepted extension %q twice (§9.1)", e.Name)
		}
	}
	return subprotocol, exts, nil
}

// quoteValues formats a header field's values for an error message.
func quoteValues(values []string) string {
	switch len(values) {
	case 0:
		return "missing"
	case 1:
		return strconv.Quote(values[0])
	}
	return fmt.Sprintf("%q", values)
}

// limitReader fails once more than n bytes have been read. Unlike io.LimitedReader it says
// why, and the limit can be lifted.
type limitReader struct {
	r io.Reader
	n int
}

var errResponseTooLarge = errors.New("response header too large")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errResponseTooLarge
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}
