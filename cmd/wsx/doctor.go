package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
)

const doctorUsage = `Usage: wsx doctor [flags] URL
       wsx doctor --listen [addr]

Performs the opening handshake with the server at URL step by step, over a raw TCP (and
TLS) connection, and prints the whole request and the whole response. Then it checks every
rule the client must check (RFC 6455 §4.1) and explains what is wrong, and which section
says so: a wrong Sec-WebSocket-Accept (naming the likely mistake: wrong GUID, key hashed
with whitespace, hex instead of base64, SHA-256 instead of SHA-1, key echoed back...), a
missing or wrong Upgrade or Connection header, a status other than 101 (with its body), an
unsupported version and the one the server asked for, a subprotocol or extension that was
not offered. It also times DNS, TCP, TLS and the handshake, summarises the TLS certificate,
and finishes with a closing handshake. Proxies are not used: the doctor talks to the server
directly.

-H adds a header or, with the name of one of the handshake's own headers, replaces it, so
that you can see how the server reacts to a broken request: -H 'Sec-WebSocket-Version: 8'.
-H 'Name:' removes a header.

With --listen, the doctor is the server instead: it receives handshakes (point a browser or
any client at it), prints each request and explains what is wrong with it (§4.2.1). A valid
handshake is answered with 101 and then closed with 1000; an invalid one gets 400 and the
list of problems.

Exit status: 0 the handshake is valid; 1 it is not, or the server could not be reached;
2 usage error. With --listen --once: the verdict on the first handshake received.

Examples:
  wsx doctor ws://127.0.0.1:8080/
  wsx doctor -s chat.v2 --origin https://app.example.com wss://example.com/socket
  wsx doctor -H 'Sec-WebSocket-Version: 8' ws://127.0.0.1:8080/    # does the server answer 426?
  wsx doctor --listen 127.0.0.1:9000    # then, in a browser console: new WebSocket("ws://127.0.0.1:9000/")
  wsx doctor --http2 wss://127.0.0.1:8443/   # RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL, CONNECT, 200
  wsx doctor --http3 wss://127.0.0.1:8443/   # RFC 9220 over QUIC
`

// doctorConfig is what the flags of wsx doctor select.
type doctorConfig struct {
	headers    headerFlag
	protocols  listFlag
	extensions listFlag
	origin     string
	key        string
	insecure   bool
	timeout    time.Duration
	listen     bool
	once       bool
	http2      bool // doctor_stream.go
	http3      bool
}

func runDoctor(ctx context.Context, e *env, args []string) int {
	f := newFlags("doctor", doctorUsage)
	var cfg doctorConfig
	f.Var(&cfg.headers, "H", "add, replace or (with an empty value) remove a request header `'Name: value'`")
	f.Var(&cfg.protocols, "subprotocol", "offer subprotocol `name`s (repeat or comma-separate)")
	f.Var(&cfg.protocols, "s", "short for --subprotocol")
	f.Var(&cfg.extensions, "extension", "offer extension `offer`s, such as 'permessage-deflate; client_max_window_bits'")
	f.StringVar(&cfg.origin, "origin", "", "send Origin `origin`, as a browser would")
	f.StringVar(&cfg.key, "key", "", "send this Sec-WebSocket-Key `key` instead of a fresh one")
	f.BoolVar(&cfg.insecure, "insecure", false, "accept a TLS certificate that does not verify (reported as a warning)")
	f.BoolVar(&cfg.insecure, "k", false, "short for --insecure")
	f.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "time allowed for each step (`duration`)")
	f.BoolVar(&cfg.listen, "listen", false, "receive handshakes on addr (default 127.0.0.1:9000) and explain them")
	f.BoolVar(&cfg.once, "once", false, "with --listen: stop after the first handshake and exit with its verdict")
	f.BoolVar(&cfg.http2, "http2", false, "check a WebSocket over HTTP/2 (RFC 8441): ALPN, SETTINGS, the extended CONNECT")
	f.BoolVar(&cfg.http3, "http3", false, "check a WebSocket over HTTP/3 (RFC 9220): QUIC, SETTINGS, the extended CONNECT")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if cfg.listen {
		switch len(pos) {
		case 0:
			return doctorListen(ctx, e, &cfg, "127.0.0.1:9000")
		case 1:
			addr := pos[0]
			if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
				addr = "127.0.0.1:" + addr
			}
			return doctorListen(ctx, e, &cfg, addr)
		}
		return f.usageError(e, "--listen takes at most one address, got %q", pos)
	}
	if cfg.once {
		return f.usageError(e, "--once goes with --listen")
	}
	if len(pos) != 1 {
		return f.usageError(e, "want exactly one URL, got %d arguments", len(pos))
	}
	u, err := url.Parse(pos[0])
	if err == nil {
		err = checkWebSocketURL(pos[0])
	}
	if err != nil {
		return f.usageError(e, "%v", err)
	}
	if u.Fragment != "" || strings.Contains(pos[0], "#") {
		return f.usageError(e, "bad URL %q: WebSocket URLs have no fragment (RFC 6455 §3)", pos[0])
	}
	d := &doctor{cfg: &cfg, u: u, rep: report{w: e.stdout}}
	d.tls = u.Scheme == "wss" || u.Scheme == "https"
	if cfg.http2 || cfg.http3 {
		return d.runStream(ctx)
	}
	return d.run(ctx)
}

// report prints the verdicts of the checks and counts the problems.
type report struct {
	w        io.Writer
	problems int
	warnings int
	failed   []string // the first line of each failed check
}

func (r *report) line(format string, args ...any) { fmt.Fprintf(r.w, format+"\n", args...) }

// ok, fail and warn print one check; the lines of more are explanations, indented below it.
func (r *report) ok(msg string, more ...string) { r.check("ok  ", msg, more) }

func (r *report) fail(msg string, more ...string) {
	r.problems++
	r.failed = append(r.failed, msg)
	r.check("FAIL", msg, more)
}

func (r *report) warn(msg string, more ...string) {
	r.warnings++
	r.check("warn", msg, more)
}

func (r *report) info(msg string, more ...string) { r.check("    ", msg, more) }

func (r *report) check(tag, msg string, more []string) {
	fmt.Fprintf(r.w, "  %s  %s\n", tag, msg)
	for _, m := range more {
		fmt.Fprintf(r.w, "        %s\n", m)
	}
}

// doctor is one run of wsx doctor URL.
type doctor struct {
	cfg *doctorConfig
	u   *url.URL
	tls bool
	rep report

	timings []string // "DNS 1ms", ...
}

func (d *doctor) timing(step string, t time.Duration) {
	d.timings = append(d.timings, step+" "+formatDuration(t))
}

func (d *doctor) run(ctx context.Context) int {
	start := time.Now()
	r := &d.rep
	r.line("wsx doctor %s", d.u.Redacted())
	r.line("")
	conn, err := d.connect(ctx)
	if err != nil {
		r.fail(err.Error())
		return d.verdict(start)
	}
	defer conn.Close()

	key := d.cfg.key
	if key == "" {
		key = wsx.NewKey()
	}
	req, offered := d.request(key)
	r.line("")
	printHead(r, "> ", req)
	conn.SetDeadline(time.Now().Add(d.cfg.timeout))
	sent := time.Now()
	if _, err := conn.Write(req); err != nil {
		r.fail("sending the request: " + err.Error())
		return d.verdict(start)
	}
	br := bufio.NewReader(conn)
	head, err := readHead(br, maxHead)
	if err != nil {
		printHead(r, "< ", head)
		r.line("")
		switch {
		case errors.Is(err, io.EOF) && len(head) == 0:
			r.fail("the server closed the connection without answering",
				"it may not speak HTTP on this port, or expect TLS (wss://) or plain TCP (ws://)")
		case isTimeoutErr(err):
			r.fail(fmt.Sprintf("no complete response within %v", d.cfg.timeout),
				"the server may not speak HTTP on this port, or expect TLS (wss://)")
		default:
			r.fail("reading the response: " + err.Error())
		}
		return d.verdict(start)
	}
	d.timing("handshake", time.Since(sent))
	printHead(r, "< ", head)
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(head), br)), nil)
	if err != nil {
		r.line("")
		r.fail("the response is not valid HTTP: "+err.Error(), "§4.1: the server's handshake is an HTTP/1.1 response (RFC 9112)")
		return d.verdict(start)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		printBody(r, conn, resp)
	}
	r.line("")
	r.line("Checks:")
	if valid := d.checkResponse(resp, head, key, offered); valid {
		d.closingHandshake(conn, br)
	}
	return d.verdict(start)
}

// verdict prints the timings and the result, and returns the exit status.
func (d *doctor) verdict(start time.Time) int {
	r := &d.rep
	d.timing("total", time.Since(start))
	r.line("")
	r.line("Timings: %s", strings.Join(d.timings, ", "))
	var warnings string
	switch r.warnings {
	case 0:
	case 1:
		warnings = " (1 warning)"
	default:
		warnings = fmt.Sprintf(" (%d warnings)", r.warnings)
	}
	switch r.problems {
	case 0:
		r.line("Result: the handshake is valid%s.", warnings)
		return exitOK
	case 1:
		r.line("Result: 1 problem%s.", warnings)
	default:
		r.line("Result: %d problems%s.", r.problems, warnings)
	}
	return exitFail
}

// connect resolves the host, connects, and does TLS, reporting each step.
func (d *doctor) connect(ctx context.Context) (net.Conn, error) {
	r := &d.rep
	host := d.u.Hostname()
	port := d.u.Port()
	if port == "" {
		port = "80"
		if d.tls {
			port = "443"
		}
	}
	var addrs []string
	if ip := net.ParseIP(host); ip != nil {
		addrs = []string{host}
		r.line("* DNS   %s is an address", host)
	} else {
		t := time.Now()
		lctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
		ips, err := net.DefaultResolver.LookupIPAddr(lctx, host)
		cancel()
		d.timing("DNS", time.Since(t))
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %v", host, err)
		}
		for _, ip := range ips {
			addrs = append(addrs, ip.String())
		}
		r.line("* DNS   %s: %s (%s)", host, strings.Join(addrs, ", "), formatDuration(time.Since(t)))
	}

	var conn net.Conn
	for _, a := range addrs {
		t := time.Now()
		dctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
		c, err := new(net.Dialer).DialContext(dctx, "tcp", net.JoinHostPort(a, port))
		cancel()
		if err != nil {
			r.line("* TCP   %s: %v", net.JoinHostPort(a, port), errors.Unwrap(err))
			continue
		}
		d.timing("TCP", time.Since(t))
		r.line("* TCP   connected to %s (%s)", c.RemoteAddr(), formatDuration(time.Since(t)))
		conn = c
		break
	}
	if conn == nil {
		return nil, fmt.Errorf("could not connect to %s on port %s", host, port)
	}
	if !d.tls {
		return conn, nil
	}

	t := time.Now()
	// Verification is done below, by hand, so that an untrusted certificate can be shown.
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, NextProtos: d.nextProtos()})
	hctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %v (is it a wss:// server on this port?)", conn.RemoteAddr(), err)
	}
	d.timing("TLS", time.Since(t))
	cs := tc.ConnectionState()
	alpn := cs.NegotiatedProtocol
	if alpn == "" {
		alpn = "none"
	}
	r.line("* TLS   %s, %s, ALPN %s (%s)", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), alpn, formatDuration(time.Since(t)))
	d.certificate(cs, host)
	return tc, nil
}

// certificate summarises the server's certificate and verifies it against the system roots.
func (d *doctor) certificate(cs tls.ConnectionState, host string) {
	r := &d.rep
	if len(cs.PeerCertificates) == 0 {
		r.fail("the server sent no certificate")
		return
	}
	leaf := cs.PeerCertificates[0]
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	r.line("        certificate: %s", leaf.Subject)
	r.line("        names:       %s", strings.Join(names, ", "))
	r.line("        issuer:      %s", leaf.Issuer)
	left := time.Until(leaf.NotAfter)
	r.line("        valid:       %s to %s (%d days left)", leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly), int(left.Hours()/24))
	r.line("        key:         %s, signed with %s", leaf.PublicKeyAlgorithm, leaf.SignatureAlgorithm)
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter})
	switch {
	case err == nil:
		r.line("        verified:    yes")
	case d.cfg.insecure:
		r.line("        verified:    NO: %v", err)
		r.warn("the certificate does not verify (ignored: --insecure)")
	default:
		r.line("        verified:    NO: %v", err)
		r.fail("the certificate does not verify: "+err.Error(),
			"a client must fail the connection (RFC 6455 §4.1 client step 5); --insecure goes on anyway")
	}
}

// request builds the opening handshake (§4.1 items 1-12) with -H applied, and returns it with
// the header values the response is checked against.
func (d *doctor) request(key string) ([]byte, offer) {
	host := d.u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := d.u.Port(); p != "" && !(p == "80" && !d.tls) && !(p == "443" && d.tls) {
		host += ":" + p
	}
	fields := [][2]string{
		{"Host", host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", key},
		{"Sec-WebSocket-Version", "13"},
	}
	if d.cfg.origin != "" {
		fields = append(fields, [2]string{"Origin", d.cfg.origin})
	}
	if len(d.cfg.protocols) > 0 {
		fields = append(fields, [2]string{"Sec-WebSocket-Protocol", strings.Join(d.cfg.protocols, ", ")})
	}
	if len(d.cfg.extensions) > 0 {
		fields = append(fields, [2]string{"Sec-WebSocket-Extensions", strings.Join(d.cfg.extensions, ", ")})
	}
	fields = append(fields, [2]string{"User-Agent", "wsx-doctor"})
	for _, h := range d.cfg.headers {
		i := slices.IndexFunc(fields, func(f [2]string) bool { return strings.EqualFold(f[0], h[0]) })
		switch {
		case i >= 0 && h[1] == "":
			fields = slices.Delete(fields, i, i+1)
		case i >= 0:
			fields[i][1] = h[1]
		case h[1] != "":
			fields = append(fields, h)
		}
	}
	target := d.u.RequestURI()
	b := []byte("GET " + target + " HTTP/1.1\r\n")
	var o offer
	for _, f := range fields {
		b = append(b, f[0]+": "+f[1]+"\r\n"...)
		switch http.CanonicalHeaderKey(f[0]) {
		case "Sec-Websocket-Protocol":
			o.protocols = append(o.protocols, splitList(f[1])...)
		case "Sec-Websocket-Extensions":
			// A malformed offer (-H can make one on purpose) offers what comes before the
			// mistake; checkResponse says what the server should have done with it.
			xs, err := parseExtensions(f[1])
			o.extensions = append(o.extensions, xs...)
			o.extensionsErr = errors.Join(o.extensionsErr, err)
		case "Sec-Websocket-Version":
			o.version = f[1]
		}
	}
	return append(b, "\r\n"...), o
}

// offer is what the request offered, for checking the response.
type offer struct {
	protocols     []string
	extensions    []extension
	extensionsErr error // what is malformed in the Sec-WebSocket-Extensions sent (§9.1)
	version       string
}

// maxHead bounds the response head the doctor reads.
const maxHead = 64 << 10

// readHead reads an HTTP message head, the start line and the header fields up to and
// including the empty line that ends them, and returns its bytes as received.
func readHead(br *bufio.Reader, limit int) ([]byte, error) {
	var head []byte
	lineStart := 0
	for {
		chunk, err := br.ReadSlice('\n')
		head = append(head, chunk...)
		if len(head) > limit {
			return head, fmt.Errorf("the head is longer than %d bytes", limit)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return head, err
		}
		if line := head[lineStart:]; string(line) == "\n" || string(line) == "\r\n" {
			return head, nil
		}
		lineStart = len(head)
	}
}

// printHead prints the lines of a head, escaped, each after prefix.
func printHead(r *report, prefix string, head []byte) {
	if len(head) == 0 {
		return
	}
	lines := strings.Split(string(head), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		r.line("%s", strings.TrimRight(prefix+escapeControl([]byte(strings.TrimSuffix(l, "\r"))), " "))
	}
}

// printBody prints up to 2 KiB of a refusal's body, where servers explain themselves.
func printBody(r *report, conn net.Conn, resp *http.Response) {
	conn.SetReadDeadline(time.Now().Add(time.Second))
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2<<10+1))
	more := len(body) > 2<<10
	if more {
		body = body[:2<<10]
	}
	if len(body) == 0 {
		return
	}
	if body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	printHead(r, "< ", body)
	if more {
		r.line("< [...]")
	} else if err != nil && !isTimeoutErr(err) {
		r.line("< [body cut short: %v]", err)
	}
}

// checkResponse checks the response against §4.1 and reports whether it establishes the
// connection.
func (d *doctor) checkResponse(resp *http.Response, head []byte, key string, o offer) bool {
	r := &d.rep
	before := r.problems
	if o.extensionsErr != nil {
		msg := fmt.Sprintf("the request's Sec-WebSocket-Extensions is malformed: %v (RFC 6455 §9.1)", o.extensionsErr)
		if resp.StatusCode == http.StatusSwitchingProtocols {
			r.warn(msg, "the server accepted it, but §9.1 says a malformed offer must fail the connection (400, §4.2.1 item 9)")
		} else {
			r.info(msg, "the server should refuse it, with 400 (§9.1, §4.2.1 item 9)")
		}
	}
	if !d.checkStatus(resp, o) {
		return false
	}
	h := resp.Header

	// §4.1 response rule 2.
	switch up := h.Values("Upgrade"); {
	case len(up) == 0:
		r.fail("no Upgrade header (RFC 6455 §4.1, response rule 2)", `the 101 response must say "Upgrade: websocket" (§4.2.2 step 5.2)`)
	case len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket"):
		r.ok(fmt.Sprintf("Upgrade: %s (§4.1, response rule 2)", up[0]))
	default:
		r.fail(fmt.Sprintf("Upgrade: %s is not \"websocket\" (RFC 6455 §4.1, response rule 2)", strings.Join(up, ", ")),
			`the value must be "websocket", compared case-insensitively (§4.2.2 step 5.2)`)
	}

	// §4.1 response rule 3.
	switch conn := h.Values("Connection"); {
	case len(conn) == 0:
		r.fail("no Connection header (RFC 6455 §4.1, response rule 3)", `the 101 response must say "Connection: Upgrade" (§4.2.2 step 5.3)`)
	case hasToken(conn, "upgrade"):
		r.ok(fmt.Sprintf("Connection: %s (§4.1, response rule 3)", strings.Join(conn, ", ")))
	default:
		r.fail(fmt.Sprintf("Connection: %s has no \"Upgrade\" token (RFC 6455 §4.1, response rule 3)", strings.Join(conn, ", ")),
			`the value must include the token "Upgrade", compared case-insensitively (§4.2.2 step 5.3)`)
	}

	// §4.1 response rule 4.
	switch acc := h.Values("Sec-WebSocket-Accept"); len(acc) {
	case 0:
		r.fail("no Sec-WebSocket-Accept header (RFC 6455 §4.1, response rule 4)",
			"the server must prove it read the key: Sec-WebSocket-Accept: "+wsx.AcceptKey(key)+" (§4.2.2 step 5.4)")
	case 1:
		if why := diagnoseAccept(key, acc[0]); why == "" {
			r.ok(fmt.Sprintf("Sec-WebSocket-Accept: %s matches the key (§4.1, response rule 4)", strings.TrimSpace(acc[0])))
		} else {
			r.fail(fmt.Sprintf("Sec-WebSocket-Accept: %s is wrong (RFC 6455 §4.1, response rule 4)", escapeControl([]byte(acc[0]))),
				"expected "+wsx.AcceptKey(key)+" = base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")) (§4.2.2 step 5.4)",
				why)
		}
	default:
		r.fail(fmt.Sprintf("Sec-WebSocket-Accept sent %d times (RFC 6455 §4.1, response rule 4; §11.3.3)", len(acc)),
			"the header field must not appear more than once in a response")
	}

	// §4.1 response rule 5. Header lines form one list (§9.1); the extensions before a
	// mistake in it are checked too.
	var accepted []extension
	switch xvs := h.Values("Sec-WebSocket-Extensions"); {
	case len(xvs) > 0:
		xv := strings.Join(xvs, ", ")
		var err error
		if accepted, err = parseExtensions(xv); err != nil {
			r.fail(fmt.Sprintf("Sec-WebSocket-Extensions: %s is malformed (RFC 6455 §9.1)", escapeControl([]byte(xv))),
				escapeControl([]byte(err.Error())), "a client must fail the connection when the value does not match the grammar of §9.1")
		}
	case len(o.extensions) == 0:
		r.ok("no extension, none offered (§4.1, response rule 5)")
	default:
		r.ok(fmt.Sprintf("no extension: the server declined %s (§4.1, response rule 5)", strings.Join(extensionNames(o.extensions), ", ")))
	}
	for i, x := range accepted {
		var offers []extension
		for _, e := range o.extensions {
			if e.name == x.name {
				offers = append(offers, e)
			}
		}
		switch {
		case len(offers) == 0:
			r.fail(fmt.Sprintf("extension %q was not offered (RFC 6455 §4.1, response rule 5; §9.1)", x.name),
				"a server may only accept extensions the client listed in Sec-WebSocket-Extensions (§4.2.2 /extensions/)")
		case slices.ContainsFunc(accepted[:i], func(a extension) bool { return a.name == x.name }):
			r.fail(fmt.Sprintf("extension %q accepted twice (RFC 6455 §9.1)", x.name))
		case x.name == "permessage-deflate":
			if problem := checkDeflateResponse(x, offers); problem != "" {
				r.fail(fmt.Sprintf("extension %s: %s (RFC 7692 §7.1)", x, problem))
			} else {
				r.ok(fmt.Sprintf("extension %s, offered, with valid parameters (§4.1, response rule 5; RFC 7692 §7.1)", x))
			}
		default:
			r.ok(fmt.Sprintf("extension %s, offered (§4.1, response rule 5)", x))
		}
	}

	// §4.1 response rule 6.
	protos := h.Values("Sec-WebSocket-Protocol")
	switch {
	case len(protos) == 0 && len(o.protocols) == 0:
		r.ok("no subprotocol, none offered (§4.1, response rule 6)")
	case len(protos) == 0:
		r.ok(fmt.Sprintf("no subprotocol: the server accepted none of %s (§4.1, response rule 6)", strings.Join(o.protocols, ", ")),
			"that is allowed; the application decides whether to go on without one")
	case len(protos) > 1 || strings.Contains(protos[0], ","):
		r.fail(fmt.Sprintf("Sec-WebSocket-Protocol: %s names more than one subprotocol (RFC 6455 §4.2.2 /subprotocol/)", strings.Join(protos, ", ")),
			"the server must select one of the offered subprotocols, or send no header")
	case len(o.protocols) == 0:
		r.fail(fmt.Sprintf("subprotocol %q chosen, but none was offered (RFC 6455 §4.1, response rule 6)", protos[0]),
			"a server may only select a subprotocol the client listed in Sec-WebSocket-Protocol")
	case !slices.Contains(o.protocols, strings.TrimSpace(protos[0])):
		r.fail(fmt.Sprintf("subprotocol %q was not offered (RFC 6455 §4.1, response rule 6)", protos[0]),
			"offered: "+strings.Join(o.protocols, ", ")+" (names are compared exactly)")
	default:
		r.ok(fmt.Sprintf("subprotocol %s, offered (§4.1, response rule 6)", strings.TrimSpace(protos[0])))
	}

	// What HTTP requires of the response itself.
	if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		r.warn(fmt.Sprintf("the response is %s; the handshake is HTTP/1.1 (RFC 6455 §4.1)", resp.Proto))
	}
	if h.Get("Content-Length") != "" || h.Get("Transfer-Encoding") != "" {
		r.warn("a 101 response carries Content-Length or Transfer-Encoding",
			"RFC 9110 §8.6 and RFC 9112 §6.1: a server must not send them in a 1xx response; frames follow the head directly")
	}
	if bytes.Contains(bytes.ReplaceAll(head, []byte("\r\n"), nil), []byte("\n")) {
		r.warn("lines end with a bare LF instead of CRLF (RFC 9112 §2.2)", "some clients refuse such a response")
	}
	return r.problems == before
}

// checkStatus checks §4.1 response rule 1 and explains a status other than 101.
func (d *doctor) checkStatus(resp *http.Response, o offer) bool {
	r := &d.rep
	status := fmt.Sprintf("status %s", resp.Status)
	switch code := resp.StatusCode; {
	case code == http.StatusSwitchingProtocols:
		r.ok(status + " (§4.1, response rule 1)")
		return true
	case code == http.StatusUpgradeRequired:
		v := strings.Join(resp.Header.Values("Sec-WebSocket-Version"), ", ")
		switch {
		case v == "":
			r.fail(status+": the server wants another protocol (RFC 6455 §4.1, response rule 1)",
				"it names no Sec-WebSocket-Version; it may want TLS (wss://) or another Upgrade: "+resp.Header.Get("Upgrade"))
		case hasToken([]string{v}, o.version):
			r.fail(status+": the server asks for Sec-WebSocket-Version "+v+", which includes the "+o.version+" we sent (RFC 6455 §4.4)",
				"the server's version check looks broken")
		default:
			r.fail(status+": the server does not speak version "+o.version+"; it asks for Sec-WebSocket-Version: "+v+" (RFC 6455 §4.4)",
				"RFC 6455 is version 13; a client may retry with a version the server lists")
		}
	case code >= 300 && code < 400:
		loc := resp.Header.Get("Location")
		r.fail(status+": a redirect to "+strconv.Quote(loc)+" (RFC 6455 §4.1, response rule 1)",
			"WebSocket clients need not follow redirects and most do not; connect to the new URL directly")
	case code == http.StatusUnauthorized:
		r.fail(status+": the server wants authentication (RFC 6455 §4.1, response rule 1)",
			"WWW-Authenticate: "+resp.Header.Get("WWW-Authenticate"), "send credentials with -H 'Authorization: ...'")
	case code == http.StatusForbidden:
		r.fail(status+": the server refused the request (RFC 6455 §4.1, response rule 1)",
			"often an Origin check (§10.2): try --origin with the origin of the page that should connect")
	case code == http.StatusNotFound:
		r.fail(status+": nothing at this path (RFC 6455 §4.1, response rule 1)", "check the URL's path")
	case code == http.StatusBadRequest:
		r.fail(status+": the server found the request invalid (RFC 6455 §4.2.1)", "its body may say why")
	case code >= 200 && code < 300:
		r.fail(status+": the server answered as to a plain HTTP request (RFC 6455 §4.1, response rule 1)",
			"nothing at this path handles the upgrade, or a proxy in between dropped the Upgrade and Connection headers")
	default:
		r.fail(status + ": not 101 Switching Protocols (RFC 6455 §4.1, response rule 1)")
	}
	return false
}

// diagnoseAccept returns "" when got is the right Sec-WebSocket-Accept for key (ignoring the
// whitespace around it, §4.1 response rule 4), or the likely mistake that produced it.
func diagnoseAccept(key, got string) string {
	got = strings.TrimSpace(got)
	if got == wsx.AcceptKey(key) {
		return ""
	}
	const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	b64 := base64.StdEncoding.EncodeToString
	sha1Of := func(s string) []byte { sum := sha1.Sum([]byte(s)); return sum[:] }
	sha256Of := func(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }
	right := sha1Of(key + guid)
	decoded, _ := base64.StdEncoding.DecodeString(key)
	type mistake struct{ value, why string }
	candidates := []mistake{
		{key, "the server echoed the key back: it must send the base64 of SHA-1(key + GUID)"},
		{b64(sha1Of(key)), "this is the SHA-1 of the key alone: the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 was not appended"},
		{b64(sha1Of(key + strings.ToLower(guid))), "wrong GUID: it was written in lower case; it is 258EAFA5-E914-47DA-95CA-C5AB0DC85B11, upper case"},
		{b64(sha1Of(key + strings.ReplaceAll(guid, "-", ""))), "wrong GUID: its dashes are missing; it is 258EAFA5-E914-47DA-95CA-C5AB0DC85B11"},
		{b64(sha1Of(guid + key)), "the GUID came before the key: it is SHA-1(key + GUID), key first"},
		{b64(sha1Of(" " + key + guid)), "the key was hashed with the space before it: trim the header value"},
		{b64(sha1Of(key + " " + guid)), "the key was hashed with a space after it (or joined to the GUID with a space): trim the header value"},
		{b64(sha1Of(" " + key + " " + guid)), "the key was hashed with the whitespace around it: trim the header value"},
		{b64(sha1Of(key + "\r" + guid)), "the key was hashed with the CR of its line: trim the header value"},
		{b64(sha1Of(key + "\r\n" + guid)), "the key was hashed with its line ending: trim the header value"},
		{hex.EncodeToString(right), "hex instead of base64: this is the right SHA-1 digest, hex-encoded; it must be base64"},
		{strings.ToUpper(hex.EncodeToString(right)), "hex instead of base64: this is the right SHA-1 digest, hex-encoded; it must be base64"},
		{b64(sha256Of(key + guid)), "SHA-256 instead of SHA-1: the digest must be SHA-1"},
		{hex.EncodeToString(sha256Of(key + guid)), "SHA-256, hex-encoded: the digest must be SHA-1, base64-encoded"},
		{b64(sha1Of(string(decoded) + guid)), "the key was base64-decoded before hashing: it must be hashed as sent, \"as a string, not base64-decoded\""},
		{base64.RawStdEncoding.EncodeToString(right), "the base64 padding \"=\" is missing"},
		{base64.URLEncoding.EncodeToString(right), "base64url (- and _) instead of standard base64 (+ and /)"},
		{b64([]byte(hex.EncodeToString(right))), "base64 of the hex digest: encode the 20-byte digest itself"},
	}
	for _, m := range candidates {
		if got == m.value {
			return m.why
		}
	}
	if b, err := base64.StdEncoding.DecodeString(got); err == nil {
		switch len(b) {
		case sha1.Size:
			return "it is the base64 of 20 bytes, a SHA-1 digest, but not of key + GUID: likely a wrong GUID, or the digest of another key (a cached or replayed response?)"
		case sha256.Size:
			return "it is the base64 of 32 bytes: a SHA-256 digest? the digest must be SHA-1"
		}
		return fmt.Sprintf("it is the base64 of %d bytes; a SHA-1 digest has 20", len(b))
	}
	return "it matches no known mistake; it is not even valid base64"
}

// closingHandshake closes the established connection as a client (§7.1.2): a masked Close
// 1000, then the server's frames until its Close, then the end of TCP, which the server
// starts (§7.1.1).
func (d *doctor) closingHandshake(conn net.Conn, br *bufio.Reader) {
	r := &d.rep
	conn.SetDeadline(time.Now().Add(min(d.cfg.timeout, 3*time.Second)))
	if _, err := conn.Write(appendCloseFrame(nil, wsx.StatusNormalClosure, "", true)); err != nil {
		r.warn("sending a Close frame: " + err.Error())
		return
	}
	for range 100 {
		f, err := readFrame(br, 1<<20)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				r.warn("the server closed TCP without answering our Close frame (RFC 6455 §5.5.1, §7.1.2)")
			case isTimeoutErr(err):
				r.warn("the server did not answer our Close frame in time (RFC 6455 §5.5.1)")
			default:
				r.warn("reading the server's frames: " + err.Error())
			}
			return
		}
		if f.masked {
			r.fail(fmt.Sprintf("the server sent a masked %s frame (RFC 6455 §5.1)", f.opName()), "a server must not mask the frames it sends")
			return
		}
		if f.op != opClose {
			r.info(fmt.Sprintf("the server sent a %s frame of %d bytes before answering our Close", f.opName(), f.length))
			continue
		}
		code, reason := closePayload(f.payload)
		msg := fmt.Sprintf("closing handshake: the server answered our Close with %s", code)
		if reason != "" {
			msg += " " + strconv.Quote(reason)
		}
		r.ok(msg + " (§7.1.2)")
		if _, err := br.ReadByte(); errors.Is(err, io.EOF) {
			r.ok("the server then closed the TCP connection, as it should first (§7.1.1)")
		} else {
			r.warn("the server did not close the TCP connection after the closing handshake (RFC 6455 §7.1.1)")
		}
		return
	}
	r.warn("the server kept sending frames instead of answering our Close (RFC 6455 §5.5.1)")
}

// Opcodes (§5.2) of the frames the doctor reads and writes by hand.
const (
	opClose = 0x8
	opPing  = 0x9
)

// rawFrame is a frame read by hand, for the doctor to inspect.
type rawFrame struct {
	fin     bool
	op      byte
	masked  bool
	length  uint64
	payload []byte // unmasked; at most the limit given to readFrame
}

func (f rawFrame) opName() string {
	switch f.op {
	case 0x0:
		return "continuation"
	case 0x1:
		return "text"
	case 0x2:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case 0xA:
		return "pong"
	}
	return fmt.Sprintf("reserved (opcode %#x)", f.op)
}

// readFrame reads one frame (§5.2), keeping at most limit bytes of its payload.
func readFrame(br *bufio.Reader, limit int) (rawFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f, masked: h[1]&0x80 != 0, length: uint64(h[1] & 0x7f)}
	switch f.length {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		f.length = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		f.length = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	if f.masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return f, err
		}
	}
	keep := min(f.length, uint64(limit))
	f.payload = make([]byte, keep)
	if _, err := io.ReadFull(br, f.payload); err != nil {
		return f, err
	}
	if _, err := io.CopyN(io.Discard, br, int64(f.length-keep)); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	return f, nil
}

// appendCloseFrame appends a Close frame (§5.5.1) with code and reason, masked with a random
// key when mask is set, as a client's frames are (§5.3).
func appendCloseFrame(b []byte, code wsx.StatusCode, reason string, mask bool) []byte {
	payload := binary.BigEndian.AppendUint16(nil, uint16(code))
	return appendFrame(b, true, opClose, append(payload, reason...), mask)
}

// appendFrame appends a frame (§5.2) with the given FIN bit, opcode and payload, masked with a
// random key when mask is set (§5.3).
func appendFrame(b []byte, fin bool, op byte, payload []byte, mask bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var maskBit byte
	if mask {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, b0, maskBit|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, b0, maskBit|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, b0, maskBit|127), uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// closePayload parses a Close frame's payload (§5.5.1).
func closePayload(p []byte) (wsx.StatusCode, string) {
	if len(p) < 2 {
		return wsx.StatusNoStatusReceived, ""
	}
	return wsx.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
}

// hasToken reports whether the comma-separated lists in values hold token, compared
// case-insensitively (RFC 9110 §5.6.1, as §4.1 and §4.2.1 ask for Upgrade and Connection).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		if slices.ContainsFunc(splitList(v), func(t string) bool { return strings.EqualFold(t, token) }) {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated header value into its non-empty, trimmed elements.
func splitList(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// extension is an element of a Sec-WebSocket-Extensions value (§9.1): a name and parameters.
type extension struct {
	name   string
	params [][2]string // name, value ("" for none); quotes removed
}

func (x extension) String() string {
	s := x.name
	for _, p := range x.params {
		s += "; " + p[0]
		if p[1] != "" {
			s += "=" + p[1]
		}
	}
	return s
}

func (x extension) param(name string) (value string, ok bool) {
	for _, p := range x.params {
		if p[0] == name {
			return p[1], true
		}
	}
	return "", false
}

// parseExtensions parses a Sec-WebSocket-Extensions value (§9.1):
//
//	extension-list  = 1#extension
//	extension       = extension-token *( ";" extension-param )
//	extension-param = token [ "=" ( token | quoted-string ) ]
//
// with optional whitespace around the separators (the "implied *LWS rule") and empty list
// elements skipped (RFC 9110 §5.6.1). A quoted value must unquote to a token, so that a
// value never needs its quotes again. On a malformed value parseExtensions returns the
// extensions before the bad one and an error that says what is wrong and where.
func parseExtensions(v string) ([]extension, error) {
	var out []extension
	sc := headerScanner{s: v}
	for {
		sc.skipSpace()
		if sc.done() {
			break
		}
		if sc.next(',') {
			continue
		}
		name := sc.token()
		if name == "" {
			return out, sc.errorf("an extension name must be a token")
		}
		x := extension{name: name}
		for sc.skipSpace(); sc.next(';'); sc.skipSpace() {
			sc.skipSpace()
			param := sc.token()
			if param == "" {
				return out, sc.errorf("a parameter name of %s must be a token", name)
			}
			var value string
			if sc.skipSpace(); sc.next('=') {
				sc.skipSpace()
				start := sc.i
				if sc.peek('"') {
					q, err := sc.quoted()
					if err != nil {
						return out, fmt.Errorf("the value of parameter %s: %v", param, err)
					}
					if !isToken(q) {
						return out, fmt.Errorf("the value %s of parameter %s is not a token once unquoted", v[start:sc.i], param)
					}
					value = q
				} else if value = sc.token(); value == "" {
					return out, sc.errorf("the value of parameter %s must be a token or a quoted string", param)
				}
			}
			x.params = append(x.params, [2]string{param, value})
		}
		if !sc.done() && !sc.next(',') {
			return out, sc.errorf(`want ";" or "," after %s`, x)
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, errors.New("the list is empty; it needs at least one extension")
	}
	return out, nil
}

// headerScanner reads the elements of an HTTP header value (RFC 9110 §5.6) from s.
type headerScanner struct {
	s string
	i int // the next byte to read
}

func (sc *headerScanner) done() bool { return sc.i == len(sc.s) }

// peek reports whether the byte c comes next.
func (sc *headerScanner) peek(c byte) bool { return sc.i < len(sc.s) && sc.s[sc.i] == c }

// next reads the byte c if it comes next.
func (sc *headerScanner) next(c byte) bool {
	if sc.peek(c) {
		sc.i++
		return true
	}
	return false
}

// skipSpace reads optional whitespace (OWS, RFC 9110 §5.6.3).
func (sc *headerScanner) skipSpace() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// token reads the longest token that comes next (RFC 9110 §5.6.2), or "".
func (sc *headerScanner) token() string {
	start := sc.i
	for sc.i < len(sc.s) && isToken(sc.s[sc.i:sc.i+1]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// quoted reads the quoted-string that comes next (RFC 9110 §5.6.4) and returns it
// unescaped.
func (sc *headerScanner) quoted() (string, error) {
	start := sc.i
	sc.i++ // the opening quote
	var b strings.Builder
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			return b.String(), nil
		case c == '\\' && sc.i+1 < len(sc.s) && isQuotedText(sc.s[sc.i+1]):
			b.WriteByte(sc.s[sc.i+1]) // quoted-pair
			sc.i += 2
		case c != '\\' && isQuotedText(c):
			b.WriteByte(c)
			sc.i++
		default:
			return "", sc.errorf("bad character in the quoted string starting at byte %d", start)
		}
	}
	return "", fmt.Errorf("the quoted string starting at byte %d does not end", start)
}

// isQuotedText reports whether c may appear in a quoted-string, escaped or not: HTAB, SP,
// VCHAR and obs-text (RFC 9110 §5.6.4).
func isQuotedText(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

// errorf returns an error that says what was found where the message's expectation failed.
func (sc *headerScanner) errorf(format string, args ...any) error {
	found := "the end of the value"
	if !sc.done() {
		found = fmt.Sprintf("%q at byte %d", sc.s[sc.i:sc.i+1], sc.i)
	}
	return fmt.Errorf(format+", found %s", append(args, found)...)
}

func extensionNames(xs []extension) []string {
	names := make([]string, len(xs))
	for i, x := range xs {
		names[i] = x.name
	}
	return names
}

// checkDeflateResponse checks a server's permessage-deflate response against the client's
// offers of it (RFC 7692 §7.1) and returns what is wrong, or "" when it answers one of them.
func checkDeflateResponse(resp extension, offers []extension) string {
	var problem string
	for _, offer := range offers {
		if problem = deflateAnswers(resp, offer); problem == "" {
			return ""
		}
	}
	return problem
}

func deflateAnswers(resp, offer extension) string {
	seen := map[string]bool{}
	for _, p := range resp.params {
		name, value := p[0], p[1]
		if seen[name] {
			return fmt.Sprintf("parameter %s appears twice", name)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if value != "" {
				return fmt.Sprintf("parameter %s takes no value", name)
			}
		case "server_max_window_bits", "client_max_window_bits":
			bits, err := strconv.Atoi(value)
			if err != nil || bits < 8 || bits > 15 || value != strconv.Itoa(bits) {
				return fmt.Sprintf("%s=%s is not a window size from 8 to 15", name, value)
			}
			offered, ok := offer.param(name)
			if name == "client_max_window_bits" && !ok {
				return "client_max_window_bits in the response, but the offer did not include it (§7.1.2.2)"
			}
			if n, err := strconv.Atoi(offered); err == nil && bits > n {
				return fmt.Sprintf("%s=%d is larger than the %d offered (§7.1.2)", name, bits, n)
			}
		default:
			return fmt.Sprintf("unknown parameter %s", name)
		}
	}
	return ""
}

// isTimeoutErr reports whether err is a network timeout.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
