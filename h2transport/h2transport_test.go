package h2transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/internal/leakcheck"
	_ "github.com/wsx-go/wsx/xconnect" // the net/http servers of these tests advertise RFC 8441
	"golang.org/x/net/http2"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// server is a wsx server on net/http over TLS with HTTP/2 and HTTP/1.1.
type server struct {
	*httptest.Server
	conns atomic.Int32 // TCP connections accepted
}

// newServer starts a TLS server whose handler is h; http2 says whether it offers h2, and
// configure, if not nil, changes its http.Server before it starts.
func newServer(t *testing.T, h http.HandlerFunc, http2 bool, configure ...func(*http.Server)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = http2
	for _, f := range configure {
		f(s.Config)
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// wsURL is the server's wss:// URL for path.
func (s *server) wsURL(path string) string {
	return "wss://" + strings.TrimPrefix(s.URL, "https://") + path
}

// transport returns a Transport that trusts the server's certificate.
func (s *server) transport(t *testing.T) *h2transport.Transport {
	tr := &h2transport.Transport{TLSConfig: s.tlsConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func (s *server) tlsConfig() *tls.Config {
	return s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
}

// echo accepts a WebSocket and echoes messages until the peer closes; it reports the
// protocol the request came over on protos.
func echo(t *testing.T, opts *wsx.AcceptOptions, protos chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if protos != nil {
			protos <- r.Method + " " + r.Proto
		}
		c, err := wsx.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		buf := make([]byte, 0, 1024)
		for {
			typ, msg, err := c.ReadMessage(r.Context(), buf[:0])
			if err != nil {
				return
			}
			buf = msg[:0]
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A WebSocket over HTTP/2: the handler sees an extended CONNECT on HTTP/2, messages echo,
// and the closing handshake completes with the client's code.
func TestEchoOverHTTP2(t *testing.T) {
	protos := make(chan string, 1)
	s := newServer(t, echo(t, &wsx.AcceptOptions{Subprotocols: []string{"chat"}}, protos), true)
	c, resp, err := wsx.Dial(ctx(t), s.wsURL("/echo"), &wsx.DialOptions{Transport: s.transport(t), Subprotocols: []string{"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-protos; got != "CONNECT HTTP/2.0" {
		t.Errorf("the handler saw %q, want an extended CONNECT over HTTP/2", got)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || c.Subprotocol() != "chat" {
		t.Errorf("response %d %s, subprotocol %q", resp.StatusCode, resp.Proto, c.Subprotocol())
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 100_000)} {
		if err := c.Write(ctx(t), wsx.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx(t))
		if err != nil || typ != wsx.MessageText || string(got) != msg {
			t.Fatalf("echo: %v %d bytes %v", typ, len(got), err)
		}
	}
	if err := c.Close(wsx.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A server without HTTP/2 in ALPN gets the WebSocket over HTTP/1.1, unless the caller insists.
func TestFallbackWithoutH2(t *testing.T) {
	protos := make(chan string, 1)
	s := newServer(t, echo(t, nil, protos), false)
	c, _, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: s.transport(t), TLSConfig: s.tlsConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := <-protos; got != "GET HTTP/1.1" {
		t.Errorf("the handler saw %q, want the HTTP/1.1 handshake", got)
	}
	tr := s.transport(t)
	tr.NoFallback = true
	_, _, err = wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: tr})
	if err == nil || errors.Is(err, wsx.ErrFallbackHTTP1) || !strings.Contains(err.Error(), "ALPN") {
		t.Fatalf("Dial with NoFallback = %v, want an error about ALPN", err)
	}
}

// noExtendedConnect serves HTTP/2 connections that answer the preface with SETTINGS but
// never advertise SETTINGS_ENABLE_CONNECT_PROTOCOL, as a Go server without
// GODEBUG=http2xconnect=1 does.
func noExtendedConnect(_ *http.Server, c *tls.Conn, _ http.Handler) {
	defer c.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			fr.WriteSettingsAck()
		}
	}
}

// A server that speaks HTTP/2 without advertising extended CONNECT gets the WebSocket over
// HTTP/1.1, unless the caller insists.
func TestFallbackWithoutSetting(t *testing.T) {
	protos := make(chan string, 1)
	s := &server{Server: httptest.NewUnstartedServer(echo(t, nil, protos))}
	s.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	s.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": noExtendedConnect}
	s.StartTLS()
	t.Cleanup(s.Close)
	tr := s.transport(t)
	c, resp, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: tr, TLSConfig: s.tlsConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := <-protos; got != "GET HTTP/1.1" || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("the handler saw %q, response %d; want the HTTP/1.1 handshake", got, resp.StatusCode)
	}
	tr.NoFallback = true
	_, _, err = wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: tr})
	if err == nil || errors.Is(err, wsx.ErrFallbackHTTP1) || !strings.Contains(err.Error(), "SETTINGS_ENABLE_CONNECT_PROTOCOL") {
		t.Fatalf("Dial with NoFallback = %v, want an error naming the setting", err)
	}
}

// WebSockets to one server share one TCP connection (RFC 8441 §1).
func TestStreamsShareAConnection(t *testing.T) {
	s := newServer(t, echo(t, nil, nil), true)
	tr := s.transport(t)
	var conns []*wsx.Conn
	for range 3 {
		c, _, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		msg := []byte{byte('a' + i)}
		c.Write(ctx(t), wsx.MessageBinary, msg)
		if _, got, err := c.Read(ctx(t)); err != nil || string(got) != string(msg) {
			t.Fatalf("conn %d: %q %v", i, got, err)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d TCP connections for 3 WebSockets, want 1", n)
	}
	if conns[0].LocalAddr().String() != conns[2].LocalAddr().String() || conns[0].RemoteAddr().String() != strings.TrimPrefix(s.URL, "https://") {
		t.Errorf("addresses %v -> %v, %v -> %v", conns[0].LocalAddr(), conns[0].RemoteAddr(), conns[2].LocalAddr(), conns[2].RemoteAddr())
	}
	for _, c := range conns {
		if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
			t.Error(err)
		}
	}
}

// A refusal comes back as the response, with the reason in its body.
func TestRefusal(t *testing.T) {
	s := newServer(t, echo(t, nil, nil), true)
	_, resp, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: s.transport(t), Origin: "https://elsewhere.example"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial = %v, %v; want a 403", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "Origin") || !strings.Contains(err.Error(), "RFC 8441 §5") {
		t.Errorf("body %q, error %v", body, err)
	}
}

// Reads whose context expires leave the WebSocket usable on both sides of an HTTP/2 stream,
// which net/http's own stream deadlines would have ended.
func TestReadTimeoutKeepsStreamUsable(t *testing.T) {
	timeouts := make(chan int, 1)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		n := 0
		for {
			rctx, cancel := context.WithTimeout(r.Context(), 10*time.Millisecond)
			typ, msg, err := c.Read(rctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				n++
				continue
			}
			if err != nil {
				return
			}
			timeouts <- n
			c.Write(r.Context(), typ, msg)
		}
	}, true)
	c, _, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: s.transport(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx(t), 30*time.Millisecond)
		_, _, err := c.Read(rctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client Read = %v, want a deadline", err)
		}
	}
	c.Write(ctx(t), wsx.MessageText, []byte("late"))
	if n := <-timeouts; n == 0 {
		t.Error("the server's reads never timed out before the message")
	}
	if _, got, err := c.Read(ctx(t)); err != nil || string(got) != "late" {
		t.Fatalf("Read after timeouts = %q, %v", got, err)
	}
}

// A peer that stops reading cannot hold a writer forever over HTTP/2 either: once flow control
// blocks a write for StallTimeout, the stream is reset and the write fails with a timeout, on
// the server's side of the stream (net/http's handler) and on the client's (x/net).
func TestWriteStallTimeout(t *testing.T) {
	stall := wsx.ConnOptions{StallTimeout: 200 * time.Millisecond}
	serverErr := make(chan error, 1)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{ConnOptions: stall})
		if err != nil {
			return
		}
		defer c.CloseNow()
		if r.URL.Path == "/write" {
			serverErr <- c.Write(context.Background(), wsx.MessageBinary, make([]byte, 32<<20))
			return
		}
		<-r.Context().Done() // never reads
	}, true)
	c, _, err := wsx.Dial(ctx(t), s.wsURL("/write"), &wsx.DialOptions{Transport: s.transport(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow() // never reads
	if err := <-serverErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the server's write to a client that never reads = %v, want a timeout", err)
	}
	c2, _, err := wsx.Dial(ctx(t), s.wsURL("/read"), &wsx.DialOptions{Transport: s.transport(t), ConnOptions: stall})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	// A context without a deadline: with one, the error would say the context's deadline
	// passed (ctxError in the wsx module).
	if err := c2.Write(context.Background(), wsx.MessageBinary, make([]byte, 32<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the client's write to a server that never reads = %v, want a timeout", err)
	}
	if err := c2.Write(ctx(t), wsx.MessageText, []byte("x")); err == nil {
		t.Error("the connection is still open after a stalled write")
	}
}

// A handler may return once CloseNow has returned, even while another goroutine writes to the
// Conn (a Group's Shutdown, a hub's writer): by then the stream's ResponseWriter is the
// handler's again, which net/http flushes as the handler returns. Under the race detector a
// write that outlived CloseNow shows as a race with that flush.
func TestCloseNowEndsWritesBeforeHandlerReturns(t *testing.T) {
	writeErr := make(chan error, 1)
	handlerDone := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() { writeErr <- c.Write(context.Background(), wsx.MessageBinary, make([]byte, 16<<20)) }()
		time.Sleep(50 * time.Millisecond) // the write blocks: the client does not read
		c.CloseNow()
	}, true)
	c, _, err := wsx.Dial(ctx(t), s.wsURL("/"), &wsx.DialOptions{Transport: s.transport(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	<-handlerDone
	select {
	case err := <-writeErr:
		if err == nil {
			t.Error("a write through a closed Conn succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write outlived CloseNow")
	}
}
