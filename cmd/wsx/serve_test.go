package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// testServer is a "wsx serve" running in-process.
type testServer struct {
	addr   string // host:port it listens on
	url    string // ws:// or wss:// URL of its root
	cancel context.CancelFunc
	done   chan result
	logs   *syncBuffer
}

// startServe runs "wsx serve --log-format json 127.0.0.1:0 args..." until the test ends.
func startServe(t testing.TB, args ...string) *testServer {
	t.Helper()
	return startServer(t, append([]string{"serve", "127.0.0.1:0"}, args...)...)
}

// startServer runs "wsx args... --log-format json" in-process until the test ends, and
// returns once it logs that it is listening.
func startServer(t testing.TB, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &testServer{cancel: cancel, done: make(chan result, 1), logs: new(syncBuffer)}
	listening := make(chan map[string]any, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		// Keep the log, and pick out the "listening" line for the address.
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.logs.Write(append(sc.Bytes(), '\n'))
			var entry map[string]any
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry["msg"] == "listening" {
				listening <- entry
			}
		}
	}()
	go func() {
		var stdout syncBuffer
		code := run(ctx, &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: pw},
			append(args, "--log-format", "json"))
		pw.Close()
		<-scanned
		s.done <- result{code, stdout.String(), s.logs.String()}
	}()
	select {
	case entry := <-listening:
		s.addr = entry["addr"].(string)
		s.url = entry["url"].(string)
	case r := <-s.done:
		t.Fatalf("wsx %q exited with %d: %s", args, r.code, r.stderr)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the server down as SIGINT would and returns how the command ended.
func (s *testServer) stop(t testing.TB) result {
	t.Helper()
	s.cancel()
	r, ok := <-s.done
	if ok {
		close(s.done)
		if r.code != exitOK {
			t.Errorf("the server exited with %d: %s", r.code, r.stderr)
		}
	}
	return r
}

func dialTest(t *testing.T, url string, opts *wsx.DialOptions) *wsx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func roundTrip(t *testing.T, c *wsx.Conn, typ wsx.MessageType, msg []byte) {
	t.Helper()
	ctx := context.Background()
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatal(err)
	}
	gotType, got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gotType != typ || !bytes.Equal(got, msg) {
		t.Fatalf("sent %v message of %d bytes, got %v message of %d bytes", typ, len(msg), gotType, len(got))
	}
}

// The echo keeps each message's type (§5.6) and bytes, for every payload length encoding
// (§5.2: 7-bit, 16-bit and 64-bit lengths).
func TestServeEcho(t *testing.T) {
	s := startServe(t)
	c := dialTest(t, s.url+"echo", nil)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 3 << 20} {
		text := bytes.Repeat([]byte("é"), n/2)
		roundTrip(t, c, wsx.MessageText, text)
		bin := make([]byte, n)
		for i := range bin {
			bin[i] = byte(i * 7)
		}
		roundTrip(t, c, wsx.MessageBinary, bin)
	}
	if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	r := s.stop(t)
	if !strings.Contains(r.stderr, `"msg":"closed"`) || !strings.Contains(r.stderr, `"msgs_in":14`) || !strings.Contains(r.stderr, `"status":1000`) {
		t.Errorf("log lacks the closed connection's summary:\n%s", r.stderr)
	}
}

// The echo reads while the client pings: pings are answered with pongs (§5.5.2, §5.5.3).
func TestServeAnswersPings(t *testing.T) {
	s := startServe(t)
	c := dialTest(t, s.url, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		readErr <- err
	}()
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(wsx.StatusNormalClosure, "")
	if err := <-readErr; wsx.CloseStatus(err) != wsx.StatusNormalClosure {
		t.Fatalf("read ended with %v, want the server's answer to our close (1000)", err)
	}
}

// --read-limit: a bigger message fails the connection with 1009 (§7.4.1).
func TestServeReadLimit(t *testing.T) {
	s := startServe(t, "--read-limit", "1KiB")
	c := dialTest(t, s.url, nil)
	roundTrip(t, c, wsx.MessageBinary, make([]byte, 1024))
	ctx := context.Background()
	if err := c.Write(ctx, wsx.MessageBinary, make([]byte, 1025)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
		t.Fatalf("got %v, want close status 1009", err)
	}
	if r := s.stop(t); !strings.Contains(r.stderr, `"level":"WARN","msg":"failed"`) || !strings.Contains(r.stderr, "1009") {
		t.Errorf("log lacks the failure:\n%s", r.stderr)
	}
}

// --broadcast sends each message to every client on the same path, sender included, and to
// nobody on other paths.
func TestServeBroadcast(t *testing.T) {
	s := startServe(t, "--broadcast")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A client is in its group once its first message comes back to it.
	a := dialTest(t, s.url+"room", nil)
	roundTrip(t, a, wsx.MessageText, []byte("a is in"))
	b := dialTest(t, s.url+"room", nil)
	roundTrip(t, b, wsx.MessageText, []byte("b is in"))
	if _, msg, err := a.Read(ctx); err != nil || string(msg) != "b is in" {
		t.Fatalf("a got %q, %v", msg, err)
	}
	other := dialTest(t, s.url+"elsewhere", nil)
	roundTrip(t, other, wsx.MessageText, []byte("ping"))

	if err := a.Write(ctx, wsx.MessageText, []byte("hello room")); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, wsx.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wsx.Conn{a, b} {
		// Messages from one reader keep their order; a's and b's may interleave.
		got := map[string]wsx.MessageType{}
		for range 2 {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got[string(msg)] = typ
		}
		if got["hello room"] != wsx.MessageText || got["\x01\x02\x03"] != wsx.MessageBinary {
			t.Fatalf("got %q", got)
		}
	}
	roundTrip(t, other, wsx.MessageText, []byte("still alone"))
}

// Plain GET requests get the playground, or --dir's files, and a 426 elsewhere.
func TestServePages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := startServe(t)
	withDir := startServe(t, "--dir", dir)
	for _, tc := range []struct {
		s      *testServer
		path   string
		status int
		body   string
	}{
		{plain, "/", 200, `id="accept"`},
		{plain, "/_wsx/playground", 200, `id="accept"`},
		{plain, "/echo", 426, "this is a WebSocket endpoint"},
		{plain, "/_wsx/accept?key=dGhlIHNhbXBsZSBub25jZQ%3D%3D", 200, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		{withDir, "/hello.txt", 200, "hello from dir"},
		{withDir, "/_wsx/playground", 200, `id="accept"`},
		{withDir, "/missing", 404, ""},
	} {
		resp, err := http.Get("http://" + tc.s.addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	// WebSockets work beside the files.
	roundTrip(t, dialTest(t, withDir.url+"hello.txt", nil), wsx.MessageText, []byte("hi"))
	// A request that cannot be a handshake (not a GET) goes to net/http as soon as its first
	// bytes say so.
	resp, err := http.Post("http://"+plain.addr+"/echo", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("POST /echo: %s, want 426", resp.Status)
	}
}

// The playground's connection asks the server to keep its handshake request and fetches it.
func TestServeHandshakeRecord(t *testing.T) {
	s := startServe(t, "-s", "chat,superchat")
	c := dialTest(t, s.url+"echo?wsx-playground=abc123", &wsx.DialOptions{
		Header:       http.Header{"X-Test": {"one"}},
		Subprotocols: []string{"superchat", "other"},
	})
	if c.Subprotocol() != "superchat" {
		t.Fatalf("subprotocol %q, want superchat", c.Subprotocol())
	}
	resp, err := http.Get("http://" + s.addr + "/_wsx/handshake?id=abc123")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rec handshakeRecord
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	has := func(name, value string) bool {
		for _, h := range rec.Headers {
			if h[0] == name && h[1] == value {
				return true
			}
		}
		return false
	}
	// The fields as the client sent them: in its order, with its spelling.
	if rec.RequestLine != "GET /echo?wsx-playground=abc123 HTTP/1.1" || rec.Headers[0] != [2]string{"Host", s.addr} || !rec.Ordered ||
		!has("X-Test", "one") || !has("Upgrade", "websocket") || !has("Sec-WebSocket-Version", "13") || !has("Sec-WebSocket-Protocol", "superchat, other") {
		t.Fatalf("record %+v", rec)
	}
	resp, err = http.Get("http://" + s.addr + "/_wsx/handshake?id=other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown id: %v, want 404", resp.Status)
	}
}

// Same-origin by default, --origin patterns, --insecure-origin (§10.2).
func TestServeOrigin(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args   []string
		origin string // "self": the server's own origin, as the playground's page sends
		ok     bool
	}{
		{nil, "", true}, // not a browser
		{nil, "self", true},
		{nil, "http://evil.example", false},
		{[]string{"--origin", "*.example"}, "http://evil.example", true},
		{[]string{"--insecure-origin"}, "http://evil.example", true},
	} {
		s := startServe(t, tc.args...)
		if tc.origin == "self" {
			tc.origin = "http://" + s.addr
		}
		c, resp, err := wsx.Dial(ctx, s.url, &wsx.DialOptions{Origin: tc.origin})
		if tc.ok != (err == nil) {
			t.Errorf("serve %q, origin %q: %v", tc.args, tc.origin, err)
		}
		if err == nil {
			c.CloseNow()
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("serve %q, origin %q: response %v, want 403", tc.args, tc.origin, resp)
		}
	}
}

// --tls-cert/--tls-key serve wss:// with the given certificate; --tls-self-signed makes one.
func TestServeTLS(t *testing.T) {
	cert, err := selfSignedCertificate("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.url, "wss://") {
		t.Fatalf("url %q", s.url)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	// Verified against the certificate as root: it names 127.0.0.1.
	c := dialTest(t, s.url, &wsx.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
	roundTrip(t, c, wsx.MessageText, []byte("over TLS"))

	s = startServe(t, "--tls-self-signed")
	if _, _, err := wsx.Dial(context.Background(), s.url, nil); err == nil || !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("a self-signed certificate verified: %v", err)
	}
	c = dialTest(t, s.url, &wsx.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	roundTrip(t, c, wsx.MessageBinary, []byte("over TLS"))
}

// SIGINT or SIGTERM (here: the command's context) closes every client with 1001 (§7.4.1) and
// waits for the closing handshakes.
func TestServeShutdownGoingAway(t *testing.T) {
	for _, mode := range [][]string{nil, {"--broadcast"}} {
		s := startServe(t, mode...)
		var conns []*wsx.Conn
		for i := range 3 {
			// A path each, so that --broadcast sends nobody another's message.
			c := dialTest(t, s.url+strconv.Itoa(i), nil)
			roundTrip(t, c, wsx.MessageText, []byte("x")) // the server is now tracking c
			conns = append(conns, c)
		}
		errs := make(chan error, len(conns))
		for _, c := range conns {
			go func() {
				_, _, err := c.Read(context.Background())
				errs <- err
			}()
		}
		r := s.stop(t)
		for range conns {
			err := <-errs
			var ce *wsx.CloseError
			if !errors.As(err, &ce) || ce.Code != wsx.StatusGoingAway {
				t.Errorf("%q: read ended with %v, want close status 1001", mode, err)
			}
		}
		if !strings.Contains(r.stderr, `"msg":"shutting down","connections":3`) || !strings.Contains(r.stderr, `"msg":"stopped"`) {
			t.Errorf("log:\n%s", r.stderr)
		}
		if _, err := net.Dial("tcp", s.addr); err == nil {
			t.Errorf("still listening after shutdown")
		}
	}
}

// A broken handshake gets the library's explanation and is logged.
func TestServeRefusedHandshake(t *testing.T) {
	s := startServe(t)
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/echo", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "8")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("got %v %v, want 426 with Sec-WebSocket-Version: 13 (§4.4)", resp.Status, resp.Header)
	}
	if r := s.stop(t); !strings.Contains(r.stderr, `"msg":"handshake refused"`) {
		t.Errorf("log:\n%s", r.stderr)
	}
}

// permessage-deflate (RFC 7692) is accepted by default, with or without a level, and
// --compression=false declines it.
func TestServeCompression(t *testing.T) {
	offer := "permessage-deflate; client_max_window_bits"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "ok    extension permessage-deflate, offered"},
		{[]string{"--compression-level", "9"}, "ok    extension permessage-deflate, offered"},
		{[]string{"--compression=false"}, "ok    no extension: the server declined permessage-deflate"},
	} {
		s := startServe(t, tc.args...)
		r := runWSX(t, context.Background(), nil, "doctor", "--extension", offer, s.url)
		if r.code != exitOK || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("serve %q: exit %d, want %q:\n%s", tc.args, r.code, tc.want, r.stdout)
		}
		c := dialTest(t, s.url, &wsx.DialOptions{Compression: &wsx.CompressionOptions{}})
		roundTrip(t, c, wsx.MessageText, bytes.Repeat([]byte("compressible "), 1000))
		if on := c.Extensions() != ""; on == slices.Contains(tc.args, "--compression=false") {
			t.Errorf("serve %q: extensions %q", tc.args, c.Extensions())
		}
	}
	if r := runWSX(t, context.Background(), nil, "serve", "--compression=false", "--compression-level", "3", "127.0.0.1:0"); r.code != exitUsage {
		t.Errorf("a level without compression: exit %d, want 2", r.code)
	}
}

// rawHandshake opens a TCP connection to addr and performs the opening handshake by hand
// (§4.1), offering no extension, so that the test can write frames as it likes.
func rawHandshake(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key := wsx.NewKey()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsx.AcceptKey(key) {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	return c, br
}

// readMessage reads the frames of one data message (§5.4) and returns its opcode and payload.
func readMessage(t *testing.T, br *bufio.Reader, limit int) (byte, []byte) {
	t.Helper()
	var op byte
	var msg []byte
	for {
		h, payload, err := readFrame(br, limit)
		if err != nil {
			t.Fatal(err)
		}
		if h.Masked || h.Opcode >= frame.OpClose || (op == 0) != (h.Opcode != 0) {
			t.Fatalf("frame %s, masked %v, after %d bytes of a message", h.Opcode, h.Masked, len(msg))
		}
		op = max(op, byte(h.Opcode))
		msg = append(msg, payload...)
		if h.Fin {
			return op, msg
		}
	}
}

// The defaults take the largest messages of Autobahn's 9.x cases: 16 MiB in one frame (9.1.6,
// 9.2.6) and 4 MiB in 65,536 fragments of 64 bytes (9.4.x, 9.6.x), which the library's
// MaxFragments (131,072) allows (§5.4, §10.4).
func TestServeAutobahnSizes(t *testing.T) {
	s := startServe(t)
	c, br := rawHandshake(t, s.addr)
	big := bytes.Repeat([]byte("0123456789abcdé"), 16<<20/16) // 16 MiB of UTF-8 text
	if _, err := c.Write(appendFrame(nil, true, 0x1, big, true)); err != nil {
		t.Fatal(err)
	}
	if op, got := readMessage(t, br, len(big)); op != 0x1 || !bytes.Equal(got, big) {
		t.Fatalf("16 MiB text: opcode %d, %d bytes back", op, len(got))
	}

	msg := make([]byte, 4<<20)
	for i := range msg {
		msg[i] = byte(i * 13)
	}
	var frames []byte
	for i := 0; i < len(msg); i += 64 {
		op := frame.OpContinuation
		if i == 0 {
			op = 0x2
		}
		frames = appendFrame(frames, i+64 == len(msg), op, msg[i:i+64], true)
	}
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	if op, got := readMessage(t, br, len(msg)); op != 0x2 || !bytes.Equal(got, msg) {
		t.Fatalf("4 MiB in 64-byte fragments: opcode %d, %d bytes back", op, len(got))
	}
	c.Write(closeFrame(wsx.StatusNormalClosure, "", true))
	if h, _, err := readFrame(br, 125); err != nil || h.Opcode != frame.OpClose {
		t.Fatalf("after close: %+v, %v", h, err)
	}
}

// The playground's element ids are what the Chromium test in interop/ drives: keep them.
func TestPlaygroundIDs(t *testing.T) {
	page, err := playgroundFS.ReadFile("playground/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"key", "new-key", "key-note", "accept", "url", "protocols", "connect", "disconnect",
		"close-code", "close-reason", "state", "subprotocol", "message", "binary", "send", "clear", "log",
		"handshake-note", "handshake"} {
		if n := strings.Count(string(page), `id="`+id+`"`); n != 1 {
			t.Errorf("id %q appears %d times", id, n)
		}
	}
	for _, s := range []string{`dataset.ready = "true"`, "wsx-playground", handshakePath, acceptPath} {
		if !strings.Contains(string(page), s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// getHandshakeRecord fetches the playground's record of handshake id, or returns nil for a
// 404.
func getHandshakeRecord(t *testing.T, s *testServer, id string) *handshakeRecord {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/_wsx/handshake?id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var rec handshakeRecord
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	return &rec
}

// handshakeRequest is the head of a handshake for path with extra header lines.
func handshakeRequest(addr, path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsx.NewKey() + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// exchange writes req on c and reads one response.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp
}

// The playground's handshake log keeps only accepted handshakes, each a bounded copy, and
// the server caps the size of a request head (issue 8 item 11).
func TestServeHandshakeLogBounds(t *testing.T) {
	s := startServe(t)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	// Refused on the connection's first request (the router's path), and on a keep-alive
	// connection's second (net/http's path): no record stays.
	c, br := dial()
	bad := strings.Replace(handshakeRequest(s.addr, "/?wsx-playground=refused1", ""), "Version: 13", "Version: 8", 1)
	if resp := exchange(t, c, br, bad); resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("version 8: %s", resp.Status)
	}
	c, br = dial()
	if resp := exchange(t, c, br, "GET /favicon.ico HTTP/1.1\r\nHost: "+s.addr+"\r\n\r\n"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("favicon: %s", resp.Status)
	}
	bad = strings.Replace(handshakeRequest(s.addr, "/?wsx-playground=refused2", ""), "Version: 13", "Version: 8", 1)
	if resp := exchange(t, c, br, bad); resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("version 8 after a request: %s", resp.Status)
	}
	// A head larger than 16 KiB is refused before anything is kept.
	c, br = dial()
	huge := handshakeRequest(s.addr, "/?wsx-playground=huge", "X-Pad: "+strings.Repeat("x", 64<<10)+"\r\n")
	if resp := exchange(t, c, br, huge); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 64 KiB head: %s", resp.Status)
	}
	for _, id := range []string{"refused1", "refused2", "huge"} {
		if rec := getHandshakeRecord(t, s, id); rec != nil {
			t.Errorf("handshake %s was refused, and its record kept: %d fields", id, len(rec.Headers))
		}
	}

	// An accepted handshake keeps a copy of its request with each value cut to 2 KiB.
	c, br = dial()
	long := strings.Repeat("v", 10<<10)
	if resp := exchange(t, c, br, handshakeRequest(s.addr, "/?wsx-playground=long", "X-Long: "+long+"\r\n")); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("a 10 KiB field: %s", resp.Status)
	}
	rec := getHandshakeRecord(t, s, "long")
	if rec == nil || !rec.Truncated {
		t.Fatalf("record %+v", rec)
	}
	for _, h := range rec.Headers {
		if h[0] == "X-Long" && h[1] != long[:maxRecordValue]+"…" {
			t.Errorf("X-Long kept as %d bytes", len(h[1]))
		}
	}
}

// The log holds at most maxHandshakes records, each of at most maxRecordBytes.
func TestHandshakeLogLimits(t *testing.T) {
	var l handshakeLog
	for i := range 2 * maxHandshakes {
		rec := newHandshakeRecord("127.0.0.1:1", "GET / HTTP/1.1")
		for j := range 2 * maxRecordFields {
			rec.addField("X-Field-"+strconv.Itoa(j), strings.Repeat("v", 1000))
		}
		if rec.size > maxRecordBytes || len(rec.Headers) > maxRecordFields || !rec.Truncated {
			t.Fatalf("a record of %d bytes in %d fields", rec.size, len(rec.Headers))
		}
		l.add(strconv.Itoa(i), rec)
	}
	if len(l.byID) != maxHandshakes || len(l.order) != maxHandshakes {
		t.Fatalf("%d records, %d in order", len(l.byID), len(l.order))
	}
	if rec, _ := l.get("0"); rec != nil {
		t.Fatalf("the oldest record is still there")
	}
}

// waitForLog waits until the server's log holds want, for up to 20 seconds.
func waitForLog(t *testing.T, s *testServer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never showed %q:\n%s", want, s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitClosed reads c until the server closes it, for up to 20 seconds.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: the server did not close the connection", what)
	}
}

// A client that never reads is disconnected after the write timeout, instead of holding
// its connection and the server's goroutine forever (issue 8 item 13).
func TestServeWriteTimeout(t *testing.T) {
	s := startServe(t, "--write-timeout", "200ms")
	c, _ := rawHandshake(t, s.addr)
	frame := appendFrame(nil, true, 0x2, make([]byte, 1<<20), true)
	rest := frame
	for !strings.Contains(s.logs.String(), `"msg":"failed"`) {
		// Send until the server's echo fills the socket buffers both ways; a write that
		// cannot go out whole goes on where it stopped, so that the frames stay whole.
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		n, _ := c.Write(rest)
		if rest = rest[n:]; len(rest) == 0 {
			rest = frame
		}
	}
	waitForLog(t, s, "the client took no message for 200ms (--write-timeout)")
	waitClosed(t, c, "a client that does not read")
}

// Timeouts for plain HTTP: a keep-alive connection with no next request, a connection that
// sends nothing, and one that never finishes its request head (issue 8 item 13).
func TestServeHTTPTimeouts(t *testing.T) {
	s := startServe(t, "--idle-timeout", "100ms", "--read-header-timeout", "100ms")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp := exchange(t, c, bufio.NewReader(c), "GET /favicon.ico HTTP/1.1\r\nHost: "+s.addr+"\r\n\r\n"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("favicon: %s", resp.Status)
	}
	waitClosed(t, c, "an idle keep-alive connection")

	for _, sent := range []string{"", "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, sent)
		waitClosed(t, c, fmt.Sprintf("a connection that sent %q", sent))
	}
	// The defaults are in the help.
	r := runWSX(t, context.Background(), nil, "serve", "--help")
	for _, want := range []string{"--read-header-timeout duration", "(default 10s)", "(default 30s)", "(default 1m0s)", "(default 32MiB)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// tooBigFrameHeader is the header of a binary frame one byte over wsx's default read limit
// (§5.2, 64-bit length), masked as a client's.
func tooBigFrameHeader(masked bool) []byte {
	h := []byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(h[2:], wsx.DefaultReadLimit+1)
	if masked {
		h[1] |= 0x80
		h = append(h, 1, 2, 3, 4)
	}
	return h
}

// The command's read limit is the library's default unless a flag says otherwise (issue 8
// item 14): a message over it fails the connection with 1009 (§7.4.1) as soon as its
// header says so.
func TestServeDefaultReadLimit(t *testing.T) {
	s := startServe(t)
	c, br := rawHandshake(t, s.addr)
	c.Write(tooBigFrameHeader(true))
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	h, payload, err := readFrame(br, 125)
	if err != nil || h.Opcode != frame.OpClose {
		t.Fatalf("got %+v, %v; want a Close frame", h, err)
	}
	if code, _, err := frame.ParseClose(payload); err != nil || code != uint16(wsx.StatusMessageTooBig) {
		t.Fatalf("close code %v, %v; want 1009", code, err)
	}
}

// Logs of -v: a line per message with its direction, type by name, length and an escaped,
// cut preview; durations in readable units, in JSON too.
func TestServeVerboseLog(t *testing.T) {
	s := startServe(t, "-v")
	c := dialTest(t, s.url, nil)
	long := strings.Repeat("é", 100)
	roundTrip(t, c, wsx.MessageText, []byte("hi\x1b[2J\u202e"))
	roundTrip(t, c, wsx.MessageText, []byte(long))
	roundTrip(t, c, wsx.MessageBinary, []byte{0, 1, 0xff})
	c.Close(wsx.StatusNormalClosure, "")
	r := s.stop(t)
	var messages []map[string]any
	var closed map[string]any
	for line := range strings.Lines(r.stderr) {
		var entry map[string]any
		json.Unmarshal([]byte(line), &entry)
		switch entry["msg"] {
		case "message":
			messages = append(messages, entry)
		case "closed":
			closed = entry
		}
	}
	want := []struct {
		typ  string
		len  float64
		data string
	}{{"text", 9, `hi\x1b[2J\u202e`}, {"text", 200, strings.Repeat("é", 32) + "…"}, {"binary", 3, "00 01 ff"}}
	if len(messages) != len(want) {
		t.Fatalf("message entries %v", messages)
	}
	for i, w := range want {
		m := messages[i]
		if m["type"] != w.typ || m["len"] != w.len || m["data"] != w.data || m["dir"] != "in" || m["level"] != "DEBUG" {
			t.Errorf("entry %v, want %+v", m, w)
		}
	}
	if d, _ := closed["duration"].(string); d == "" || !strings.ContainsAny(d, "sµm") {
		t.Errorf("closed: duration %v, want a readable duration", closed["duration"])
	}
}

// A WebSocket handshake that follows another request on a keep-alive connection goes
// through net/http, and is served like any other.
func TestServeHandshakeAfterRequest(t *testing.T) {
	s := startServe(t)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if resp := exchange(t, c, br, "GET /favicon.ico HTTP/1.1\r\nHost: "+s.addr+"\r\n\r\n"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("favicon: %s", resp.Status)
	}
	if resp := exchange(t, c, br, handshakeRequest(s.addr, "/after?wsx-playground=after", "")); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	c.Write(appendFrame(nil, true, 0x1, []byte("second request"), true))
	if op, msg := readMessage(t, br, 100); op != 0x1 || string(msg) != "second request" {
		t.Fatalf("echo: %d %q", op, msg)
	}
	if rec := getHandshakeRecord(t, s, "after"); rec == nil || rec.Ordered || rec.Headers[0][0] != "Host" {
		t.Fatalf("record %+v", rec)
	}
	waitForLog(t, s, `"path":"/after"`)
}

// The echo of wsx serve allocates nothing per message and takes no lock of the command's:
// counted over the whole process, the client's side included, which allocates nothing
// either (issue 15).
func TestServeEchoZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; scripts/test.sh runs this without -race")
	}
	for _, args := range [][]string{nil, {"--compression=false"}} {
		s := startServe(t, args...)
		c := dialTest(t, s.url, &wsx.DialOptions{Compression: &wsx.CompressionOptions{}})
		ctx := context.Background()
		for _, size := range []int{16, 64 << 10} {
			msg := bytes.Repeat([]byte("x"), size)
			buf := make([]byte, 0, size)
			echo := func() {
				if err := c.Write(ctx, wsx.MessageBinary, msg); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.ReadMessage(ctx, buf[:0]); err != nil || len(got) != size {
					t.Fatal(len(got), err)
				}
			}
			for range 10 {
				echo() // grow the buffers once
			}
			if a := testing.AllocsPerRun(200, echo); a != 0 {
				t.Errorf("serve %q, %d B: %v allocations per echoed message", args, size, a)
			}
		}
	}
}

// stackPerConn opens n connections to url, echoes a message on each and returns the growth
// of goroutine stacks per connection once they are idle.
func stackPerConn(t *testing.T, url string, n int) int {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		roundTrip(t, dialTest(t, url, nil), wsx.MessageBinary, []byte("0123456789abcdef"))
	}
	time.Sleep(200 * time.Millisecond) // the handshakes' goroutines end
	runtime.GC()
	runtime.GC() // stacks shrink during a collection
	runtime.ReadMemStats(&after)
	return int(int64(after.StackInuse)-int64(before.StackInuse)) / n
}

// An idle connection of wsx serve costs no more stack than one of a bare AcceptConn echo,
// whose read loop keeps the 2 KiB stack a goroutine starts with: the command's echo goroutine
// and the write timeout add no frame deep enough to grow it to 4 KiB (issue 15).
func TestServeIdleStackAsLibrary(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation enlarges every frame; scripts/test.sh runs this without -race")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // the library's example of AcceptConn (ExampleAcceptConn)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := wsx.AcceptConn(context.Background(), nc, nil)
				if err != nil {
					return
				}
				go func() { // the read loop in a goroutine of its own, with a small stack
					defer c.CloseNow()
					var buf []byte
					for {
						typ, p, err := c.ReadMessage(context.Background(), buf[:0])
						if err != nil || c.Write(context.Background(), typ, p) != nil {
							return
						}
						buf = p
					}
				}()
			}()
		}
	}()
	addr := ln.Addr().String()
	const n = 1000
	library := stackPerConn(t, "ws://"+addr+"/", n)
	serve := stackPerConn(t, startServe(t).url, n)
	t.Logf("goroutine stacks per idle connection: wsx serve %d B, AcceptConn echo %d B", serve, library)
	if serve > library+1000 { // the noise of this measure is a few hundred bytes; a grown stack costs 2 KiB
		t.Errorf("wsx serve: %d B of stack per idle connection, the library's own echo %d B", serve, library)
	}
}

// The router peeks at a request head that comes in pieces, and leaves what follows it on
// the socket: a frame sent with the end of the head is echoed (§4.1 lets a client send frames
// right after its handshake request).
func TestServeHeadInPieces(t *testing.T) {
	s := startServe(t)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	head := handshakeRequest(s.addr, "/pieces", "")
	frame := appendFrame(nil, true, 0x1, []byte("right after the head"), true)
	for _, piece := range []string{head[:3], head[3:20], head[20 : len(head)-1], head[len(head)-1:] + string(frame)} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // separate segments, most likely
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v, %v", resp, err)
	}
	if op, msg := readMessage(t, br, 100); op != 0x1 || string(msg) != "right after the head" {
		t.Fatalf("echo: %d %q", op, msg)
	}
}

// On a loopback address, wsx serve answers only for loopback names and those given with
// --host: a page on another name that rebinds to 127.0.0.1 is refused with 421, whatever its
// Origin (DNS rebinding, issue 8 item 10).
func TestServeRefusesRebindingHosts(t *testing.T) {
	s := startServe(t, "--host", "dev.test")
	_, port, _ := net.SplitHostPort(s.addr)
	toServer := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, s.addr)
	}
	for _, tc := range []struct {
		host string
		want int // 0: accepted
	}{
		{"evil.example", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io", http.StatusMisdirectedRequest},
		{"localhost", 0},
		{"127.0.0.1", 0},
		{"dev.test", 0},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		u := "ws://" + net.JoinHostPort(tc.host, port) + "/"
		c, resp, err := wsx.Dial(ctx, u, &wsx.DialOptions{
			NetDialContext: toServer,
			Origin:         "http://" + net.JoinHostPort(tc.host, port),
		})
		cancel()
		switch {
		case tc.want == 0 && err != nil:
			t.Errorf("Host %s: %v", tc.host, err)
		case tc.want != 0 && (err == nil || resp == nil || resp.StatusCode != tc.want):
			t.Errorf("Host %s: %v (response %v), want a %d refusal", tc.host, err, resp != nil, tc.want)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}
