package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
func startServe(t *testing.T, args ...string) *testServer {
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
			append([]string{"serve", "--log-format", "json", "127.0.0.1:0"}, args...))
		pw.Close()
		<-scanned
		s.done <- result{code, stdout.String(), s.logs.String()}
	}()
	select {
	case entry := <-listening:
		s.addr = entry["addr"].(string)
		s.url = entry["url"].(string)
	case r := <-s.done:
		t.Fatalf("wsx serve exited with %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the server down as SIGINT would and returns how the command ended.
func (s *testServer) stop(t *testing.T) result {
	t.Helper()
	s.cancel()
	r, ok := <-s.done
	if ok {
		close(s.done)
		if r.code != exitOK {
			t.Errorf("wsx serve exited with %d: %s", r.code, r.stderr)
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
	if rec.RequestLine != "GET /echo?wsx-playground=abc123 HTTP/1.1" || rec.Headers[0] != [2]string{"Host", s.addr} ||
		!has("X-Test", "one") || !has("Upgrade", "websocket") || !has("Sec-Websocket-Version", "13") || !has("Sec-Websocket-Protocol", "superchat, other") {
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
