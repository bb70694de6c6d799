package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
)

// wsServer runs handle for every WebSocket connection to an httptest server and returns its
// ws:// URL.
func wsServer(t *testing.T, handle func(c *wsx.Conn, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{InsecureSkipOriginCheck: true, Subprotocols: []string{"v2", "v1"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		handle(c, r)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

// typedEcho answers each message with its type and payload, "text:hi", as a text message.
func typedEcho(c *wsx.Conn, _ *http.Request) {
	for {
		typ, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if c.Write(context.Background(), wsx.MessageText, []byte(typ.String()+":"+string(msg))) != nil {
			return
		}
	}
}

// Pipe mode: a message per line, a line per message, raw bytes, and a normal close at EOF.
func TestConnectPipe(t *testing.T) {
	s := startServe(t)
	in := "one\r\ntwo\n\n\x1b[2Jraw\nlast line without newline"
	r := runWSX(t, context.Background(), strings.NewReader(in), "connect", s.url)
	want := "one\ntwo\n\n\x1b[2Jraw\nlast line without newline\n"
	if r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Fatalf("got %+v, want exit 0 and stdout %q", r, want)
	}
}

// Everything sent before the end of stdin is answered before the connection closes.
func TestConnectPipeKeepsReplies(t *testing.T) {
	s := startServe(t)
	var in strings.Builder
	for i := range 5000 {
		in.WriteString(strings.Repeat("x", i%100) + "\n")
	}
	r := runWSX(t, context.Background(), strings.NewReader(in.String()), "connect", s.url)
	if r.code != exitOK || r.stdout != in.String() {
		t.Fatalf("exit %d, %d of %d bytes back; stderr %q", r.code, len(r.stdout), in.Len(), r.stderr)
	}
}

func TestConnectBinary(t *testing.T) {
	url := wsServer(t, typedEcho)
	r := runWSX(t, context.Background(), strings.NewReader("a\nb\n"), "connect", "--binary", url)
	if r.code != exitOK || r.stdout != "binary:a\nbinary:b\n" {
		t.Fatalf("got %+v", r)
	}
}

// -H, -s and --origin reach the server (§4.1 items 8, 10, 12); -s is a list in preference order.
func TestConnectRequestHeaders(t *testing.T) {
	url := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		info := strings.Join([]string{r.Header.Get("Authorization"), r.Header.Get("X-Two"), r.Header.Get("Origin"),
			r.Header.Get("Sec-WebSocket-Protocol"), c.Subprotocol()}, "|")
		c.Write(context.Background(), wsx.MessageText, []byte(info))
		c.Close(wsx.StatusNormalClosure, "")
	})
	r := runWSX(t, context.Background(), blockingStdin(t), "connect", "-H", "Authorization: Bearer x", "-H", "X-Two: 2",
		"--origin", "https://example.com", "-s", "v1", "--subprotocol", "v2,v3", "-v", url)
	if r.code != exitOK || r.stdout != "Bearer x|2|https://example.com|v1, v2, v3|v2\n" {
		t.Fatalf("got %+v", r)
	}
	if !strings.Contains(r.stderr, "(subprotocol v2)") || !strings.Contains(r.stderr, "< HTTP/1.1 101 Switching Protocols") {
		t.Errorf("-v output %q lacks the connection line or the response", r.stderr)
	}
}

// blockingStdin is a stdin that sends nothing until the test ends, so that the server ends
// the connection.
func blockingStdin(t *testing.T) io.Reader {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return pr
}

// The exit status says how the connection ended.
func TestConnectExitStatus(t *testing.T) {
	closeWith := func(code wsx.StatusCode, reason string) func(*wsx.Conn, *http.Request) {
		return func(c *wsx.Conn, _ *http.Request) { c.Close(code, reason) }
	}
	for _, tc := range []struct {
		name   string
		handle func(*wsx.Conn, *http.Request)
		code   int
		stderr string
	}{
		{"server closes with 1000", closeWith(wsx.StatusNormalClosure, ""), exitOK, ""},
		{"server closes with 4001", closeWith(4001, "bye\x1b[0m"), exitClosedWithStatus, `status 4001: bye\x1b[0m`},
		{"server closes with 1011", closeWith(wsx.StatusInternalError, ""), exitClosedWithStatus, "status 1011 (internal error)"},
		{"server drops TCP", func(c *wsx.Conn, _ *http.Request) { c.CloseNow() }, exitDropped, "connection failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWSX(t, context.Background(), blockingStdin(t), "connect", wsServer(t, tc.handle))
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("got %+v, want exit %d and stderr with %q", r, tc.code, tc.stderr)
			}
		})
	}
}

func TestConnectFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away\x1b[2J", http.StatusForbidden)
	}))
	defer refusing.Close()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr []string
	}{
		{[]string{"ws://" + closedAddr + "/"}, exitFail, []string{"connection refused", "wsx doctor ws://" + closedAddr}},
		{[]string{"ws" + strings.TrimPrefix(refusing.URL, "http")}, exitFail, []string{"HTTP/1.1 403 Forbidden", `body: go away\x1b[2J`}},
		{[]string{"ftp://example.com/"}, exitUsage, []string{"bad URL", "want ws://host/path"}},
		{[]string{"ws:///path"}, exitUsage, []string{"no host"}},
		{[]string{}, exitUsage, []string{"want exactly one URL"}},
		{[]string{"--close-code", "1006", "ws://x/"}, exitUsage, []string{"1006 may not be sent"}},
		{[]string{"--proxy", "::", "ws://x/"}, exitUsage, []string{"bad --proxy"}},
		{[]string{"-H", "oops", "ws://x/"}, exitUsage, []string{`want "Name: value"`}},
	} {
		r := runWSX(t, context.Background(), nil, append([]string{"connect"}, tc.args...)...)
		for _, s := range tc.stderr {
			if r.code != tc.code || !strings.Contains(r.stderr, s) {
				t.Errorf("connect %q: got %+v, want exit %d and stderr with %q", tc.args, r, tc.code, s)
			}
		}
	}
}

// --close-code and --close-reason are what the server receives at the end of stdin (§7.1.2).
func TestConnectCloseCode(t *testing.T) {
	got := make(chan error, 1)
	url := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		_, _, err := c.Read(context.Background())
		got <- err
	})
	r := runWSX(t, context.Background(), nil, "connect", "--close-code", "4000", "--close-reason", "done", url)
	if r.code != exitOK {
		t.Fatalf("got %+v", r)
	}
	var ce *wsx.CloseError
	if err := <-got; !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done" {
		t.Fatalf("server read %v, want close 4000 \"done\"", err)
	}
}

// A terminal session: received messages are marked and escaped, and lines starting with /
// are commands.
func TestConnectInteractive(t *testing.T) {
	got := make(chan error, 1)
	url := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		c.Write(context.Background(), wsx.MessageText, []byte("\x1b]0;pwned\x07\u202eevil\tok"))
		c.Write(context.Background(), wsx.MessageBinary, []byte{0xff, 'A', '\n'})
		typedEcho(c, r)
		got <- nil
	})
	stdin := "plain\n/binary bin\n//slash\n/ping\n/nonsense\n/close 4002 over and out\nnot sent\n"
	var stdout, stderr syncBuffer
	code := run(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, interactive: true},
		[]string{"connect", url})
	want := `< \x1b]0;pwned\x07\u202eevil` + "\tok\n" +
		`< [binary, 3 bytes] \xffA` + "\n\n" +
		"< text:plain\n< binary:bin\n< text:/slash\n"
	if code != exitOK || stdout.String() != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout.String(), want, stderr.String())
	}
	for _, s := range []string{"connected to " + url, "unknown command /nonsense", "closed with 4002"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
		}
	}
	<-got
}

// --ping reports round-trip times on stderr.
func TestConnectPing(t *testing.T) {
	s := startServe(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	stderr := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(context.Background(), &env{stdin: pr, stdout: io.Discard, stderr: stderr}, []string{"connect", "--ping", "10ms", s.url})
	}()
	for !strings.Contains(stderr.String(), "wsx: pong in ") {
		select {
		case code := <-done:
			t.Fatalf("exit %d: %s", code, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	pw.Close()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// --insecure accepts a self-signed certificate, which is refused without it.
func TestConnectInsecure(t *testing.T) {
	s := startServe(t, "--tls-self-signed")
	if r := runWSX(t, context.Background(), nil, "connect", s.url); r.code != exitFail || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("without --insecure: %+v", r)
	}
	if r := runWSX(t, context.Background(), strings.NewReader("hi\n"), "connect", "-k", s.url); r.code != exitOK || r.stdout != "hi\n" {
		t.Fatalf("with -k: %+v", r)
	}
}

// connectProxy is an HTTP CONNECT proxy (RFC 9110 §9.3.6) that records the targets it was
// asked for and counts the bytes it carries each way.
type connectProxy struct {
	url      string
	up, down atomic.Int64 // bytes from the client to the server, and back

	mu      sync.Mutex
	targets []string
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &connectProxy{url: "http://" + ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				p.mu.Lock()
				p.targets = append(p.targets, req.Host)
				p.mu.Unlock()
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				// Counted as read, before the other side can see the bytes.
				go io.Copy(up, &countingReader{br, &p.up})
				io.Copy(c, &countingReader{up, &p.down})
			}()
		}
	}()
	return p
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// --proxy sends the connection through an HTTP CONNECT proxy.
func TestConnectProxy(t *testing.T) {
	s := startServe(t)
	p := startConnectProxy(t)
	r := runWSX(t, context.Background(), strings.NewReader("via proxy\n"), "connect", "--proxy", p.url, s.url)
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.code != exitOK || r.stdout != "via proxy\n" || len(p.targets) != 1 || p.targets[0] != s.addr {
		t.Fatalf("got %+v, proxy saw CONNECT to %q", r, p.targets)
	}
}

// --compression offers permessage-deflate (RFC 7692); with wsx serve accepting it, a 64 KiB
// line crosses the wire in a few hundred bytes each way. -v says what was agreed.
func TestConnectCompression(t *testing.T) {
	line := strings.Repeat("all work and no play makes jack a dull boy ", 64<<10/44) + "\n"
	for _, tc := range []struct {
		serve, connect []string
		compressed     bool
		stderr         string
	}{
		{[]string{"--compression"}, []string{"--compression"}, true, "(extensions permessage-deflate"},
		{[]string{"--compression", "--compression-level", "1"}, []string{"--compression"}, true, "< Sec-Websocket-Extensions: permessage-deflate"},
		{nil, nil, false, "< Upgrade: websocket"},
		{[]string{"--compression=false"}, []string{"--compression"}, false, "wsx: the server declined permessage-deflate: messages go uncompressed"},
	} {
		s := startServe(t, tc.serve...)
		p := startConnectProxy(t)
		args := append(append([]string{"connect", "-v", "--proxy", p.url}, tc.connect...), s.url)
		r := runWSX(t, context.Background(), strings.NewReader(line), args...)
		if r.code != exitOK || r.stdout != line || !strings.Contains(r.stderr, tc.stderr) {
			t.Fatalf("serve %q, connect %q: exit %d, %d bytes out of %d back, stderr lacks %q:\n%s",
				tc.serve, tc.connect, r.code, len(r.stdout), len(line), tc.stderr, r.stderr)
		}
		up, down := p.up.Load(), p.down.Load()
		t.Logf("serve %q, connect %q: %d bytes up, %d down", tc.serve, tc.connect, up, down)
		if compressed := up < 4<<10 && down < 4<<10; compressed != tc.compressed || !compressed && (up < int64(len(line)) || down < int64(len(line))) {
			t.Errorf("serve %q, connect %q: %d bytes up, %d down for a %d-byte line", tc.serve, tc.connect, up, down, len(line))
		}
		if strings.Contains(r.stderr, "extensions") != tc.compressed {
			t.Errorf("serve %q, connect %q: -v output:\n%s", tc.serve, tc.connect, r.stderr)
		}
	}
}
