package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
)

const connectUsage = `Usage: wsx connect [flags] URL

Opens a WebSocket connection to URL (ws:// or wss://) and sends each line of stdin as a
message; each message that arrives is written to stdout followed by a newline. At the end of
stdin the connection is closed with --close-code and the messages still arriving are printed;
SIGINT (Ctrl-C) closes it with 1001 (going away).

On a terminal the session is interactive: received messages are shown as "< message" with
control characters escaped (\x1b, \u202e...), and typed lines starting with "/" are commands:
  /ping                   measure the round trip with a ping (RFC 6455 §5.5.2)
  /close [code [reason]]  close the connection (default 1000)
  /binary TEXT            send TEXT as a binary message
  //TEXT                  send "/TEXT"
Otherwise stdin and stdout are a clean pipe.

Exit status: 0 closed normally (1000, or our own close was answered); 1 could not connect;
2 usage error; 3 the server closed with another status; 4 the connection failed or was
dropped without a closing handshake.

Examples:
  wsx connect ws://127.0.0.1:8080/echo
  echo '{"op":"subscribe"}' | wsx connect wss://stream.example.com/v1 | jq .
  wsx connect -H 'Authorization: Bearer T0K3N' -s graphql-transport-ws wss://api.example.com/graphql
  wsx connect --insecure --ping 5s wss://127.0.0.1:8443/
  wsx connect --compression -v ws://127.0.0.1:8080/   # offer permessage-deflate, show the answer
  wsx connect --proxy socks5://127.0.0.1:1080 ws://internal.example:8080/
`

// Exit statuses of wsx connect beyond the shared ones.
const (
	exitClosedWithStatus = 3 // the peer closed with a status other than 1000
	exitDropped          = 4 // no closing handshake: the connection failed or was dropped
)

// connectConfig is what the flags of wsx connect select.
type connectConfig struct {
	binary      bool
	headers     headerFlag
	protocols   listFlag
	origin      string
	proxy       string
	insecure    bool
	ping        time.Duration
	closeCode   int
	closeReason string
	timeout     time.Duration
	readLimit   int64
	compression bool
	verbose     bool
	http2       bool // transports.go
	http3       bool
}

func runConnect(ctx context.Context, e *env, args []string) int {
	f := newFlags("connect", connectUsage)
	var cfg connectConfig
	cfg.readLimit = 64 << 20
	f.BoolVar(&cfg.binary, "binary", false, "send lines as binary messages instead of text")
	f.Var(&cfg.headers, "H", "add a request header `'Name: value'` to the handshake (repeatable)")
	f.Var(&cfg.protocols, "subprotocol", "offer subprotocol `name`s, most preferred first (repeat or comma-separate)")
	f.Var(&cfg.protocols, "s", "short for --subprotocol")
	f.StringVar(&cfg.origin, "origin", "", "send Origin `origin`, such as https://example.com, as a browser would")
	f.StringVar(&cfg.proxy, "proxy", "", "connect through the proxy at `URL` (http, https, socks5, socks5h), or \"direct\";\nthe default comes from HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
	f.BoolVar(&cfg.insecure, "insecure", false, "do not verify the server's TLS certificate")
	f.BoolVar(&cfg.insecure, "k", false, "short for --insecure")
	f.DurationVar(&cfg.ping, "ping", 0, "send a ping every `interval` and print its round-trip time on stderr")
	f.IntVar(&cfg.closeCode, "close-code", int(wsx.StatusNormalClosure), "status `code` to close with at the end of stdin (1000-1003, 1007-1014, 3000-4999)")
	f.StringVar(&cfg.closeReason, "close-reason", "", "`reason` to close with at the end of stdin")
	f.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "give up on the opening handshake after `duration`")
	f.Var((*sizeFlag)(&cfg.readLimit), "read-limit", "largest message `size` accepted (0: no limit)")
	f.BoolVar(&cfg.compression, "compression", false, "offer permessage-deflate (RFC 7692): messages both ways are compressed if the\nserver accepts (-v shows whether it did)")
	f.BoolVar(&cfg.http2, "http2", false, "open the WebSocket as a stream of an HTTP/2 connection (RFC 8441)")
	f.BoolVar(&cfg.http3, "http3", false, "open the WebSocket as a stream of an HTTP/3 connection (RFC 9220, wss:// only)")
	f.BoolVar(&cfg.verbose, "verbose", false, "print the handshake response and connection events on stderr")
	f.BoolVar(&cfg.verbose, "v", false, "short for --verbose")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if len(pos) != 1 {
		return f.usageError(e, "want exactly one URL, got %d arguments", len(pos))
	}
	rawURL := pos[0]
	if err := checkWebSocketURL(rawURL); err != nil {
		return f.usageError(e, "%v", err)
	}
	if !sendableCode(cfg.closeCode) {
		return f.usageError(e, "--close-code %d may not be sent (RFC 6455 §7.4); use 1000-1003, 1007-1014 or 3000-4999", cfg.closeCode)
	}
	if len(cfg.closeReason) > 123 {
		return f.usageError(e, "--close-reason is longer than 123 bytes (RFC 6455 §5.5)")
	}
	opts, err := cfg.dialOptions()
	if err != nil {
		return f.usageError(e, "%v", err)
	}

	dialCtx, cancel := context.WithTimeout(ctx, cfg.timeout)
	c, resp, err := wsx.Dial(dialCtx, rawURL, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(e.stderr, "wsx connect: %v\n", err)
		if resp != nil {
			printRefusal(e, resp)
		}
		fmt.Fprintf(e.stderr, "wsx connect: for a step-by-step check of the handshake, run: wsx doctor %s\n", rawURL)
		return exitFail
	}
	s := &session{c: c, e: e, cfg: &cfg, out: bufio.NewWriter(e.stdout)}
	if cfg.verbose || e.interactive {
		s.status("connected to %s%s", rawURL, describeConn(c))
	}
	if cfg.verbose {
		printResponse(e, resp)
		if cfg.compression && c.Extensions() == "" {
			s.status("the server declined permessage-deflate: messages go uncompressed")
		}
	}
	if e.interactive {
		s.status("type a line to send it; /ping, /close [code [reason]], /binary TEXT; Ctrl-D to close")
	}
	return s.run(ctx)
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

func (cfg *connectConfig) dialOptions() (*wsx.DialOptions, error) {
	opts := &wsx.DialOptions{
		Origin:       cfg.origin,
		Subprotocols: cfg.protocols,
		ConnOptions:  wsx.ConnOptions{ReadLimit: cfg.readLimit},
		Transport:    cfg.streamTransport(),
	}
	if cfg.readLimit == 0 {
		opts.ReadLimit = -1 // no limit
	}
	if len(cfg.headers) > 0 {
		opts.Header = make(http.Header)
		for _, h := range cfg.headers {
			opts.Header.Add(h[0], h[1])
		}
	}
	if cfg.compression {
		opts.Compression = &wsx.CompressionOptions{}
	}
	if cfg.insecure {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
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
// of its body, where servers explain themselves.
func printRefusal(e *env, resp *http.Response) {
	fmt.Fprintf(e.stderr, "wsx connect: the server answered %s %s\n", resp.Proto, resp.Status)
	if resp.Body == nil {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if s := strings.TrimSpace(escapeControl(body)); s != "" {
		fmt.Fprintf(e.stderr, "wsx connect: body: %s\n", s)
	}
}

// printResponse prints the handshake response header on stderr, sorted by name: net/http
// keeps no order.
func printResponse(e *env, resp *http.Response) {
	fmt.Fprintf(e.stderr, "< %s %s\n", resp.Proto, resp.Status)
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[name] {
			fmt.Fprintf(e.stderr, "< %s: %s\n", name, escapeControl([]byte(v)))
		}
	}
}

// session is an open connection of wsx connect.
type session struct {
	c   *wsx.Conn
	e   *env
	cfg *connectConfig

	mu  sync.Mutex // serialises output
	out *bufio.Writer
}

// status prints a line about the connection on stderr.
func (s *session) status(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.e.stderr, "wsx: "+format+"\n", args...)
}

// run sends stdin and prints what arrives until the connection ends, and returns the exit
// status.
func (s *session) run(ctx context.Context) int {
	// The read loop hands messages to a printer so that it is back in Read at once: Close
	// discards what arrives while nobody is reading, and the messages that were in flight
	// when stdin ended must still be printed.
	msgs := make(chan incoming, 1024)
	received := make(chan error, 1) // after every message is printed
	var readErr error
	go func() {
		readErr = s.readLoop(msgs)
		close(msgs)
	}()
	go func() {
		for m := range msgs {
			s.print(m.typ, m.msg)
		}
		received <- readErr
	}()

	done := make(chan struct{})
	defer close(done)
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(s.e.stdin, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = trimEOL(line)
				select {
				case lines <- line:
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()

	var tick <-chan time.Time
	if s.cfg.ping > 0 {
		t := time.NewTicker(s.cfg.ping)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				s.drain(ctx)
				return s.close(s.cfg.closeCode, s.cfg.closeReason, received)
			}
			if code, reason, closing := s.handle(ctx, line); closing {
				s.drain(ctx)
				return s.close(code, reason, received)
			}
		case err := <-received:
			return s.ended(err)
		case <-tick:
			go s.ping(ctx, s.cfg.ping)
		case <-ctx.Done(): // SIGINT or SIGTERM: the user is leaving
			return s.close(int(wsx.StatusGoingAway), "", received)
		}
	}
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// handle sends a line of stdin, or runs it as a command in an interactive session. It
// returns closing with the code and reason when the line asks to close.
func (s *session) handle(ctx context.Context, line []byte) (code int, reason string, closing bool) {
	typ := wsx.MessageText
	if s.cfg.binary {
		typ = wsx.MessageBinary
	}
	if s.e.interactive && len(line) > 0 && line[0] == '/' {
		cmd, arg, _ := strings.Cut(string(line[1:]), " ")
		switch {
		case strings.HasPrefix(cmd, "/"):
			line = line[1:]
		case cmd == "ping":
			go s.ping(ctx, 10*time.Second)
			return 0, "", false
		case cmd == "close" || cmd == "quit":
			code, reason = int(wsx.StatusNormalClosure), ""
			if arg != "" {
				codeArg, rest, _ := strings.Cut(arg, " ")
				n, err := strconv.Atoi(codeArg)
				if err != nil || !sendableCode(n) {
					s.status("/close: %q is not a status code that may be sent (1000-1003, 1007-1014, 3000-4999)", codeArg)
					return 0, "", false
				}
				code, reason = n, rest
			}
			return code, reason, true
		case cmd == "binary":
			typ, line = wsx.MessageBinary, []byte(arg)
		default:
			s.status("unknown command /%s; /ping, /close [code [reason]], /binary TEXT, //TEXT sends /TEXT", cmd)
			return 0, "", false
		}
	}
	if err := s.c.Write(ctx, typ, line); err != nil {
		s.status("send: %v", err)
	}
	return 0, "", false
}

type incoming struct {
	typ wsx.MessageType
	msg []byte
}

// readLoop passes on the messages that arrive until the connection ends, and returns why.
func (s *session) readLoop(msgs chan<- incoming) error {
	for {
		typ, msg, err := s.c.Read(context.Background())
		if err != nil {
			return err
		}
		msgs <- incoming{typ, msg}
	}
}

// print writes a received message: raw in a pipe, escaped and marked in a terminal.
func (s *session) print(typ wsx.MessageType, msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e.interactive {
		prefix := "< "
		if typ == wsx.MessageBinary {
			prefix = fmt.Sprintf("< [binary, %d bytes] ", len(msg))
		}
		s.out.WriteString(prefix + escapeControl(msg) + "\n")
	} else {
		s.out.Write(msg)
		s.out.WriteByte('\n')
	}
	s.out.Flush()
}

// ping measures a round trip and reports it on stderr.
func (s *session) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := s.c.Ping(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			s.status("ping: no pong within %v", timeout)
		}
		return
	}
	s.status("pong in %s", formatDuration(time.Since(start)))
}

// drain waits, before a close asked for by the user, for the answers to what was sent. A ping is the barrier:
// a server answers it after the messages it received before it, and its pong reaches the
// read loop after the replies the server sent before it. Close, which discards data messages
// that arrive while the read loop is between two reads, comes after that.
func (s *session) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.c.Ping(ctx)
}

// close performs the closing handshake (§7.1.2) and waits for the read loop to print what
// arrived before the server's Close.
func (s *session) close(code int, reason string, received <-chan error) int {
	err := s.c.Close(wsx.StatusCode(code), reason)
	readErr := <-received
	if err != nil {
		if !errors.Is(err, net.ErrClosed) { // not just the server closing first
			s.status("closing: %v", err)
		}
		return s.ended(readErr)
	}
	if s.cfg.verbose || s.e.interactive {
		s.status("closed with %v", wsx.StatusCode(code))
	}
	return exitOK
}

// ended reports how the server ended the connection and returns the exit status for it.
func (s *session) ended(err error) int {
	var ce *wsx.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code == wsx.StatusNormalClosure:
		if s.cfg.verbose || s.e.interactive {
			s.status("the server closed the connection (%v)", ce.Code)
		}
		return exitOK
	case ce != nil && ce.Code != wsx.StatusAbnormalClosure:
		if ce.Reason != "" {
			s.status("the server closed the connection with status %v: %s", ce.Code, escapeControl([]byte(ce.Reason)))
		} else {
			s.status("the server closed the connection with status %v", ce.Code)
		}
		return exitClosedWithStatus
	}
	s.status("connection failed: %v", err)
	return exitDropped
}
