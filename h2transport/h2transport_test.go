package h2transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/internal/leakcheck"
	_ "github.com/wsx-go/wsx/xconnect" // the net/http servers of these tests advertise RFC 8441
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// server is a wsx server on net/http over TLS with HTTP/2 and HTTP/1.1.
type server struct {
	*httptest.Server
	conns atomic.Int32 // TCP connections accepted
}

// newServer starts a TLS server whose handler is h; http2 says whether it offers h2.
func newServer(t *testing.T, h http.HandlerFunc, http2 bool) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = http2
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
