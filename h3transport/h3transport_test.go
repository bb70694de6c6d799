package h3transport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h3transport"
	"github.com/wsx-go/wsx/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wsx test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// h3Server is an HTTP/3 server on a loopback UDP port.
type h3Server struct {
	url   string
	roots *x509.CertPool
}

func newH3Server(t *testing.T, h http.Handler) *h3Server {
	t.Helper()
	cert, roots := selfSigned(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{
		Handler:   h3transport.Handler(h),
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(pc)
	}()
	t.Cleanup(func() {
		srv.Close()
		pc.Close()
		<-done
	})
	return &h3Server{url: "wss://" + pc.LocalAddr().String(), roots: roots}
}

func (s *h3Server) transport(t *testing.T) *h3transport.Transport {
	tr := &h3transport.Transport{TLSConfig: &tls.Config{RootCAs: s.roots}}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo accepts a WebSocket and echoes messages until the peer closes; it reports the request's
// method and protocol on protos. The handler returns at once: over HTTP/3 the stream outlives
// it, as a hijacked connection does on HTTP/1.1.
func echo(opts *wsx.AcceptOptions, protos chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if protos != nil {
			protos <- r.Method + " " + r.Proto
		}
		c, err := wsx.Accept(w, r, opts)
		if err != nil {
			return
		}
		go func() {
			defer c.CloseNow()
			ctx := context.Background()
			for {
				typ, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				if err := c.Write(ctx, typ, msg); err != nil {
					return
				}
			}
		}()
	}
}

// A WebSocket over HTTP/3: the handler sees an extended CONNECT with :protocol websocket
// (quic-go's r.Proto), messages echo with permessage-deflate, and the closing handshake
// completes.
func TestEchoOverHTTP3(t *testing.T) {
	protos := make(chan string, 1)
	s := newH3Server(t, echo(&wsx.AcceptOptions{Subprotocols: []string{"chat"}, Compression: &wsx.CompressionOptions{}}, protos))
	ctx := testCtx(t)
	c, resp, err := wsx.Dial(ctx, s.url+"/echo", &wsx.DialOptions{
		Transport:    s.transport(t),
		Subprotocols: []string{"chat"},
		Compression:  &wsx.CompressionOptions{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-protos; got != "CONNECT websocket" {
		t.Errorf("the handler saw %q, want an extended CONNECT with :protocol websocket", got)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 3 || c.Subprotocol() != "chat" || !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
		t.Errorf("response %d %s, subprotocol %q, extensions %q", resp.StatusCode, resp.Proto, c.Subprotocol(), c.Extensions())
	}
	for _, msg := range []string{"hello", strings.Repeat("compress me ", 50_000)} {
		if err := c.Write(ctx, wsx.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != wsx.MessageText || string(got) != msg {
			t.Fatalf("echo: %v %d bytes %v", typ, len(got), err)
		}
	}
	if _, ok := c.RemoteAddr().(*net.UDPAddr); !ok || !strings.HasSuffix(s.url, c.RemoteAddr().String()) {
		t.Errorf("RemoteAddr %v (%T), want the server's UDP address", c.RemoteAddr(), c.RemoteAddr())
	}
	if err := c.Close(wsx.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// WebSockets to one server share one QUIC connection, and a refusal comes back as the
// response with its reason.
func TestSharedConnectionAndRefusal(t *testing.T) {
	s := newH3Server(t, echo(nil, nil))
	ctx := testCtx(t)
	tr := s.transport(t)
	var conns []*wsx.Conn
	for range 3 {
		c, _, err := wsx.Dial(ctx, s.url, &wsx.DialOptions{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		conns = append(conns, c)
	}
	if conns[0].LocalAddr().String() != conns[2].LocalAddr().String() {
		t.Errorf("local addresses %v and %v: not one connection", conns[0].LocalAddr(), conns[2].LocalAddr())
	}
	_, resp, err := wsx.Dial(ctx, s.url, &wsx.DialOptions{Transport: tr, Origin: "https://elsewhere.example"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial = %v, %v; want a 403", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "Origin") {
		t.Errorf("body %q", body)
	}
}

// A read whose context expires leaves the WebSocket usable over HTTP/3 too.
func TestReadTimeoutKeepsStreamUsable(t *testing.T) {
	s := newH3Server(t, echo(nil, nil))
	ctx := testCtx(t)
	c, _, err := wsx.Dial(ctx, s.url, &wsx.DialOptions{Transport: s.transport(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, _, err := c.Read(rctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read = %v, want a deadline", err)
		}
	}
	c.Write(ctx, wsx.MessageText, []byte("late"))
	if _, got, err := c.Read(ctx); err != nil || string(got) != "late" {
		t.Fatalf("Read after timeouts = %q, %v", got, err)
	}
}

// A peer that stops reading cannot hold a writer forever over HTTP/3 either: once flow control
// blocks a write for StallTimeout, the stream is reset and the write fails with a timeout, on
// both sides of the stream.
func TestWriteStallTimeout(t *testing.T) {
	stall := wsx.ConnOptions{StallTimeout: 200 * time.Millisecond}
	serverErr := make(chan error, 1)
	s := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{ConnOptions: stall})
		if err != nil {
			return
		}
		if r.URL.Path == "/write" {
			go func() {
				defer c.CloseNow()
				serverErr <- c.Write(context.Background(), wsx.MessageBinary, make([]byte, 32<<20))
			}()
		}
		// Otherwise nothing reads: the stream outlives the handler until the test ends.
		t.Cleanup(func() { c.CloseNow() })
	}))
	ctx := testCtx(t)
	c, _, err := wsx.Dial(ctx, s.url+"/write", &wsx.DialOptions{Transport: s.transport(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow() // never reads
	if err := <-serverErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the server's write to a client that never reads = %v, want a timeout", err)
	}
	c2, _, err := wsx.Dial(ctx, s.url+"/read", &wsx.DialOptions{Transport: s.transport(t), ConnOptions: stall})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	// A context without a deadline: with one, the error would say the context's deadline
	// passed (ctxError in the wsx module).
	if err := c2.Write(context.Background(), wsx.MessageBinary, make([]byte, 32<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the client's write to a server that never reads = %v, want a timeout", err)
	}
	if err := c2.Write(ctx, wsx.MessageText, []byte("x")); err == nil {
		t.Error("the connection is still open after a stalled write")
	}
}
