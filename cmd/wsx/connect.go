package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
)

const connectUsage = `Usage: wsx connect [flags] URL

Opens a WebSocket connection to URL (ws:// or wss://), sends each line of stdin as a text
message (a line that is not valid UTF-8 goes as a binary message, with a warning: RFC 6455
§8.1 allows only UTF-8 in text), and writes every message that arrives to stdout.

When stdin ends, wsx connect keeps reading until the server closes the connection: a server
may answer later, or keep sending (a subscription). --wait D closes it D after the end of
stdin instead (--wait 0: at once); --count N (or -1) closes it after N messages have arrived.
SIGINT (Ctrl-C) closes it with 1001 (going away). --send and --send-file send messages
given on the command line, or a file as one message, instead of reading stdin.

Output (-o): "lines", the default, writes a text message as it is and a binary message in
base64 (--hex: in hex), each followed by a newline; a text message that holds newlines spans
several lines, so use "json" when messages may contain them. "json" writes one object per
line: {"time": ..., "type": "text" or "binary", "length": bytes, "data": the text, or the
base64 of the bytes}, with "open", "close" and "pong" events of the same shape. "raw" writes
the bytes of each message and nothing else. -t prefixes each line with the time.

On a terminal the session is interactive: received messages are shown as "< message" with
control characters escaped (\x1b, \u202e...), and typed lines starting with "/" are commands:
  /ping                   measure the round trip with a ping (RFC 6455 §5.5.2)
  /close [code [reason]]  close the connection (default 1000)
  /binary TEXT            send TEXT as a binary message
  //TEXT                  send "/TEXT"
Ctrl-D closes the connection.

Credentials: ws://user:pass@host/ or --auth user:pass send HTTP Basic authentication,
--token T sends "Authorization: Bearer T". -H 'Host: name' sends another Host than the URL's
(the connection still goes to the URL's address, and TLS verifies the URL's host).
Every handshake carries "User-Agent: wsx/VERSION" unless -H sets one.

--reconnect opens the connection again when the server closes it or it drops, after 0.5s,
then twice as long each time up to 30s (back to 0.5s after a connection that lasted 30s).

Exit status:
  0  the connection closed normally: the server closed with 1000, or it answered our Close
     (at the end of input, after --wait or --count, on /close or Ctrl-C)
  1  could not connect: no answer, refused handshake, TLS failure
  2  usage error
  3  the server closed with another status than 1000 (the status is shown on stderr)
  4  the connection failed or was dropped without a closing handshake
  5  --count: the connection ended before that many messages arrived

Examples:
  wsx connect ws://127.0.0.1:8080/echo
  echo '{"op":"subscribe"}' | wsx connect wss://stream.example.com/v1 | jq .
  wsx connect -1 --send hello ws://127.0.0.1:8080/         # one message, one reply, exit
  wsx connect --count 3 --wait 5s --send-file req.json wss://api.example.com/ws
  wsx connect -o json -t ws://127.0.0.1:8080/ < lines.txt  # typed, timed output
  wsx connect -H 'Authorization: Bearer T0K3N' -s graphql-transport-ws wss://api.example.com/graphql
  wsx connect --token T0K3N --cacert ca.pem --cert me.pem --key me-key.pem wss://internal:8443/
  wsx connect --insecure --ping 5s wss://127.0.0.1:8443/
  wsx connect --reconnect -o json wss://stream.example.com/v1 >> events.jsonl
  wsx connect --compression -v ws://127.0.0.1:8080/       # offer permessage-deflate, show the answer
  wsx connect --proxy socks5://127.0.0.1:1080 ws://internal.example:8080/
`

// Exit statuses of wsx connect beyond the shared ones.
const (
	exitClosedWithStatus = 3 // the peer closed with a status other than 1000
	exitDropped          = 4 // no closing handshake: the connection failed or was dropped
	exitTooFew           = 5 // the connection ended before --count messages arrived
)

// waitFlag is --wait: a duration, or unset (the default: after the input ends, read until
// the server closes).
type waitFlag struct {
	d   time.Duration
	set bool
}

func (w *waitFlag) String() string {
	if !w.set {
		return ""
	}
	return w.d.String()
}

func (w *waitFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 0, 500ms or 5s, got %q", v)
	}
	w.d, w.set = d, true
	return nil
}

// connectConfig is what the flags of wsx connect select. wsx bench shares its dialling part.
type connectConfig struct {
	showPings   bool // --show-pings
	headers     headerFlag
	protocols   listFlag
	origin      string
	proxy       string
	insecure    bool
	auth        string // user:password for Basic authentication
	token       string // a bearer token
	certFile    string // client certificate
	keyFile     string
	caFile      string
	timeout     time.Duration
	readLimit   int64
	compression bool

	binary      bool
	send        stringsFlag
	sendFile    string
	ping        time.Duration
	closeCode   int
	closeReason string
	output      string
	hex         bool
	timestamps  bool
	count       int
	one         bool
	wait        waitFlag
	reconnect   bool
	verbose     bool
	http2       bool // transports.go
	http3       bool
}

// addDialFlags defines the flags that say how to reach a server, shared by connect, bench,
// proxy and bridge, and, for a client (connect, bench), --origin, --compression and -s;
// proxy and bridge, which are also servers, have --origin and --compression for the side
// they accept, and --upstream-origin.
func (cfg *connectConfig) addDialFlags(f *flags, client bool) {
	f.Var(&cfg.headers, "H", "add a request header `'Name: value'` to the handshake (repeatable)")
	if client {
		f.Var(&cfg.protocols, "subprotocol", "offer subprotocol `name`s, most preferred first (repeat or comma-separate)")
		f.Var(&cfg.protocols, "s", "short for --subprotocol")
		f.StringVar(&cfg.origin, "origin", "", "send Origin `origin`, such as https://example.com, as a browser would")
		f.BoolVar(&cfg.compression, "compression", false, "offer permessage-deflate (RFC 7692): messages both ways are compressed if the\nserver accepts")
		f.BoolVar(&cfg.http2, "http2", false, "open each WebSocket as a stream of an HTTP/2 connection, shared by as many as\nthe server allows (RFC 8441)")
		f.BoolVar(&cfg.http3, "http3", false, "open each WebSocket as a stream of a shared HTTP/3 connection (RFC 9220, wss://\nonly)")
	} else {
		f.StringVar(&cfg.origin, "upstream-origin", "", "send Origin `origin` to the server")
	}
	f.StringVar(&cfg.proxy, "proxy", "", "connect through the proxy at `URL` (http, https, socks5, socks5h), or \"direct\";\nthe default comes from HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
	f.BoolVar(&cfg.insecure, "insecure", false, "do not verify the server's TLS certificate")
	f.BoolVar(&cfg.insecure, "k", false, "short for --insecure")
	f.StringVar(&cfg.auth, "auth", "", "send HTTP Basic authentication with `user:password`")
	f.StringVar(&cfg.token, "token", "", "send \"Authorization: Bearer `token`\"")
	f.StringVar(&cfg.certFile, "cert", "", "present the PEM client certificate in `file` (with --key)")
	f.StringVar(&cfg.keyFile, "key", "", "PEM private key `file` for --cert")
	f.StringVar(&cfg.caFile, "cacert", "", "verify the server against the PEM certificates in `file` instead of the\nsystem's roots")
}

func runConnect(ctx context.Context, e *env, args []string) int {
	f := newFlags("connect", connectUsage)
	cfg := connectConfig{readLimit: wsx.DefaultReadLimit}
	cfg.addDialFlags(f, true)
	f.BoolVar(&cfg.binary, "binary", false, "send lines as binary messages instead of text")
	f.Var(&cfg.send, "send", "send `message` as a text message instead of reading stdin (repeatable, in order)")
	f.StringVar(&cfg.sendFile, "send-file", "", "send the contents of `file` as one message (text if it is UTF-8, else binary;\n- is stdin) instead of reading lines")
	f.DurationVar(&cfg.ping, "ping", 0, "send a ping every `interval` and show its round-trip time")
	f.BoolVar(&cfg.showPings, "show-pings", false, "show the pings the server sends (wsx answers them with pongs either way)")
	f.IntVar(&cfg.closeCode, "close-code", int(wsx.StatusNormalClosure), "status `code` to close with at the end of the input (1000-1003, 1007-1014,\n3000-4999)")
	f.StringVar(&cfg.closeReason, "close-reason", "", "`reason` to close with at the end of the input")
	f.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "give up on the opening handshake after `duration`")
	f.Var((*sizeFlag)(&cfg.readLimit), "read-limit", "largest message `size` accepted (0: no limit)")
	f.StringVar(&cfg.output, "output", "", "output `format`: lines, json or raw (default lines; on a terminal, the\ninteractive display)")
	f.StringVar(&cfg.output, "o", "", "short for --output")
	f.BoolVar(&cfg.hex, "hex", false, "show binary messages in hex instead of base64 (lines) or escaped (terminal)")
	f.BoolVar(&cfg.timestamps, "timestamps", false, "prefix each line of output with the time it arrived")
	f.BoolVar(&cfg.timestamps, "t", false, "short for --timestamps")
	f.IntVar(&cfg.count, "count", 0, "close after `n` messages have arrived (exit status 5 if fewer did)")
	f.BoolVar(&cfg.one, "1", false, "the same as --count 1")
	f.Var(&cfg.wait, "wait", "after the input ends, close the connection after `duration` (0: at once)\ninstead of waiting for the server to close it")
	f.BoolVar(&cfg.reconnect, "reconnect", false, "open the connection again, with backoff, when the server closes it or it drops")
	f.BoolVar(&cfg.verbose, "verbose", false, "print the handshake response and connection events on stderr")
	f.BoolVar(&cfg.verbose, "v", false, "short for --verbose")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if cfg.one {
		if cfg.count != 0 && cfg.count != 1 {
			return f.usageError(e, "-1 and --count %d disagree", cfg.count)
		}
		cfg.count = 1
	}
	switch {
	case len(pos) != 1:
		return f.usageError(e, "want exactly one URL, got %d arguments", len(pos))
	case !sendableCode(cfg.closeCode):
		return f.usageError(e, "--close-code %d may not be sent (RFC 6455 §7.4); use 1000-1003, 1007-1014 or 3000-4999", cfg.closeCode)
	case len(cfg.closeReason) > 123:
		return f.usageError(e, "--close-reason is longer than 123 bytes (RFC 6455 §5.5)")
	case cfg.count < 0:
		return f.usageError(e, "--count cannot be negative")
	case cfg.ping < 0:
		return f.usageError(e, "--ping cannot be negative")
	}
	switch cfg.output {
	case "", "lines", "json", "raw":
	default:
		return f.usageError(e, "--output must be lines, json or raw, not %q", cfg.output)
	}
	t, err := cfg.target(pos[0])
	if err != nil {
		return f.usageError(e, "%v", err)
	}
	cl := &client{cfg: &cfg, e: e, target: t, out: newPrinter(e, &cfg)}
	if cfg.showPings {
		t.opts.OnPing = func(p []byte) {
			if cl.out.format == formatJSON {
				cl.out.event("ping", "", "length", len(p))
			} else {
				cl.out.warn("ping from the server (%d bytes)", len(p)) // asked for: shown without -v
			}
		}
	}
	return cl.run(ctx)
}

// checkWebSocketURL returns an error in one line when s is not a ws://, wss://, http:// or
// https:// URL with a host.
func checkWebSocketURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", s, errors.Unwrap(err))
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("bad URL %q: want ws://host/path or wss://host/path", s)
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", s)
	}
	return nil
}

// sendableCode reports whether code may go in a Close frame (§7.4.1, §7.4.2).
func sendableCode(code int) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// target is a server to dial: the URL given to wsx.Dial and the options that go with it.
type target struct {
	url     string // without userinfo: Dial refuses it (§3), so it became an Authorization header
	display string // the URL as the user gave it, password hidden, for messages
	opts    *wsx.DialOptions
}

// target checks rawURL and the dialling flags and returns what to dial. Its errors are usage
// errors.
func (cfg *connectConfig) target(rawURL string) (*target, error) {
	if err := checkWebSocketURL(rawURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL)
	t := &target{display: u.Redacted()}
	opts, err := cfg.dialOptions()
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		if opts.Header.Get("Authorization") != "" {
			return nil, fmt.Errorf("the URL's user:password and --auth, --token or -H Authorization are two sets of credentials: give one")
		}
		pass, _ := u.User.Password()
		opts.Header.Set("Authorization", basicAuth(u.User.Username(), pass))
		u.User = nil
	}
	if host := opts.Header.Get("Host"); host != "" {
		if opts.Transport != nil {
			return nil, errors.New("-H Host goes with HTTP/1.1 only, not with --http2 or --http3 (the stream's :authority is the URL's host)")
		}
		// Dial sends the URL's host as Host (§4.1 item 4), so the URL names the host to send
		// and NetDialContext goes to the address the user gave instead. TLS keeps verifying
		// the URL's host, as curl does with -H Host.
		opts.Header.Del("Host")
		addr := dialAddr(u)
		if opts.TLSConfig == nil {
			opts.TLSConfig = &tls.Config{}
		}
		if opts.TLSConfig.ServerName == "" {
			opts.TLSConfig.ServerName = u.Hostname()
		}
		u.Host = host
		rewritten := dialAddr(u)
		var d net.Dialer
		opts.NetDialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == rewritten {
				a = addr
			}
			return d.DialContext(ctx, network, a)
		}
	}
	t.url = u.String()
	t.opts = opts
	return t, nil
}

// dialAddr returns the host:port that a ws:// or wss:// URL connects to.
func dialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" || u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// handshakeFields are the request header fields the opening handshake sets itself (§4.1):
// -H cannot set them.
var handshakeFields = []string{"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Extensions", "Sec-Websocket-Protocol", "Content-Length", "Transfer-Encoding"}

// dialOptions turns the dialling flags into wsx.DialOptions; its errors are usage errors.
func (cfg *connectConfig) dialOptions() (*wsx.DialOptions, error) {
	opts := &wsx.DialOptions{
		Origin:       cfg.origin,
		Subprotocols: cfg.protocols,
		Header:       make(http.Header),
		ConnOptions:  wsx.ConnOptions{ReadLimit: cfg.readLimit},
	}
	if cfg.readLimit == 0 {
		opts.ReadLimit = -1 // no limit
	}
	for _, h := range cfg.headers {
		name := http.CanonicalHeaderKey(h[0])
		switch {
		case slices.Contains(handshakeFields, name):
			return nil, fmt.Errorf("-H %s: the handshake sets this field itself (use -s for subprotocols, --compression for permessage-deflate)", h[0])
		case name == "Origin":
			if cfg.origin != "" {
				return nil, errors.New("-H Origin and --origin: give one")
			}
			opts.Origin = h[1]
			continue
		}
		opts.Header.Add(name, h[1])
	}
	if opts.Header.Get("User-Agent") == "" {
		opts.Header.Set("User-Agent", userAgent())
	}
	switch {
	case cfg.auth != "" && cfg.token != "":
		return nil, errors.New("--auth and --token are two sets of credentials: give one")
	case (cfg.auth != "" || cfg.token != "") && opts.Header.Get("Authorization") != "":
		return nil, errors.New("-H Authorization and --auth or --token are two sets of credentials: give one")
	case cfg.auth != "":
		user, pass, ok := strings.Cut(cfg.auth, ":")
		if !ok {
			return nil, fmt.Errorf("--auth wants user:password")
		}
		opts.Header.Set("Authorization", basicAuth(user, pass))
	case cfg.token != "":
		opts.Header.Set("Authorization", "Bearer "+cfg.token)
	}
	if cfg.compression {
		opts.Compression = &wsx.CompressionOptions{}
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.TLSConfig = tc
	if opts.Transport, err = cfg.streamTransport(tc); err != nil { // --http2, --http3: transports.go
		return nil, err
	}
	switch cfg.proxy {
	case "":
	case "direct":
		opts.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	default:
		u, err := url.Parse(cfg.proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("bad --proxy %q: want a URL such as http://proxy:3128 or socks5://127.0.0.1:1080", cfg.proxy)
		}
		opts.Proxy = http.ProxyURL(u)
	}
	return opts, nil
}

// tlsConfig returns the TLS settings of --insecure, --cacert, --cert and --key, or nil for
// the defaults.
func (cfg *connectConfig) tlsConfig() (*tls.Config, error) {
	if !cfg.insecure && cfg.caFile == "" && cfg.certFile == "" && cfg.keyFile == "" {
		return nil, nil
	}
	tc := &tls.Config{InsecureSkipVerify: cfg.insecure}
	if cfg.caFile != "" {
		pem, err := os.ReadFile(cfg.caFile)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", cfg.caFile)
		}
	}
	if (cfg.certFile == "") != (cfg.keyFile == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// dial opens a connection to t. On failure it explains on stderr, prefixed by who, what
// happened, with the whole URL: the library's error names only scheme://host.
func (t *target) dial(ctx context.Context, timeout time.Duration, stderr io.Writer, who string) (*wsx.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, resp, err := wsx.Dial(ctx, t.url, t.opts)
	if err == nil {
		return c, resp, nil
	}
	cause := err
	if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "wsx: dial") {
		cause = inner // "wsx: dial ws://host: CAUSE"
	}
	fmt.Fprintf(stderr, "%s: %s: %s\n", who, t.display, errText(cause))
	if resp != nil {
		printRefusal(stderr, who, resp)
	}
	return nil, resp, err
}

// describeConn returns what the handshake agreed, for the "connected" line.
func describeConn(c *wsx.Conn) string {
	var parts []string
	if p := c.Subprotocol(); p != "" {
		parts = append(parts, "subprotocol "+p)
	}
	if x := c.Extensions(); x != "" {
		parts = append(parts, "extensions "+x)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// printRefusal shows the response of a failed handshake: its status and, escaped, the start
// of its body, where servers explain themselves. The body stays readable.
func printRefusal(w io.Writer, who string, resp *http.Response) {
	fmt.Fprintf(w, "%s: the server answered %s %s\n", who, resp.Proto, resp.Status)
	if resp.Body == nil {
		return
	}
	body, _ := io.ReadAll(resp.Body) // at most 4 KiB: Dial keeps no more
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if s := strings.TrimSpace(escapeControl(body[:min(len(body), 512)])); s != "" {
		fmt.Fprintf(w, "%s: body: %s\n", who, s)
	}
}

// printResponse prints the handshake response header on w, sorted by name: net/http keeps
// no order.
func printResponse(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "< %s %s\n", resp.Proto, resp.Status)
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[name] {
			fmt.Fprintf(w, "< %s: %s\n", name, escapeControl([]byte(v)))
		}
	}
}
