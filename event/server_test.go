//go:build !js

package event

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// serve starts srv on a loopback listener and returns its ws:// URL; the server is closed at
// the end of the test, and Serve must have returned ErrServerClosed by then.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	return serveOn(t, srv, listenTCP(t))
}

func serveOn(t *testing.T, srv *Server, ln net.Listener) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/"
}

// echo is an OnMessage that echoes every message.
func echo(c *Conn, typ wsx.MessageType, msg []byte) { c.Write(typ, msg) }

func dial(t *testing.T, url string, opts *wsx.DialOptions) *wsx.Conn {
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

// echoes writes each message to c and checks that it comes back.
func echoes(t *testing.T, c *wsx.Conn, msgs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, m := range msgs {
		typ := wsx.MessageText
		if i%2 == 1 {
			typ = wsx.MessageBinary
		}
		if err := c.Write(ctx, typ, []byte(m)); err != nil {
			t.Fatal(err)
		}
		gotTyp, p, err := c.Read(ctx)
		if err != nil || gotTyp != typ || !bytes.Equal(p, []byte(m)) {
			t.Fatalf("echo of %d bytes: %v, %d bytes, %v", len(m), gotTyp, len(p), err)
		}
	}
}

// messages of the sizes where frame lengths change encoding (§5.2), and larger than a
// worker's read buffer.
var messages = []string{"hello", "", strings.Repeat("€", 42), strings.Repeat("x", 125), strings.Repeat("y", 126),
	strings.Repeat("z", 65535), strings.Repeat("€", 30000), strings.Repeat("\x00\xff", 1<<19)}

func TestEcho(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		url := serveOn(t, &Server{OnMessage: echo}, listen(t))
		c := dial(t, url, nil)
		echoes(t, c, messages...)
		if err := c.Close(wsx.StatusNormalClosure, "bye"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEchoCompressed: permessage-deflate with context takeover both ways, as browsers offer it
// (RFC 7692).
func TestEchoCompressed(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		opts := &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}
		url := serveOn(t, &Server{Options: opts, OnMessage: echo}, listen(t))
		c := dial(t, url, &wsx.DialOptions{Compression: &wsx.CompressionOptions{}})
		if !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
			t.Fatalf("extensions %q", c.Extensions())
		}
		echoes(t, c, append(messages, strings.Repeat("compress me ", 1000), strings.Repeat("compress me ", 1000))...)
	})
}

// testTLS returns a server configuration with httptest's certificate (for 127.0.0.1 and
// example.com) and a client configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{Certificates: ts.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

func TestTLS(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		scfg, ccfg := testTLS(t)
		srv := &Server{TLSConfig: scfg, OnMessage: echo, Options: &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}}
		url := strings.Replace(serveOn(t, srv, listen(t)), "ws://", "wss://", 1)
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			ccfg := ccfg.Clone()
			ccfg.MaxVersion = version
			c := dial(t, url, &wsx.DialOptions{TLSConfig: ccfg, Compression: &wsx.CompressionOptions{}})
			echoes(t, c, messages...)
			if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestTLSHandshakeFailure: a client that does not speak TLS to a TLS server is dropped, and
// the server goes on.
func TestTLSHandshakeFailure(t *testing.T) {
	scfg, ccfg := testTLS(t)
	srv := &Server{TLSConfig: scfg, OnMessage: echo}
	url := serve(t, srv)
	nc, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := nc.Read(make([]byte, 512)); err == nil {
		// A TLS alert may come first; then the end.
		if _, err := nc.Read(make([]byte, 512)); err == nil {
			t.Error("the connection stays open after a failed TLS handshake")
		}
	}
	c := dial(t, strings.Replace(url, "ws://", "wss://", 1), &wsx.DialOptions{TLSConfig: ccfg})
	echoes(t, c, "still serving")
}

// TestConcurrentWriters: messages written by many goroutines at once arrive whole (§5.4).
func TestConcurrentWriters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		const writers, each = 8, 50
		start := make(chan *Conn, 1)
		url := serveOn(t, &Server{OnOpen: func(c *Conn) { start <- c }}, listen(t))
		c := dial(t, url, nil)
		sc := <-start
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					msg := fmt.Sprintf("%d:%d:%s", w, i, strings.Repeat("w", i*97))
					if err := sc.Write(wsx.MessageText, []byte(msg)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		next := make([]int, writers)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for range writers * each {
			_, p, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var w, i int
			fmt.Sscanf(string(p), "%d:%d:", &w, &i)
			if i != next[w] || string(p) != fmt.Sprintf("%d:%d:%s", w, i, strings.Repeat("w", i*97)) {
				t.Fatalf("message %q out of order or damaged (want %d:%d)", p[:min(len(p), 20)], w, next[w])
			}
			next[w]++
		}
		wg.Wait()
	})
}

// TestPipelinedFrames: frames sent right behind the request, in the same segment, are read
// (§4.1: the client may send frames once it sent the handshake... after the response; some
// clients do not wait).
func TestPipelinedFrames(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, nil), listen(t))
		nc, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		frames := []byte{0x81, 0x82, 0, 0, 0, 0, 'h', 'i', 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}
		nc.Write(append([]byte(req), frames...))
		r.waitClosed(t)
		if got := r.String(); got != "|text:hi|close:1000:" {
			t.Errorf("handlers saw %q", got)
		}
	})
}

// TestHandlerPanic: a handler that panics has its connection closed; the server goes on.
func TestHandlerPanic(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		var logged strings.Builder
		var mu sync.Mutex
		srv := &Server{OnMessage: func(c *Conn, typ wsx.MessageType, msg []byte) {
			if string(msg) == "panic" {
				panic("handler bug")
			}
			c.Write(typ, msg)
		}}
		srv.ErrorLog = newLogger(&mu, &logged)
		url := serveOn(t, srv, listen(t))
		c := dial(t, url, nil)
		c.Write(context.Background(), wsx.MessageText, []byte("panic"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := c.Read(ctx); wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
			t.Errorf("after the panic: %v, want the connection closed (1006)", err)
		}
		mu.Lock()
		if !strings.Contains(logged.String(), "handler bug") {
			t.Errorf("logged %q", logged.String())
		}
		mu.Unlock()
		echoes(t, dial(t, url, nil), "next")
	})
}

// TestShutdown: open connections get Close 1001 and OnClose sees the peer's answer; new
// connections are refused; Serve returns ErrServerClosed.
func TestShutdown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		srv := r.server(nil, echo)
		ln := listen(t)
		url := serveOn(t, srv, ln)
		var conns []*wsx.Conn
		for range 3 {
			c := dial(t, url, nil)
			echoes(t, c, "x")
			conns = append(conns, c)
		}
		errs := make(chan error, len(conns))
		for _, c := range conns {
			go func() {
				_, _, err := c.Read(context.Background())
				errs <- err
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		for range conns {
			if err := <-errs; wsx.CloseStatus(err) != wsx.StatusGoingAway {
				t.Errorf("client read %v, want 1001", err)
			}
		}
		for range conns {
			if err := r.waitClosed(t); !errors.As(err, new(*wsx.CloseError)) || !err.(*wsx.CloseError).Local {
				t.Errorf("OnClose(%v), want the peer's answer to our Close", err)
			}
		}
		if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			t.Error("the listener still accepts")
		}
	})
}

// TestManyConnections: 1,500 connections at once (descriptors past the first chunks of the
// descriptor table, spread over the workers) each echo a message, then end; the server
// releases every one of them.
func TestManyConnections(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		const n = 1500
		var closed sync.WaitGroup
		closed.Add(n)
		srv := &Server{Workers: 2, OnMessage: echo, OnClose: func(*Conn, error) { closed.Done() }}
		url := serveOn(t, srv, listen(t))
		conns := make([]*rawConn, n)
		for i := range conns {
			conns[i] = rawClient(t, url)
		}
		for i, c := range conns {
			if err := c.send(true, frame.OpBinary, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range conns {
			if h, p, err := c.next(); err != nil || h.Opcode != frame.OpBinary || string(p) != fmt.Sprint(i) {
				t.Fatalf("connection %d: %v %q %v", i, h.Opcode, p, err)
			}
			c.Close()
		}
		closed.Wait()
		// Each is released right after OnClose, by the same worker.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			srv.mu.Lock()
			live := srv.live
			srv.mu.Unlock()
			if live == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections not released", live)
			}
		}
	})
}
