package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
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
	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/header"
	"github.com/wsx-go/wsx/internal/httphead"
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
	switch {
	case cfg.http2 && cfg.http3:
		return f.usageError(e, "--http2 and --http3: choose one")
	case cfg.listen && (cfg.http2 || cfg.http3):
		return f.usageError(e, "--listen explains HTTP/1.1 handshakes: not with --http2 or --http3")
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
		r.fail(err.Error(), d.schemeHint(err)...)
		return d.verdict(start)
	}
	defer conn.Close()

	key := d.cfg.key
	if key == "" {
		key = wsx.NewKey()
	}
	req := d.request(key)
	r.line("")
	printHead(r, "> ", req)
	own, offer := explainOwnRequest(req)
	conn.SetDeadline(time.Now().Add(d.cfg.timeout))
	sent := time.Now()
	if _, err := conn.Write(req); err != nil {
		r.fail("sending the request: " + err.Error())
		return d.verdict(start)
	}
	br := bufio.NewReaderSize(conn, maxHead)
	head, err := httphead.ReadHead(br)
	if err != nil {
		got, _ := br.Peek(br.Buffered())
		printHead(r, "< ", got)
		r.line("")
		switch {
		case isTLSRecord(got):
			r.fail("the server answered with TLS, not HTTP", fmt.Sprintf("this port speaks TLS: connect with wss://%s%s", d.u.Host, d.u.RequestURI()))
		case errors.Is(err, io.EOF) && len(got) == 0:
			r.fail("the server closed the connection without answering",
				"it may not speak HTTP on this port, or expect TLS (wss://) or plain TCP (ws://)")
		case isTimeoutErr(err):
			r.fail(fmt.Sprintf("no complete response within %v", d.cfg.timeout),
				"the server may not speak HTTP on this port, or expect TLS (wss://)")
		case err == httphead.ErrTooLong:
			r.fail(fmt.Sprintf("the response head is longer than %d bytes", maxHead))
		default:
			r.fail("reading the response: " + err.Error())
		}
		return d.verdict(start)
	}
	d.timing("handshake", time.Since(sent))
	printHead(r, "< ", []byte(head))
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(head), br)), nil)
	if err != nil {
		r.line("")
		r.fail("the response is not valid HTTP: "+err.Error(), "§4.1: the server's handshake is an HTTP/1.1 response (RFC 9112)")
		return d.verdict(start)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body = printBody(r, conn, resp)
	}
	r.line("")
	r.line("Checks:")
	if valid := d.checkResponse(resp, head, body, own, offer); valid {
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
		return nil, fmt.Errorf("TLS handshake with %s: %w", conn.RemoteAddr(), err)
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

// offerFields appends to the fields of a handshake request what the flags offer (Origin,
// subprotocols, extensions) and the User-Agent, then applies -H: a field replaces the one of
// its name, whatever the case, and an empty value removes it.
func (d *doctor) offerFields(fields [][2]string) [][2]string {
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
	return fields
}

// request builds the opening handshake (§4.1 items 1-12) with -H applied.
func (d *doctor) request(key string) []byte {
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
	fields = d.offerFields(fields)
	b := []byte("GET " + d.u.RequestURI() + " HTTP/1.1\r\n")
	for _, f := range fields {
		b = append(b, f[0]+": "+f[1]+"\r\n"...)
	}
	return append(b, "\r\n"...)
}

// explainOwnRequest checks the request the doctor sends by the rules a server applies (-H
// can break them on purpose) and returns what it offers, for checking the response: as much
// of it as is valid.
func explainOwnRequest(req []byte) ([]handshake.Finding, *handshake.Offer) {
	offer := new(handshake.Offer)
	r := http.Request{Header: http.Header{}}
	p := httphead.Parser{Keep: handshake.RequestFields}
	if err := p.Parse(string(req), &r); err != nil {
		msg := "the request is not valid HTTP/1.1: " + err.Error()
		return []handshake.Finding{{Verdict: handshake.Fail, Problem: msg}}, offer
	}
	return handshake.ExplainRequest(&r, &handshake.Policy{AnyOrigin: true}, offer), offer
}

// maxHead bounds the response head the doctor reads.
const maxHead = 64 << 10

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

// printBody prints up to 2 KiB of a refusal's body, where servers explain themselves, and
// returns it.
func printBody(r *report, conn net.Conn, resp *http.Response) []byte {
	conn.SetReadDeadline(time.Now().Add(time.Second))
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2<<10+1))
	more := len(body) > 2<<10
	if more {
		body = body[:2<<10]
	}
	if len(body) == 0 {
		return nil
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
	return body
}

// checkResponse prints the findings of the response rules (internal/handshake, the rules
// Dial applies) with what the doctor can say about each, and reports whether the response
// establishes the connection.
func (d *doctor) checkResponse(resp *http.Response, head string, body []byte, own []handshake.Finding, o *handshake.Offer) bool {
	r := &d.rep
	before := r.problems
	upgraded := resp.StatusCode == http.StatusSwitchingProtocols
	d.printOwnFailures(own, upgraded)
	for _, f := range handshake.ExplainResponse(resp, o) {
		switch f.Verdict {
		case handshake.Pass:
			d.printPass(f, o)
		case handshake.Info:
			r.info(f.String())
		case handshake.Warn:
			r.warn(f.Problem)
		case handshake.Fail:
			r.fail(f.Problem, d.failNote(f, resp, body, o)...)
		}
	}
	if strings.Contains(strings.ReplaceAll(head, "\r\n", ""), "\n") {
		r.warn("lines end with a bare LF instead of CRLF (RFC 9112 §2.2)", "some clients refuse such a response")
	}
	return upgraded && r.problems == before
}

// printOwnFailures prints the rules that the request the doctor was told (-H) to break
// breaks, and what the server made of it: accepted tells whether it accepted the request.
func (d *doctor) printOwnFailures(own []handshake.Finding, accepted bool) {
	r := &d.rep
	for _, f := range own {
		if !f.Failed() {
			continue
		}
		msg := "the request breaks a rule: " + f.Problem
		if f.Rule.Subject == "Sec-WebSocket-Extensions" {
			msg = "the request's " + strings.TrimPrefix(f.Problem, "malformed ")
		}
		switch {
		case accepted:
			r.warn(msg, fmt.Sprintf("the server accepted it, but a server must refuse it (with %d %s)", f.Status, http.StatusText(f.Status)))
		case f.Status != 0:
			r.info(msg, fmt.Sprintf("a server refuses it, with %d %s", f.Status, http.StatusText(f.Status)))
		default:
			r.info(msg)
		}
	}
}

// printPass prints a rule the response keeps; the subprotocol and the extensions in words.
func (d *doctor) printPass(f handshake.Finding, o *handshake.Offer) {
	r := &d.rep
	section := " (" + strings.TrimPrefix(f.Rule.Section, "RFC 6455 ") + ")"
	switch f.Rule.Subject {
	case "Content-Length": // nothing to say when there is none
	case "Sec-WebSocket-Protocol":
		switch {
		case f.Seen != "":
			r.ok("subprotocol " + f.Seen + ", offered" + section)
		case len(o.Protocols) == 0:
			r.ok("no subprotocol, none offered" + section)
		default:
			r.ok("no subprotocol: the server accepted none of "+strings.Join(o.Protocols, ", ")+section,
				"that is allowed; the application decides whether to go on without one")
		}
	case "Sec-WebSocket-Extensions":
		accepted, _ := header.ParseExtensions([]string{f.Seen}) // valid: the rule held
		switch {
		case len(accepted) > 0:
			for _, x := range accepted {
				if x.Name == "permessage-deflate" {
					r.ok("extension " + x.String() + ", offered, with valid parameters (§4.1, response rule 5; RFC 7692 §7.1)")
				} else {
					r.ok("extension " + x.String() + ", offered" + section)
				}
			}
		case len(o.Extensions) == 0:
			r.ok("no extension, none offered" + section)
		default:
			names := make([]string, len(o.Extensions))
			for i, x := range o.Extensions {
				names[i] = x.Name
			}
			r.ok("no extension: the server declined " + strings.Join(names, ", ") + section)
		}
	default:
		r.ok(f.String())
	}
}

// failNote explains a broken rule: the likely mistake behind it, and what to try.
func (d *doctor) failNote(f handshake.Finding, resp *http.Response, body []byte, o *handshake.Offer) []string {
	switch f.Rule.Subject {
	case "status":
		return d.statusNote(resp, body)
	case "Upgrade":
		return []string{`the 101 response must say "Upgrade: websocket", compared case-insensitively (§4.2.2 step 5.2)`}
	case "Connection":
		return []string{`the 101 response must include the token "Upgrade" in Connection, compared case-insensitively (§4.2.2 step 5.3)`}
	case "Sec-WebSocket-Accept":
		if f.Seen == "" || strings.Contains(f.Problem, "sent") {
			return []string{"the server must prove it read the key, once: Sec-WebSocket-Accept: " + f.Want + " (§4.2.2 step 5.4)"}
		}
		return []string{f.Want + " = base64(SHA-1(key + \"" + handshake.GUID + "\")) (§4.2.2 step 5.4)", diagnoseAccept(o.Key, f.Seen)}
	case "Sec-WebSocket-Protocol":
		if len(o.Protocols) > 0 {
			return []string{"offered: " + strings.Join(o.Protocols, ", ") + " (names are compared exactly)"}
		}
		return []string{"a server may only select a subprotocol the client listed in Sec-WebSocket-Protocol"}
	case "Sec-WebSocket-Extensions":
		return []string{"a client must fail the connection (§9.1, §4.1 response rule 5)"}
	}
	return nil
}

// statusNote explains a status other than 101: the mistakes that usually cause it.
func (d *doctor) statusNote(resp *http.Response, body []byte) []string {
	sent := d.sentVersion()
	switch code := resp.StatusCode; {
	case code == http.StatusUpgradeRequired:
		v := strings.Join(resp.Header.Values("Sec-WebSocket-Version"), ", ")
		switch {
		case v == "":
			return []string{"the server wants another protocol; it names no Sec-WebSocket-Version; it may want TLS (wss://) or another Upgrade: " + resp.Header.Get("Upgrade")}
		case header.HasToken([]string{v}, sent):
			return []string{"the server asks for Sec-WebSocket-Version " + v + ", which includes the " + sent + " we sent (RFC 6455 §4.4)", "the server's version check looks broken"}
		}
		return []string{"the server does not speak version " + sent + "; it asks for Sec-WebSocket-Version: " + v + " (RFC 6455 §4.4)",
			"RFC 6455 is version 13; a client may retry with a version the server lists"}
	case code >= 300 && code < 400:
		return []string{"a redirect to " + strconv.Quote(resp.Header.Get("Location")) + ": WebSocket clients need not follow redirects and most do not; connect to the new URL directly"}
	case code == http.StatusUnauthorized:
		return []string{"the server wants authentication: WWW-Authenticate: " + resp.Header.Get("WWW-Authenticate"), "send credentials with -H 'Authorization: ...'"}
	case code == http.StatusForbidden:
		return []string{"the server refused the request: often an Origin check (§10.2): try --origin with the origin of the page that should connect"}
	case code == http.StatusNotFound:
		return []string{"nothing at this path: check the URL's path"}
	case code == http.StatusMisdirectedRequest:
		return []string{"the server does not answer for the host name in the URL (RFC 9110 §7.4): connect with a name it lists, such as localhost"}
	case code == http.StatusBadRequest && !d.tls && plainToTLS(body):
		return []string{"the server expects TLS on this port: connect with wss://" + d.u.Host + d.u.RequestURI()}
	case code == http.StatusBadRequest:
		return []string{"the server found the request invalid (RFC 6455 §4.2.1); its body may say why"}
	case code >= 200 && code < 300:
		return []string{"the server answered as to a plain HTTP request: nothing at this path handles the upgrade, or a proxy in between dropped the Upgrade and Connection headers"}
	}
	return nil
}

// sentVersion returns the Sec-WebSocket-Version the doctor sent: 13 unless -H changed it.
func (d *doctor) sentVersion() string {
	v := handshake.Version
	for _, h := range d.cfg.headers {
		if strings.EqualFold(h[0], "Sec-WebSocket-Version") {
			v = h[1]
		}
	}
	return v
}

// isTLSRecord reports whether b starts like a TLS record (RFC 8446 §5.1): an alert or a
// handshake, version 3.x. A TLS server answers a plain HTTP request with an alert.
func isTLSRecord(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03
}

// plainToTLS reports whether the body of a 400 says that a plain HTTP request reached a TLS
// port, as nginx ("The plain HTTP request was sent to HTTPS port") and Go's net/http ("Client
// sent an HTTP request to an HTTPS server") say.
func plainToTLS(body []byte) bool {
	b := strings.ToLower(string(body))
	return strings.Contains(b, "https port") || strings.Contains(b, "to an https server")
}

// schemeHint explains a failure to connect that a wrong scheme may cause: wss:// to a port
// that answers plain HTTP, or TLS that fails some other way.
func (d *doctor) schemeHint(err error) []string {
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &rhe) && strings.HasPrefix(string(rhe.RecordHeader[:]), "HTTP"):
		return []string{"the server answered in plain HTTP: this port speaks ws://, not wss://: connect with ws://" + d.u.Host + d.u.RequestURI()}
	case strings.HasPrefix(err.Error(), "TLS handshake"):
		return []string{"is it a wss:// server on this port?"}
	}
	return nil
}

// diagnoseAccept returns "" when got is the right Sec-WebSocket-Accept for key (ignoring the
// whitespace around it, §4.1 response rule 4), or the likely mistake that produced it.
func diagnoseAccept(key, got string) string {
	got = strings.TrimSpace(got)
	if got == wsx.AcceptKey(key) {
		return ""
	}
	const guid = handshake.GUID
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

// isTimeoutErr reports whether err is a network timeout.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
