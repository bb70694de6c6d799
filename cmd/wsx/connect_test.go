package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	r := runWSX(t, context.Background(), strings.NewReader(in), "connect", "--wait", "0", s.url)
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
	r := runWSX(t, context.Background(), strings.NewReader(in.String()), "connect", "--wait", "0", s.url)
	if r.code != exitOK || r.stdout != in.String() {
		t.Fatalf("exit %d, %d of %d bytes back; stderr %q", r.code, len(r.stdout), in.Len(), r.stderr)
	}
}

func TestConnectBinary(t *testing.T) {
	url := wsServer(t, typedEcho)
	r := runWSX(t, context.Background(), strings.NewReader("a\nb\n"), "connect", "--wait", "0", "--binary", url)
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
	r := runWSX(t, context.Background(), nil, "connect", "--wait", "0", "--close-code", "4000", "--close-reason", "done", url)
	if r.code != exitOK {
		t.Fatalf("got %+v", r)
	}
	var ce *wsx.CloseError
	if err := <-got; !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done" {
		t.Fatalf("server read %v, want close 4000 \"done\"", err)
	}
}

// --ping reports round-trip times on stderr.
func TestConnectPing(t *testing.T) {
	s := startServe(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	stderr := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(context.Background(), &env{stdin: pr, stdout: io.Discard, stderr: stderr}, []string{"connect", "--wait", "0", "--ping", "10ms", s.url})
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
	if r := runWSX(t, context.Background(), strings.NewReader("hi\n"), "connect", "--wait", "0", "-k", s.url); r.code != exitOK || r.stdout != "hi\n" {
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
	p := &connectProxy{}
	p.url = "http://" + rawServer(t, func(c net.Conn) {
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
	})
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
	r := runWSX(t, context.Background(), strings.NewReader("via proxy\n"), "connect", "--wait", "0", "--proxy", p.url, s.url)
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
		args := append(append([]string{"connect", "--wait", "0", "-v", "--proxy", p.url}, tc.connect...), s.url)
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

// lateServer answers each message with "late:" and the message, delay after it arrived, and
// then closes the connection with 1000.
func lateServer(t *testing.T, delay time.Duration) string {
	return wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		_, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		time.Sleep(delay)
		c.Write(context.Background(), wsx.MessageText, append([]byte("late:"), msg...))
		c.Close(wsx.StatusNormalClosure, "")
	})
}

// By default, the end of stdin does not close the connection: a reply that comes 100 ms
// later is printed, and the server's Close ends the run. Through real pipes, as in
// echo '{"op":"subscribe"}' | wsx connect URL | jq .
func TestConnectReadsAfterStdinEnds(t *testing.T) {
	url := lateServer(t, 100*time.Millisecond)
	r := runBinary(t, `{"op":"subscribe"}`+"\n", "connect", url)
	if r.code != exitOK || r.stdout != `late:{"op":"subscribe"}`+"\n" || r.stderr != "" {
		t.Fatalf("got %+v, want the late reply and exit 0", r)
	}
	// With stderr on a terminal, someone is told why nothing ends.
	var stdout, stderr syncBuffer
	code := run(context.Background(), &env{stdin: strings.NewReader("x\n"), stdout: &stdout, stderr: &stderr, stderrTerminal: true},
		[]string{"connect", lateServer(t, 100*time.Millisecond)})
	if code != exitOK || stdout.String() != "late:x\n" || !strings.Contains(stderr.String(), "wsx: the input ended; reading until the server closes") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	// --wait bounds the wait: a server that never answers gets our Close after it.
	url = wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
	r = runWSX(t, context.Background(), strings.NewReader("x\n"), "connect", "--wait", "50ms", url)
	if r.code != exitOK || r.stdout != "" {
		t.Fatalf("--wait 50ms: got %+v, want no output and exit 0", r)
	}
}

// -1 and --count end the run after that many messages; the exit status says whether they
// came.
func TestConnectCount(t *testing.T) {
	s := startServe(t)
	r := runWSX(t, context.Background(), nil, "connect", "-1", "--send", "hello, world", s.url)
	if r.code != exitOK || r.stdout != "hello, world\n" {
		t.Fatalf("-1 --send: got %+v", r)
	}
	chatty := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		for i := range 5 {
			c.Write(context.Background(), wsx.MessageText, []byte(strconv.Itoa(i)))
		}
		c.Read(context.Background()) // until the client closes
	})
	r = runWSX(t, context.Background(), blockingStdin(t), "connect", "--count", "3", chatty)
	if r.code != exitOK || r.stdout != "0\n1\n2\n" {
		t.Fatalf("--count 3 of 5: got %+v", r)
	}
	r = runWSX(t, context.Background(), nil, "connect", "--count", "3", "--wait", "200ms", "--send", "a", "--send", "b", s.url)
	if r.code != exitTooFew || r.stdout != "a\nb\n" || !strings.Contains(r.stderr, "2 of the 3 messages of --count arrived") {
		t.Fatalf("--count 3 of 2: got %+v, want exit 5", r)
	}
	if r := runWSX(t, context.Background(), nil, "connect", "-1", "--count", "2", s.url); r.code != exitUsage {
		t.Fatalf("-1 --count 2: %+v", r)
	}
}

// multiServer sends, on each connection, the messages of msgs and then closes with 1000.
func multiServer(t *testing.T, msgs ...func(c *wsx.Conn)) string {
	return wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		for _, m := range msgs {
			m(c)
		}
		c.Close(wsx.StatusNormalClosure, "bye")
	})
}

func sendMsg(typ wsx.MessageType, p string) func(c *wsx.Conn) {
	return func(c *wsx.Conn) { c.Write(context.Background(), typ, []byte(p)) }
}

// The output formats: lines (binary in base64 or hex), raw, JSON lines, timestamps.
func TestConnectOutputFormats(t *testing.T) {
	url := multiServer(t, sendMsg(wsx.MessageText, "plain"), sendMsg(wsx.MessageText, "two\nlines \"q\" \x01 é"),
		sendMsg(wsx.MessageBinary, "\x00\xffA"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "plain\ntwo\nlines \"q\" \x01 é\nAP9B\n"},
		{[]string{"-o", "lines", "--hex"}, "plain\ntwo\nlines \"q\" \x01 é\n00ff41\n"},
		{[]string{"-o", "raw"}, "plaintwo\nlines \"q\" \x01 é\x00\xffA"},
	} {
		r := runWSX(t, context.Background(), blockingStdin(t), append(append([]string{"connect"}, tc.args...), url)...)
		if r.code != exitOK || r.stdout != tc.want {
			t.Errorf("connect %q: got %+v, want stdout %q", tc.args, r, tc.want)
		}
	}

	r := runWSX(t, context.Background(), blockingStdin(t), "connect", "-o", "json", url)
	type object struct {
		Time     string `json:"time"`
		Type     string `json:"type"`
		Length   *int   `json:"length"`
		Data     string `json:"data"`
		Code     int    `json:"code"`
		Reason   string `json:"reason"`
		By       string `json:"by"`
		Protocol string `json:"subprotocol"`
	}
	var got []object
	for line := range strings.Lines(r.stdout) {
		var o object
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, o.Time); err != nil {
			t.Errorf("line %q: time: %v", line, err)
		}
		got = append(got, o)
	}
	want := []object{{Type: "open"}, {Type: "text", Data: "plain"}, {Type: "text", Data: "two\nlines \"q\" \x01 é"},
		{Type: "binary", Data: "AP9B"}, {Type: "close", Code: 1000, Reason: "bye", By: "server"}}
	if r.code != exitOK || len(got) != len(want) {
		t.Fatalf("-o json: exit %d, output:\n%s", r.code, r.stdout)
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || g.Data != w.Data || g.Code != w.Code || g.Reason != w.Reason || g.By != w.By {
			t.Errorf("-o json object %d: %+v, want %+v", i, g, w)
		}
		if (g.Type == "text" || g.Type == "binary") && (g.Length == nil || *g.Length != len(w.Data) && w.Type == "text" || *g.Length != 3 && w.Type == "binary") {
			t.Errorf("-o json object %d: length %v", i, g.Length)
		}
	}

	r = runWSX(t, context.Background(), blockingStdin(t), "connect", "-t", url)
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d) `)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != exitOK || len(lines) != 4 || !stamp.MatchString(lines[0]) || !strings.HasSuffix(lines[0], " plain") || !stamp.MatchString(lines[3]) {
		t.Fatalf("-t: got %+v", r)
	}
}

// A line of stdin that is not UTF-8 goes as a binary message, never as invalid text (§8.1);
// --send-file sends a file as one message, text if it is UTF-8.
func TestConnectInputTypes(t *testing.T) {
	url := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			c.Write(context.Background(), wsx.MessageText, fmt.Appendf(nil, "%v:%x", typ, msg))
		}
	})
	r := runWSX(t, context.Background(), strings.NewReader("ok\n\xff\xfe\nok again\n\xc3\n"), "connect", "--wait", "0", url)
	if r.code != exitOK || r.stdout != "text:6f6b\nbinary:fffe\ntext:6f6b20616761696e\nbinary:c3\n" ||
		strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "line 2 is not valid UTF-8: sent as a binary message") {
		t.Fatalf("got %+v", r)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ content, want string }{
		"text.json": {"{\"a\":\n1}", "text:7b2261223a0a317d\n"},
		"image.bin": {"\x89PNG\x00", "binary:89504e4700\n"},
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(tc.content), 0o600)
		r := runWSX(t, context.Background(), nil, "connect", "-1", "--send-file", path, url)
		if r.code != exitOK || r.stdout != tc.want {
			t.Errorf("--send-file %s: got %+v, want %q", name, r, tc.want)
		}
	}
	r = runWSX(t, context.Background(), strings.NewReader("a\nb"), "connect", "-1", "--send-file", "-", url)
	if r.code != exitOK || r.stdout != "text:610a62\n" {
		t.Errorf("--send-file -: got %+v", r)
	}
	if r := runWSX(t, context.Background(), nil, "connect", "--send-file", filepath.Join(dir, "missing"), url); r.code != exitFail || !strings.Contains(r.stderr, "--send-file") {
		t.Errorf("--send-file missing: got %+v", r)
	}
}

// Credentials from the URL, --auth and --token; -H Host; the default User-Agent.
func TestConnectAuthAndHeaders(t *testing.T) {
	url := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		c.Write(context.Background(), wsx.MessageText, []byte(r.Header.Get("Authorization")+"|"+r.Host+"|"+r.Header.Get("User-Agent")))
		c.Close(wsx.StatusNormalClosure, "")
	})
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws://")
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	ua := "wsx/" + version()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ws://alice:s%20cret@" + host + "/"}, basic("alice", "s cret") + "|" + host + "|" + ua},
		{[]string{"--auth", "bob:pw:with:colons", url}, basic("bob", "pw:with:colons") + "|" + host + "|" + ua},
		{[]string{"--token", "T0K3N", url}, "Bearer T0K3N|" + host + "|" + ua},
		{[]string{"-H", "Host: app.example.test:8443", "-H", "User-Agent: mine/1", url}, "|app.example.test:8443|mine/1"},
	} {
		r := runWSX(t, context.Background(), blockingStdin(t), append([]string{"connect"}, tc.args...)...)
		if r.code != exitOK || r.stdout != tc.want+"\n" {
			t.Errorf("connect %q: got %+v, want %q", tc.args, r, tc.want)
		}
	}
	if !strings.HasPrefix(ua, "wsx/") || len(ua) <= len("wsx/") {
		t.Errorf("User-Agent %q", ua)
	}
	for _, args := range [][]string{
		{"--token", "x", "ws://u:p@" + host + "/"},
		{"--auth", "x", url},
		{"--auth", "a:b", "--token", "x", url},
		{"-H", "Authorization: x", "--token", "y", url},
		{"-H", "Upgrade: h2c", url},
		{"-H", "Sec-WebSocket-Version: 8", url},
		{"--cert", "c.pem", url},
		{"--cacert", "/nonexistent.pem", url},
	} {
		r := runWSX(t, context.Background(), nil, append([]string{"connect"}, args...)...)
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("connect %q: got %+v, want a one-line usage error", args, r)
		}
	}
}

// testPKI is a certificate authority with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	pool                        *x509.CertPool
	server                      tls.Certificate
	caFile, certFile, keyFile   string // the CA, and the client's certificate and key
	otherCertFile, otherKeyFile string // a client certificate from another CA
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	issue := func(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.Now()
	newCA := func(name string, serial int64) (*x509.Certificate, *ecdsa.PrivateKey) {
		key := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		return issue(tmpl, tmpl, key, key), key
	}
	ca, caKey := newCA("wsx test CA", 1)
	leaf := func(cn string, usage x509.ExtKeyUsage, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key := newKey()
		return issue(&x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, parent, key, parentKey), key
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = write("ca.pem", "CERTIFICATE", ca.Raw)
	srv, srvKey := leaf("server", x509.ExtKeyUsageServerAuth, ca, caKey)
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}
	cli, cliKey := leaf("the client", x509.ExtKeyUsageClientAuth, ca, caKey)
	p.certFile = write("client.pem", "CERTIFICATE", cli.Raw)
	der, _ := x509.MarshalECPrivateKey(cliKey)
	p.keyFile = write("client-key.pem", "EC PRIVATE KEY", der)
	other, otherKey := newCA("another CA", 2)
	stranger, strangerKey := leaf("a stranger", x509.ExtKeyUsageClientAuth, other, otherKey)
	p.otherCertFile = write("stranger.pem", "CERTIFICATE", stranger.Raw)
	der, _ = x509.MarshalECPrivateKey(strangerKey)
	p.otherKeyFile = write("stranger-key.pem", "EC PRIVATE KEY", der)
	return p
}

// --cacert verifies the server against a CA of one's own; --cert and --key present a client
// certificate to a server that requires one.
func TestConnectTLSClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), wsx.MessageText, []byte("hello "+r.TLS.PeerCertificates[0].Subject.CommonName))
		c.Close(wsx.StatusNormalClosure, "")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https") + "/"

	r := runWSX(t, context.Background(), blockingStdin(t), "connect", "--cacert", pki.caFile, "--cert", pki.certFile, "--key", pki.keyFile, url)
	if r.code != exitOK || r.stdout != "hello the client\n" {
		t.Fatalf("with the client certificate: %+v", r)
	}
	for name, args := range map[string][]string{
		"system roots":             {"--cert", pki.certFile, "--key", pki.keyFile},
		"no certificate":           {"--cacert", pki.caFile},
		"another CA's certificate": {"--cacert", pki.caFile, "--cert", pki.otherCertFile, "--key", pki.otherKeyFile},
	} {
		r := runWSX(t, context.Background(), nil, append(append([]string{"connect"}, args...), url)...)
		if r.code != exitFail || r.stdout != "" {
			t.Errorf("%s: %+v, want exit 1", name, r)
		}
	}
}

// --reconnect opens the connection again after the server closes it, with backoff.
func TestConnectReconnect(t *testing.T) {
	var conns atomic.Int32
	url := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		n := conns.Add(1)
		c.Write(context.Background(), wsx.MessageText, []byte("connection "+strconv.Itoa(int(n))))
		c.Close(wsx.StatusServiceRestart, "restarting")
	})
	r := runWSX(t, context.Background(), blockingStdin(t), "connect", "--reconnect", "--count", "2", url)
	if r.code != exitOK || r.stdout != "connection 1\nconnection 2\n" || !strings.Contains(r.stderr, "status 1012 (service restart): restarting") ||
		!strings.Contains(r.stderr, "wsx: reconnecting in ") {
		t.Fatalf("got %+v", r)
	}
	// Without --reconnect, the same server ends the run with exit status 3.
	r = runWSX(t, context.Background(), blockingStdin(t), "connect", url)
	if r.code != exitClosedWithStatus || r.stdout != "connection 3\n" {
		t.Fatalf("without --reconnect: %+v", r)
	}
}

// A failed dial names the whole URL, path included, once, with no doubled "wsx:" prefix.
func TestConnectDialErrorNamesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/no/such/path?x=1"
	r := runWSX(t, context.Background(), nil, "connect", url)
	if r.code != exitFail || !strings.Contains(r.stderr, "wsx connect: "+url+": ") || strings.Contains(r.stderr, "wsx: ") ||
		!strings.Contains(r.stderr, "404 Not Found") {
		t.Fatalf("got %+v", r)
	}
}

// framesServer answers each handshake by hand (§4.2.2) and then writes frames, so that a
// test can send what wsx would never send.
func framesServer(t *testing.T, frames []byte) string {
	t.Helper()
	return "ws://" + rawServer(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.WriteString(c, response101(wsx.AcceptKey(req.Header.Get("Sec-WebSocket-Key"))))
		c.Write(frames)
		io.Copy(io.Discard, c)
	}) + "/"
}

// wsx connect's read limit is the library's default (issue 8 item 14): a message over it
// fails the connection with 1009 as soon as its header arrives.
func TestConnectDefaultReadLimit(t *testing.T) {
	r := runWSX(t, context.Background(), blockingStdin(t), "connect", framesServer(t, tooBigFrameHeader(false)))
	if r.code != exitDropped || !strings.Contains(r.stderr, "read limit") {
		t.Fatalf("got %+v, want exit 4 with the read limit named", r)
	}
	r = runWSX(t, context.Background(), nil, "connect", "--help")
	if !strings.Contains(r.stdout, "(default 32MiB)") {
		t.Fatalf("connect --help does not state the default read limit:\n%s", r.stdout)
	}
}

// --show-pings shows the pings the server sends, which wsx answers either way (§5.5.2).
func TestConnectShowPings(t *testing.T) {
	pinger := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		ctx := context.Background()
		if err := c.Ping(ctx); err != nil { // answered by the client's reading
			return
		}
		c.Write(ctx, wsx.MessageText, []byte("after the ping"))
		c.Read(ctx) // until the client closes
	})
	r := runWSX(t, context.Background(), blockingStdin(t), "connect", "-1", "--show-pings", "-o", "json", pinger)
	ping, msg := strings.Index(r.stdout, `"type":"ping","length":8`), strings.Index(r.stdout, `"data":"after the ping"`)
	if r.code != exitOK || ping < 0 || msg < ping {
		t.Fatalf("json: got %+v", r)
	}
	r = runWSX(t, context.Background(), blockingStdin(t), "connect", "-1", "--show-pings", pinger)
	if r.code != exitOK || r.stdout != "after the ping\n" || !strings.Contains(r.stderr, "ping from the server (8 bytes)") {
		t.Fatalf("lines: got %+v", r)
	}
	r = runWSX(t, context.Background(), blockingStdin(t), "connect", "-1", pinger)
	if r.code != exitOK || strings.Contains(r.stderr, "ping") {
		t.Fatalf("without --show-pings: got %+v", r)
	}
}
