//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/httphead"
)

// serveTCP accepts connections on ln in the background and serves each with serve. Cleanup
// closes the listener and every connection, and waits for the goroutines.
func serveTCP(t testing.TB, ln net.Listener, serve func(net.Conn)) string {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  = map[net.Conn]bool{}
		closed bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				c.Close()
			}
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// rawHandshake is the server's view of one client's opening handshake.
type rawHandshake struct {
	t    testing.TB
	head []byte        // the request head exactly as the client sent it
	req  *http.Request // head, parsed
	nc   net.Conn
	br   *bufio.Reader // reads what the client sent after the head
}

func (h *rawHandshake) key() string { return h.req.Header.Get("Sec-WebSocket-Key") }

// accept101 is a valid 101 response for h, with extra header lines (each ending in CRLF).
func (h *rawHandshake) accept101(extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + AcceptKey(h.key()) + "\r\n" + extra + "\r\n"
}

func (h *rawHandshake) write(s string) {
	if _, err := io.WriteString(h.nc, s); err != nil {
		h.t.Errorf("raw server: write: %v", err)
	}
}

// waitClosed reads until the client closes the connection and returns the read's error:
// io.EOF when the client closed it.
func (h *rawHandshake) waitClosed() error {
	h.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, h.br)
	if err == nil {
		err = io.EOF
	}
	return err
}

// serveConn makes the rest of h a server-side Conn, as Accept would.
func (h *rawHandshake) serveConn() *Conn {
	return newConn(h.nc, connConfig{br: h.br})
}

// readHead reads an HTTP head, up to and including its empty line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		head = append(head, line...)
		if err != nil {
			return head, err
		}
		if string(line) == "\r\n" {
			return head, nil
		}
	}
}

// startRawServer starts a server on 127.0.0.1 (TLS with cfg when non-nil) that serves
// handshakes as serveHandshakes does.
func startRawServer(t testing.TB, cfg *tls.Config, respond func(*rawHandshake)) (addr string, got <-chan *rawHandshake) {
	t.Helper()
	ln := listen(t, "tcp", "127.0.0.1:0")
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return serveHandshakes(t, ln, respond)
}

// serveHandshakes reads each client's opening handshake on ln, sends it on the returned
// channel, and hands it to respond.
func serveHandshakes(t testing.TB, ln net.Listener, respond func(*rawHandshake)) (addr string, got <-chan *rawHandshake) {
	ch := make(chan *rawHandshake, 16)
	addr = serveTCP(t, ln, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		head, err := readHead(br)
		if err != nil {
			return // the client gave up before sending a whole request
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Errorf("raw server: client sent an invalid request: %v\n%s", err, head)
			return
		}
		h := &rawHandshake{t: t, head: head, req: req, nc: nc, br: br}
		ch <- h
		respond(h)
	})
	return addr, ch
}

// echo completes the handshake and echoes every message until the connection ends.
func echo(h *rawHandshake) {
	h.write(h.accept101(""))
	c := h.serveConn()
	for {
		typ, p, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if err := c.Write(context.Background(), typ, p); err != nil {
			return
		}
	}
}

// noProxy keeps tests independent of the environment's proxy settings.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// dialTo returns a NetDialContext that connects every address to addr, recording the
// addresses it was asked for.
func dialTo(addr string, asked *[]string) func(context.Context, string, string) (net.Conn, error) {
	var mu sync.Mutex
	return func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		*asked = append(*asked, a)
		mu.Unlock()
		return new(net.Dialer).DialContext(ctx, network, addr)
	}
}

func mustDial(t testing.TB, ctx context.Context, u string, opts *DialOptions) (*Conn, *http.Response) {
	t.Helper()
	c, resp, err := Dial(ctx, u, opts)
	if err != nil {
		t.Fatalf("Dial(%s): %v", u, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, resp
}

// testCtx returns a context that ends with the test, and after 10 s: a test that fails
// by blocking fails rather than hangs.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoes checks that a message sent on c comes back.
func echoes(t testing.TB, c *Conn, msg string) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Write(ctx, MessageText, []byte(msg)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	typ, p, err := c.Read(ctx)
	if err != nil || typ != MessageText || string(p) != msg {
		t.Fatalf("Read = %v %q %v, want the echo of %q", typ, p, err, msg)
	}
}

// §4.1 items 1-12: the request is a GET in HTTP/1.1 for the resource name, with Host,
// Upgrade, Connection, a 16-byte base64 key, version 13, Origin, the offered subprotocols and
// the caller's extra fields, and no body.
func TestDialRequest_4_1(t *testing.T) {
	addr, got := startRawServer(t, nil, func(h *rawHandshake) {
		h.write(h.accept101("Sec-WebSocket-Protocol: superchat\r\n"))
		h.waitClosed()
	})
	c, resp := mustDial(t, testCtx(t), "ws://"+addr+"/chat?room=a%23b&x", &DialOptions{
		Origin:       "http://example.com",
		Subprotocols: []string{"chat", "superchat"},
		Header:       http.Header{"Authorization": {"Bearer t0ken"}, "X-Multi": {"one", "two"}},
	})
	h := <-got
	head := string(h.head)
	if want := "GET /chat?room=a%23b&x HTTP/1.1\r\n"; !strings.HasPrefix(head, want) {
		t.Errorf("request line: got %q, want %q", head[:strings.Index(head, "\n")+1], want)
	}
	for _, line := range []string{
		"Host: " + addr, // item 4: a non-default port is included
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Version: 13",
		"Origin: http://example.com",
		"Sec-WebSocket-Protocol: chat, superchat",
		"Authorization: Bearer t0ken",
		"X-Multi: one",
		"X-Multi: two",
	} {
		if !strings.Contains(head, "\r\n"+line+"\r\n") {
			t.Errorf("request lacks the line %q:\n%s", line, head)
		}
	}
	if k, err := base64.StdEncoding.DecodeString(h.key()); err != nil || len(k) != 16 {
		t.Errorf("Sec-WebSocket-Key %q is not the base64 of 16 bytes (item 7)", h.key())
	}
	for _, absent := range []string{"Sec-WebSocket-Extensions", "Content-Length", "Transfer-Encoding"} {
		if v, ok := h.req.Header[http.CanonicalHeaderKey(absent)]; ok {
			t.Errorf("request has %s: %q", absent, v)
		}
	}
	// The client waits for the response before sending anything more.
	if n := h.br.Buffered(); n != 0 {
		t.Errorf("client sent %d bytes after its request head", n)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "superchat" {
		t.Errorf("got status %d, subprotocol %q; want 101, superchat", resp.StatusCode, c.Subprotocol())
	}
	if resp.Request == nil || resp.Request.Header.Get("Sec-WebSocket-Key") != h.key() {
		t.Errorf("resp.Request does not describe the handshake sent")
	}
}

// §4.1 item 7: "The nonce MUST be selected randomly for each connection."
func TestDialFreshKey_4_1_Item7(t *testing.T) {
	addr, got := startRawServer(t, nil, func(h *rawHandshake) { h.write(h.accept101("")); h.waitClosed() })
	seen := map[string]bool{}
	for range 3 {
		mustDial(t, testCtx(t), "ws://"+addr, nil)
		k := (<-got).key()
		if !handshake.ValidKey(k) || seen[k] {
			t.Fatalf("key %q: valid %v, seen before %v", k, handshake.ValidKey(k), seen[k])
		}
		seen[k] = true
	}
}

// §3 and §4.1 items 3-4: the resource name is the path and query ("/" when empty); Host
// carries the port only when it is not the scheme's default; IPv6 literals are bracketed,
// without their zone.
func TestDialHostAndResource_4_1_Items3_4(t *testing.T) {
	addr, got := startRawServer(t, nil, func(h *rawHandshake) { h.write(h.accept101("")); h.waitClosed() })
	for _, tc := range []struct {
		url, dialed, host, target string
	}{
		{"ws://example.com", "example.com:80", "example.com", "/"},
		{"ws://example.com:80/a", "example.com:80", "example.com", "/a"},
		{"http://example.com:8080?q=1", "example.com:8080", "example.com:8080", "/?q=1"},
		{"WS://Example.COM/%7Euser/a%2Fb", "Example.COM:80", "Example.COM", "/%7Euser/a%2Fb"},
		{"ws://[2001:db8::1]/", "[2001:db8::1]:80", "[2001:db8::1]", "/"},
		{"ws://[2001:db8::1]:81/", "[2001:db8::1]:81", "[2001:db8::1]:81", "/"},
		{"ws://[fe80::1%25eth0]:81/", "[fe80::1%eth0]:81", "[fe80::1]:81", "/"},
		{"ws://192.0.2.1:80/", "192.0.2.1:80", "192.0.2.1", "/"},
	} {
		var asked []string
		mustDial(t, testCtx(t), tc.url, &DialOptions{NetDialContext: dialTo(addr, &asked), Proxy: noProxy})
		h := <-got
		if len(asked) != 1 || asked[0] != tc.dialed {
			t.Errorf("%s: dialed %q, want %q", tc.url, asked, tc.dialed)
		}
		if h.req.Host != tc.host || h.req.RequestURI != tc.target {
			t.Errorf("%s: Host %q, target %q; want %q, %q", tc.url, h.req.Host, h.req.RequestURI, tc.host, tc.target)
		}
	}
}

// §3: URIs with a fragment, another scheme, no host, userinfo or a bad port are refused
// before any connection is made (§4.1 client step 1).
func TestDialInvalidURL_3(t *testing.T) {
	for _, u := range []string{
		"ws://example.com/#frag",
		"ws://example.com/#",
		"ws://example.com/a#b?c",
		"ftp://example.com/",
		"example.com/chat",
		"ws:///chat",
		"ws://:80/chat",
		"ws:example.com",
		"ws://user:pass@example.com/",
		"ws://example.com:0/",
		"ws://example.com:65536/",
		"ws://example.com:http/",
		"ws://bücher.example/",
		"ws://example.com/?a b",
		"ws://[::1/",
		"",
	} {
		var asked []string
		_, resp, err := Dial(testCtx(t), u, &DialOptions{NetDialContext: dialTo("127.0.0.1:1", &asked), Proxy: noProxy})
		if err == nil || resp != nil || len(asked) != 0 {
			t.Errorf("Dial(%q) = %v, %v after dialing %q; want an error and no connection", u, resp, err, asked)
		}
	}
	_, _, err := Dial(testCtx(t), "ws://user:secret@example.com/", nil)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error for a URL with userinfo: %v; want one that does not repeat the password", err)
	}
}

// §4.1: the handshake's own fields come from Dial; DialOptions.Header may not override them,
// nor frame a body; subprotocols must be unique tokens (item 10); values cannot smuggle lines.
func TestDialRefusesBadOptions_4_1(t *testing.T) {
	bad := []*DialOptions{
		{Subprotocols: []string{""}},
		{Subprotocols: []string{"a b"}},
		{Subprotocols: []string{"a,b"}},
		{Subprotocols: []string{"chat", "chat"}},
		{Origin: "http://a\r\nX-Injected: 1"},
		{Header: http.Header{"Bad Name": {"v"}}},
		{Header: http.Header{"X-Ok": {"v\r\nX-Injected: 1"}}},
		{Header: http.Header{"X-Ok": {"v\x00"}}},
	}
	for _, name := range []string{"Host", "Upgrade", "connection", "Sec-WebSocket-Key", "Sec-Websocket-Version",
		"Sec-WebSocket-Protocol", "sec-websocket-extensions", "Sec-WebSocket-Accept", "Origin",
		"Content-Length", "Transfer-Encoding"} {
		bad = append(bad, &DialOptions{Header: http.Header{name: {"x"}}})
	}
	for _, opts := range bad {
		var asked []string
		opts.NetDialContext = dialTo("127.0.0.1:1", &asked)
		opts.Proxy = noProxy
		if _, _, err := Dial(testCtx(t), "ws://example.com/", opts); err == nil || len(asked) != 0 {
			t.Errorf("Dial with Header %q, Origin %q, Subprotocols %q: err %v, dialed %q; want an error before dialing",
				opts.Header, opts.Origin, opts.Subprotocols, err, asked)
		}
	}
}

// §4.1 response items 1-6: a response that breaks a rule fails the connection; the error
// says what was wrong and the response is returned.
func TestDialValidatesResponse_4_1(t *testing.T) {
	const (
		status  = "HTTP/1.1 101 Switching Protocols\r\n"
		upgrade = "Upgrade: websocket\r\n"
		conn    = "Connection: Upgrade\r\n"
	)
	accept := func(key string) string { return "Sec-WebSocket-Accept: " + AcceptKey(key) + "\r\n" }
	other := "dGhlIHNhbXBsZSBub25jZQ=="
	for _, tc := range []struct {
		name      string
		protocols []string
		response  func(key string) string
		want      func(key string) []string // substrings of the error
	}{
		{"wrong accept (item 4)", nil,
			func(key string) string { return status + upgrade + conn + "Sec-WebSocket-Accept: " + other + "\r\n" },
			func(key string) []string { return []string{AcceptKey(key), other} }},
		{"accept of the key unhashed (item 4)", nil,
			func(key string) string { return status + upgrade + conn + "Sec-WebSocket-Accept: " + key + "\r\n" },
			func(key string) []string { return []string{AcceptKey(key), key} }},
		{"no accept (item 4)", nil,
			func(key string) string { return status + upgrade + conn },
			func(key string) []string { return []string{AcceptKey(key), "missing"} }},
		{"two accepts (item 4)", nil,
			func(key string) string { return status + upgrade + conn + accept(key) + accept(key) },
			func(key string) []string { return []string{"Sec-WebSocket-Accept"} }},
		{"no upgrade (item 2)", nil,
			func(key string) string { return status + conn + accept(key) },
			func(string) []string { return []string{"Upgrade", "missing"} }},
		{"upgrade h2c (item 2)", nil,
			func(key string) string { return status + "Upgrade: h2c\r\n" + conn + accept(key) },
			func(string) []string { return []string{"Upgrade", "h2c"} }},
		{"upgrade list (item 2)", nil,
			func(key string) string { return status + "Upgrade: websocket, h2c\r\n" + conn + accept(key) },
			func(string) []string { return []string{"Upgrade", "h2c"} }},
		{"no connection (item 3)", nil,
			func(key string) string { return status + upgrade + accept(key) },
			func(string) []string { return []string{"Connection", "missing"} }},
		{"connection keep-alive (item 3)", nil,
			func(key string) string { return status + upgrade + "Connection: keep-alive\r\n" + accept(key) },
			func(string) []string { return []string{"Connection", "keep-alive"} }},
		{"HTTP/1.0", nil,
			func(key string) string { return "HTTP/1.0 101 Switching Protocols\r\n" + upgrade + conn + accept(key) },
			func(string) []string { return []string{"HTTP/1.0"} }},
		{"subprotocol none offered (item 6)", nil,
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Protocol: chat\r\n"
			},
			func(string) []string { return []string{`"chat"`, "not offered"} }},
		{"subprotocol not offered (item 6)", []string{"chat"},
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Protocol: superchat\r\n"
			},
			func(string) []string { return []string{`"superchat"`, "not offered"} }},
		{"subprotocol case differs (item 6)", []string{"chat"},
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Protocol: Chat\r\n"
			},
			func(string) []string { return []string{`"Chat"`, "not offered"} }},
		{"two subprotocols (§4.2.2)", []string{"a", "b"},
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Protocol: a, b\r\n"
			},
			func(string) []string { return []string{"one subprotocol"} }},
		{"empty subprotocol", []string{"a"},
			func(key string) string { return status + upgrade + conn + accept(key) + "Sec-WebSocket-Protocol: \r\n" },
			func(string) []string { return []string{"one subprotocol"} }},
		{"extension not offered (item 5)", nil,
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Extensions: permessage-deflate\r\n"
			},
			func(string) []string { return []string{`"permessage-deflate"`, "not offered"} }},
		{"malformed extensions (§9.1)", nil,
			func(key string) string {
				return status + upgrade + conn + accept(key) + "Sec-WebSocket-Extensions: ;x\r\n"
			},
			func(string) []string { return []string{"Sec-WebSocket-Extensions"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan error, 1)
			addr, got := startRawServer(t, nil, func(h *rawHandshake) {
				h.write(tc.response(h.key()) + "\r\n")
				closed <- h.waitClosed()
			})
			c, resp, err := Dial(testCtx(t), "ws://"+addr, &DialOptions{Subprotocols: tc.protocols})
			if err == nil {
				c.CloseNow()
				t.Fatal("Dial succeeded")
			}
			key := (<-got).key()
			for _, s := range tc.want(key) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("resp = %v, want the 101 response", resp)
			}
			// _Fail the WebSocket Connection_ (§7.1.7): the client closes TCP.
			if err := <-closed; err != io.EOF {
				t.Errorf("server read %v, want EOF", err)
			}
		})
	}
}

// §4.1 response items 2-4: Upgrade and Connection match case-insensitively, Connection is a
// token list that may span lines, whitespace around the Accept value is ignored, and field
// names are case-insensitive.
func TestDialAcceptsResponseVariants_4_1(t *testing.T) {
	for _, fields := range []string{
		"Upgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Accept: %s\r\n",
		"upgrade: websocket\r\nconnection: keep-alive\r\nconnection: upgrade\r\nsec-websocket-accept: %s\r\n",
		"Upgrade:websocket\r\nConnection:Upgrade\r\nSec-WebSocket-Accept: \t%s \t\r\n",
		"Upgrade: websocket,\r\nConnection: ,upgrade ,\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol:  b \r\n",
	} {
		addr, _ := startRawServer(t, nil, func(h *rawHandshake) {
			h.write("HTTP/1.1 101 Web Socket Protocol Handshake\r\n" + fmt.Sprintf(fields, AcceptKey(h.key())) + "\r\n")
			h.waitClosed()
		})
		c, _, err := Dial(testCtx(t), "ws://"+addr, &DialOptions{Subprotocols: []string{"a", "b"}})
		if err != nil {
			t.Errorf("response fields %q: %v", fields, err)
			continue
		}
		c.CloseNow()
	}
}

// §4.1 response item 1: another status is handled per HTTP; Dial follows no redirect and
// returns the response, with the start of its body, for the caller to inspect.
func TestDialRefusedStatus_4_1(t *testing.T) {
	big := strings.Repeat("x", 3*errorBodyLimit)
	for _, tc := range []struct {
		response, status, body, field string
		eof                           bool // the server closes after the response
	}{
		{"HTTP/1.1 403 Forbidden\r\nContent-Length: 18\r\nX-Reason: origin\r\n\r\norigin not allowed", "403 Forbidden", "origin not allowed", "origin", false},
		{"HTTP/1.1 200 OK\r\nX-Reason: plain\r\n\r\nhello, not a websocket server", "200 OK", "hello, not a websocket server", "plain", true},
		{"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nX-Reason: moved\r\n\r\n" + big, "302 Found", big[:errorBodyLimit], "moved", false},
		{"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nX-Reason: auth\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nlogin\r\n0\r\n\r\n", "401 Unauthorized", "login", "auth", false},
		// A slow body is cut short instead of holding Dial.
		{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\nX-Reason: slow\r\n\r\nretry", "503 Service Unavailable", "retry", "slow", false},
	} {
		addr, _ := startRawServer(t, nil, func(h *rawHandshake) {
			h.write(tc.response)
			if tc.eof {
				h.nc.(*net.TCPConn).CloseWrite()
			}
			h.waitClosed()
		})
		c, resp, err := Dial(testCtx(t), "ws://"+addr+"/", nil)
		if err == nil {
			c.CloseNow()
			t.Fatalf("%s: Dial succeeded", tc.status)
		}
		if !strings.Contains(err.Error(), tc.status) || !strings.Contains(err.Error(), "101") {
			t.Errorf("error %q does not say %q and 101", err, tc.status)
		}
		if resp == nil || resp.Status != tc.status || resp.Header.Get("X-Reason") != tc.field {
			t.Fatalf("%s: resp = %+v", tc.status, resp)
		}
		if body, err := io.ReadAll(resp.Body); err != nil || string(body) != tc.body {
			t.Errorf("%s: body %q (%v), want %q", tc.status, body, err, tc.body)
		}
	}
}

// §4.1: ctx bounds the handshake: a server that never answers fails Dial when ctx expires,
// or as soon as it is cancelled, and the connection is closed.
func TestDialContextEndsStalledHandshake_4_1(t *testing.T) {
	closed := make(chan error, 1)
	addr, got := startRawServer(t, nil, func(h *rawHandshake) { closed <- h.waitClosed() })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, resp, err := Dial(ctx, "ws://"+addr, nil)
	if !errors.Is(err, context.DeadlineExceeded) || resp != nil {
		t.Errorf("Dial = %v, %v; want context.DeadlineExceeded", resp, err)
	}
	<-got
	if err := <-closed; err != io.EOF {
		t.Errorf("server read %v, want EOF", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	if _, _, err = Dial(ctx, "ws://"+addr, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial = %v, want context.Canceled", err)
	}
	if err := <-closed; err != io.EOF {
		t.Errorf("server read %v, want EOF", err)
	}

	var asked []string
	if _, _, err = Dial(ctx, "ws://"+addr, &DialOptions{NetDialContext: dialTo(addr, &asked)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled ctx = %v, want context.Canceled", err)
	}
}

// deadlineConn records the deadlines set on a connection.
type deadlineConn struct {
	net.Conn
	mu        sync.Mutex
	deadlines []time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadlines = append(c.deadlines, t)
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// After Dial, ctx no longer affects the connection: its deadline is lifted and cancelling it
// does not close the connection.
func TestDialReleasesContext(t *testing.T) {
	addr, _ := startRawServer(t, nil, echo)
	var dc *deadlineConn
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	c, _ := mustDial(t, ctx, "ws://"+addr, &DialOptions{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := new(net.Dialer).DialContext(ctx, network, addr)
			dc = &deadlineConn{Conn: nc}
			return dc, err
		},
	})
	cancel()
	dc.mu.Lock()
	deadlines := dc.deadlines
	dc.mu.Unlock()
	if len(deadlines) != 2 || deadlines[0].IsZero() || !deadlines[1].IsZero() {
		t.Errorf("deadlines set: %v, want ctx's then none", deadlines)
	}
	echoes(t, c, "still open")
}

// §4.1, §5.1: frames the server sends right behind its 101, in the same segment, belong to
// the WebSocket connection; the client masks what it sends (§5.3).
func TestDialKeepsBytesAfterResponse_4_1(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	addr, got := startRawServer(t, nil, func(h *rawHandshake) {
		h.write(h.accept101("") + string(frameBytes(true, 0, frame.OpText, false, []byte("early"))))
		<-done // the test reads what the client sends
	})
	c, _ := mustDial(t, testCtx(t), "ws://"+addr, nil)
	typ, p, err := c.Read(testCtx(t))
	if err != nil || typ != MessageText || string(p) != "early" {
		t.Fatalf("Read = %v %q %v, want the text message %q", typ, p, err, "early")
	}
	if err := c.Write(testCtx(t), MessageBinary, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	h := <-got
	peer := &rawPeer{t: t, nc: &bufferedConn{h.nc, h.br}}
	fh, payload := peer.readFrame()
	if !fh.Masked || fh.Opcode != frame.OpBinary || string(payload) != "reply" {
		t.Fatalf("client sent %+v %q, want a masked binary frame %q", fh, payload, "reply")
	}
}

// bufferedConn reads through a bufio.Reader that may hold bytes already read from Conn.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// testTLS returns a server certificate for example.com, 127.0.0.1 and ::1 (httptest's) and a
// pool that trusts it.
func testTLS(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.TLS.Certificates[0], pool
}

// §4.1 client step 5: wss:// runs the handshake over TLS, with SNI for the URL's host and
// ALPN limited to http/1.1 even if the caller's config offers h2; the caller's config is not
// modified; 443 is the default port and stays out of Host.
func TestDialTLS_4_1_Step5(t *testing.T) {
	cert, pool := testTLS(t)
	addr, got := startRawServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, echo)
	cfg := &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}}
	var asked []string
	c, _ := mustDial(t, testCtx(t), "wss://example.com/secure", &DialOptions{TLSConfig: cfg, NetDialContext: dialTo(addr, &asked), Proxy: noProxy})
	echoes(t, c, "over TLS")
	h := <-got
	st := h.nc.(*tls.Conn).ConnectionState()
	if st.ServerName != "example.com" || st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("server saw SNI %q, ALPN %q; want example.com, http/1.1", st.ServerName, st.NegotiatedProtocol)
	}
	if len(asked) != 1 || asked[0] != "example.com:443" || h.req.Host != "example.com" {
		t.Errorf("dialed %q with Host %q; want example.com:443 and example.com", asked, h.req.Host)
	}
	if cfg.ServerName != "" || len(cfg.NextProtos) != 1 {
		t.Errorf("Dial modified the caller's tls.Config: ServerName %q, NextProtos %q", cfg.ServerName, cfg.NextProtos)
	}

	// An untrusted certificate fails the connection.
	_, resp, err := Dial(testCtx(t), "wss://"+addr, &DialOptions{Proxy: noProxy})
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) || resp != nil {
		t.Errorf("Dial with an untrusted certificate = %v, %v; want x509.UnknownAuthorityError", resp, err)
	}
}

// ctx bounds the TLS handshake too.
func TestDialContextEndsStalledTLS(t *testing.T) {
	addr := serveTCP(t, listen(t, "tcp", "127.0.0.1:0"), func(nc net.Conn) { io.Copy(io.Discard, nc) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := Dial(ctx, "wss://"+addr, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded", err)
	}
}

// §3, §4.1 item 4 over IPv6 loopback, when the machine has it.
func TestDialIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	addr, got := serveHandshakes(t, ln, echo)
	c, _ := mustDial(t, testCtx(t), "ws://"+addr+"/v6", nil)
	echoes(t, c, "v6")
	if h := <-got; h.req.Host != addr {
		t.Errorf("Host %q, want %q", h.req.Host, addr)
	}
}

// A server that floods its response header is cut off.
func TestDialResponseHeaderLimit(t *testing.T) {
	addr, _ := startRawServer(t, nil, func(h *rawHandshake) {
		h.write("HTTP/1.1 101 Switching Protocols\r\n")
		line := "X-Filler: " + strings.Repeat("f", 1000) + "\r\n"
		for range maxResponseHead/len(line) + 2 {
			if _, err := io.WriteString(h.nc, line); err != nil {
				return
			}
		}
	})
	if _, _, err := Dial(testCtx(t), "ws://"+addr, nil); !errors.Is(err, httphead.ErrTooLong) {
		t.Fatalf("Dial = %v, want %v", err, httphead.ErrTooLong)
	}
}

// End to end with Accept, over TCP and TLS: the subprotocol is the server's preferred one of
// those offered, messages flow both ways and the closing handshake completes.
func TestDialAccept(t *testing.T) {
	for _, secure := range []bool{false, true} {
		srv, results := acceptServer(t, &AcceptOptions{Subprotocols: []string{"v2", "v1"}}, secure)
		opts := &DialOptions{Subprotocols: []string{"v1", "v2"}, Proxy: noProxy}
		if secure {
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			opts.TLSConfig = &tls.Config{RootCAs: pool}
		}
		u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/e2e?x=1"
		ctx := testCtx(t)
		c, resp := mustDial(t, ctx, u, opts)
		s := acceptedOn(t, results)
		if s.err != nil {
			t.Fatalf("%s: Accept: %v", u, s.err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "v2" || s.conn.Subprotocol() != "v2" {
			t.Errorf("%s: status %d, subprotocols %q and %q; want 101, v2", u, resp.StatusCode, c.Subprotocol(), s.conn.Subprotocol())
		}
		if err := c.Write(ctx, MessageText, []byte("from the client")); err != nil {
			t.Fatal(err)
		}
		if typ, p, err := s.conn.Read(ctx); err != nil || typ != MessageText || string(p) != "from the client" {
			t.Fatalf("server read %v %q %v", typ, p, err)
		}
		if err := s.conn.Write(ctx, MessageBinary, []byte("from the server")); err != nil {
			t.Fatal(err)
		}
		if typ, p, err := c.Read(ctx); err != nil || typ != MessageBinary || string(p) != "from the server" {
			t.Fatalf("client read %v %q %v", typ, p, err)
		}
		serverErr := make(chan error, 1)
		go func() {
			_, _, err := s.conn.Read(ctx)
			serverErr <- err
		}()
		if err := c.Close(StatusNormalClosure, "done"); err != nil {
			t.Errorf("%s: Close: %v", u, err)
		}
		var ce *CloseError
		if err := <-serverErr; !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != "done" {
			t.Errorf("%s: server read %v, want the client's Close 1000 \"done\"", u, err)
		}
	}
}

// §4.1 item 8 with Accept's Origin policy (§10.2): a foreign Origin is refused with 403 and
// Dial returns the refusal; the server's own origin is accepted.
func TestDialAcceptOrigin_4_1_Item8(t *testing.T) {
	srv, results := acceptServer(t, nil, false)
	_, resp, err := Dial(testCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{Origin: "https://evil.example", Proxy: noProxy})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial with a foreign Origin = %v, %v; want the 403 refusal", resp, err)
	}
	if body, _ := io.ReadAll(resp.Body); !bytes.Contains(body, []byte("Origin")) {
		t.Errorf("refusal body %q does not name the Origin rule", body)
	}
	acceptedOn(t, results)

	mustDial(t, testCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{Origin: srv.URL, Proxy: noProxy})
	if r := acceptedOn(t, results); r.err != nil {
		t.Fatalf("same-origin Accept: %v", r.err)
	}
}

// A deadline that expires while the status line is arriving is reported as the deadline, not
// as the malformed status line read so far (issue 8 item 5): any failure after ctx is done
// reports ctx's cause. The server sends its status line one byte at a time, so that the
// deadline falls inside it in most rounds.
func TestDialDeadlineInStatusLine(t *testing.T) {
	addr := serveTCP(t, listen(t, "tcp", "127.0.0.1:0"), func(nc net.Conn) {
		br := bufio.NewReader(nc)
		head, err := readHead(br)
		if err != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			return
		}
		h := &rawHandshake{t: t, head: head, req: req, nc: nc, br: br}
		for _, c := range []byte(h.accept101("")) {
			if _, err := nc.Write([]byte{c}); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
		h.waitClosed()
	})
	// With one P, the goroutine whose read the deadline ended runs before the one the
	// context's timer starts to mark ctx done: the window the bug needs.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Millisecond)
		c, _, err := Dial(ctx, "ws://"+addr+"/slow", &DialOptions{Proxy: noProxy})
		cancel()
		if err == nil {
			c.CloseNow() // the machine was slow enough for the whole response to arrive
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial = %v, want an error that is context.DeadlineExceeded", err)
		}
	}
}

// lateContext has a deadline but is marked done only a while after it, as a context whose
// timer runs late: the deadline, not Done, says when ctx ends.
type lateContext struct {
	context.Context
	deadline time.Time
}

func (c lateContext) Deadline() (time.Time, bool) { return c.deadline, true }

// The same as TestDialDeadlineInStatusLine, deterministic: the deadline always falls inside
// the status line, and ctx is not yet marked done when the read fails.
func TestDialDeadlineInStatusLineLateContext(t *testing.T) {
	addr := serveTCP(t, listen(t, "tcp", "127.0.0.1:0"), func(nc net.Conn) {
		if _, err := readHead(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 1") // and nothing more: the deadline comes first
		io.Copy(io.Discard, nc)
	})
	deadline := time.Now().Add(50 * time.Millisecond)
	inner, cancel := context.WithDeadline(context.Background(), deadline.Add(time.Second))
	defer cancel()
	_, _, err := Dial(lateContext{inner, deadline}, "ws://"+addr+"/slow", &DialOptions{Proxy: noProxy})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ws://"+addr+"/slow") {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded and the URL with its path", err)
	}
}

// A dial error names the URL with its path, which tells which resource a 404 is about, and
// without its query, which may carry a token (issue 13); "wsx: " appears once.
func TestDialErrorNamesURL(t *testing.T) {
	addr, _ := startRawServer(t, nil, func(h *rawHandshake) {
		h.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		h.waitClosed()
	})
	_, _, err := Dial(testCtx(t), "ws://"+addr+"/v2/chat%20room?token=secret", &DialOptions{Proxy: noProxy})
	want := `wsx: dial ws://` + addr + `/v2/chat%20room: server answered "404 Not Found", want 101 Switching Protocols (RFC 6455 §4.1, response rule 1)`
	if err == nil || err.Error() != want {
		t.Fatalf("Dial = %v\nwant   %s", err, want)
	}
}
