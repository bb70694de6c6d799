// Package h2transport carries wsx WebSocket connections on HTTP/2 streams (RFC 8441): many
// WebSockets to one server share one TCP connection. Set a Transport in
// wsx.DialOptions.Transport:
//
//	t := &h2transport.Transport{}
//	c, _, err := wsx.Dial(ctx, "wss://example.com/socket", &wsx.DialOptions{Transport: t})
//
// Dial then opens (or reuses) a TLS connection with ALPN h2, waits for the server's SETTINGS,
// and sends an extended CONNECT with :protocol websocket when the server advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3). When it did not, or chose HTTP/1.1 in ALPN,
// Dial connects with HTTP/1.1 instead, unless Transport.NoFallback is set.
//
// ws:// URLs use HTTP/2 without TLS, with prior knowledge (RFC 9113 §3.3): only for servers
// known to speak it, such as `wsx serve --h2c`.
//
// It is its own module, so that programs that do not use it do not download
// golang.org/x/net, whose http2.Transport sends the :protocol pseudo-header that net/http's
// client refuses.
package h2transport

//lint:file-ignore SA1019 x/net deprecates its http2.Transport for net/http's, but net/http's client refuses the :protocol pseudo-header (validateHeaders, Go 1.24-1.26): x/net's is the one Go client that sends RFC 8441's extended CONNECT.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/stream"
	"golang.org/x/net/http2"
)

// Transport opens WebSocket streams on HTTP/2 connections, which it keeps and shares: a
// connection carries as many WebSockets as the server's SETTINGS_MAX_CONCURRENT_STREAMS
// allows, and a new one is opened when it is full. The zero value is ready to use; a
// Transport must not be copied after first use and is safe for concurrent use.
type Transport struct {
	// TLSConfig configures TLS for wss:// URLs. The Transport uses a clone, with NextProtos
	// "h2" and "http/1.1" (ALPN, RFC 7301) and ServerName set to the URL's host when empty.
	// nil means a zero tls.Config.
	TLSConfig *tls.Config

	// NetDialContext opens TCP connections. nil means the DialContext method of a zero
	// net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// NoFallback makes Dial fail, rather than connect with HTTP/1.1, when the server does not
	// support WebSockets over HTTP/2.
	NoFallback bool

	once         sync.Once
	tlsT, plainT *http2.Transport
}

var _ wsx.StreamTransport = (*Transport)(nil)

func (t *Transport) init() {
	t.once.Do(func() {
		t.tlsT = &http2.Transport{DialTLSContext: t.dialTLS}
		t.plainT = &http2.Transport{AllowHTTP: true, DialTLSContext: t.dialPlain}
	})
}

// errNotH2 is the error of a TLS connection on which the server chose another protocol than
// h2.
type errNotH2 struct{ proto string }

func (e errNotH2) Error() string {
	if e.proto == "" {
		return "the server chose no protocol in ALPN; want h2 (RFC 7301, RFC 9113 §3.2)"
	}
	return fmt.Sprintf("the server chose %q in ALPN; want h2 (RFC 7301, RFC 9113 §3.2)", e.proto)
}

func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	if t.NetDialContext != nil {
		return t.NetDialContext(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (t *Transport) dialPlain(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
	return t.dial(ctx, addr)
}

func (t *Transport) dialTLS(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
	nc, err := t.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := tlsConfig(t.TLSConfig, addr)
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, errNotH2{p}
	}
	return tc, nil
}

// tlsConfig returns the TLS configuration for a connection to addr.
func tlsConfig(base *tls.Config, addr string) *tls.Config {
	cfg := new(tls.Config)
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return cfg
}

// CloseIdleConnections closes the connections that carry no WebSocket.
func (t *Transport) CloseIdleConnections() {
	t.init()
	t.tlsT.CloseIdleConnections()
	t.plainT.CloseIdleConnections()
}

// OpenStream sends req, an extended CONNECT request from wsx.Dial, on an HTTP/2 stream; see
// wsx.StreamTransport.
func (t *Transport) OpenStream(ctx context.Context, req *http.Request) (*http.Response, net.Conn, error) {
	t.init()
	rt := t.tlsT
	if req.URL.Scheme == "http" {
		rt = t.plainT
	}
	// The stream lives on after ctx, which bounds only its opening: x/net ties a request's
	// stream to the request's context, so that one is cancelled by ctx only until the
	// response arrives.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	var nc net.Conn // the TCP or TLS connection that carries the stream
	sctx = httptrace.WithClientTrace(sctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { nc = info.Conn },
	})
	pr, pw := io.Pipe()
	req = req.WithContext(sctx)
	req.Body = pr
	req.ContentLength = 0 // with a Body: of unknown length, sent as it is written

	resp, err := rt.RoundTrip(req)
	if err != nil {
		cancel()
		pw.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, nil, cerr
		}
		return nil, nil, t.fallback(err)
	}
	if !stop() {
		cancel()
		resp.Body.Close()
		return nil, nil, ctx.Err()
	}
	s := &clientStream{send: pw, recv: resp.Body, cancel: cancel}
	var local, remote net.Addr
	if nc != nil {
		local, remote = nc.LocalAddr(), nc.RemoteAddr()
	}
	return resp, stream.New(s, local, remote), nil
}

// fallback turns the errors that mean "no WebSockets over HTTP/2 here" into ones that wrap
// wsx.ErrFallbackHTTP1, unless NoFallback is set.
func (t *Transport) fallback(err error) error {
	var reason string
	var notH2 errNotH2
	switch {
	case errors.As(err, &notH2):
		reason = notH2.Error()
	case strings.Contains(err.Error(), "extended connect not supported by peer"):
		// x/net's errExtendedConnectNotSupported, which it does not export.
		reason = "the server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)"
	default:
		return err
	}
	if t.NoFallback {
		return fmt.Errorf("WebSocket over HTTP/2: %s", reason)
	}
	return fmt.Errorf("%w: %s", wsx.ErrFallbackHTTP1, reason)
}

// clientStream is the client's side of an extended CONNECT stream: the request body it
// writes, through a pipe that x/net reads, and the response body it reads.
type clientStream struct {
	send   *io.PipeWriter
	recv   io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

var errAborted = errors.New("h2transport: stream aborted")

func (s *clientStream) Read(p []byte) (int, error)  { return s.recv.Read(p) }
func (s *clientStream) Write(p []byte) (int, error) { return s.send.Write(p) }

// CloseWrite ends the request body: END_STREAM (RFC 8441 §5: the orderly close of a TCP
// connection's sending half).
func (s *clientStream) CloseWrite() error { return s.send.Close() }

// Abort resets the stream (RST_STREAM CANCEL).
func (s *clientStream) Abort() {
	s.send.CloseWithError(errAborted)
	s.cancel()
	s.recv.Close()
}

// Close ends both halves; if the server has not ended its half yet, the stream is reset.
func (s *clientStream) Close() error {
	s.once.Do(func() {
		s.send.Close()
		s.recv.Close()
	})
	return nil
}
