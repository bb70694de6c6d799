package h3transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/stream"
)

// Transport opens WebSocket streams on HTTP/3 connections (RFC 9220), which it keeps and
// shares: one QUIC connection per server. A WebSocket beyond the number of streams the
// server lets it open at once (quic-go's servers allow 100 unless their
// quic.Config.MaxIncomingStreams says otherwise) waits for one, within its Dial's context.
// The zero value is ready to use; a Transport must not be copied after first use and
// is safe for concurrent use.
type Transport struct {
	// TLSConfig configures TLS. The Transport uses a clone with NextProtos "h3" and ServerName
	// set to the URL's host when empty. nil means a zero tls.Config.
	TLSConfig *tls.Config

	// QUICConfig configures QUIC connections; nil means quic-go's defaults.
	QUICConfig *quic.Config

	// NoFallback makes Dial fail, rather than connect with HTTP/1.1, when the server does not
	// advertise SETTINGS_ENABLE_CONNECT_PROTOCOL.
	NoFallback bool

	mu    sync.Mutex
	conns map[string]*clientConn
	h3    http3.Transport
}

var _ wsx.StreamTransport = (*Transport)(nil)

// clientConn is a QUIC connection to one server, being set up until ready is closed.
type clientConn struct {
	ready chan struct{}
	qc    *quic.Conn
	cc    *http3.ClientConn
	err   error
}

// conn returns the connection to addr, dialling it, or waiting for another caller's dial, if
// there is none that is alive.
func (t *Transport) conn(ctx context.Context, addr, host string) (*clientConn, error) {
	t.mu.Lock()
	c := t.conns[addr]
	if c != nil {
		select {
		case <-c.ready:
			if c.err != nil || c.qc.Context().Err() != nil {
				c = nil // failed or closed: dial anew
			}
		default:
		}
	}
	if c == nil {
		c = &clientConn{ready: make(chan struct{})}
		if t.conns == nil {
			t.conns = make(map[string]*clientConn)
		}
		t.conns[addr] = c
		go t.dial(c, addr, host)
	}
	t.mu.Unlock()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c, c.err
}

// dial sets c up. It is bounded by quic-go's handshake timeout rather than by the context of
// one caller, since the connection is shared.
func (t *Transport) dial(c *clientConn, addr, host string) {
	defer close(c.ready)
	cfg := new(tls.Config)
	if t.TLSConfig != nil {
		cfg = t.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{http3.NextProtoH3}
	c.qc, c.err = quic.DialAddr(context.Background(), addr, cfg, t.QUICConfig)
	if c.err != nil {
		return
	}
	c.cc = t.h3.NewClientConn(c.qc)
	select {
	case <-c.cc.ReceivedSettings():
	case <-c.qc.Context().Done():
		c.err = context.Cause(c.qc.Context())
	}
}

// Close closes the Transport's QUIC connections, and the WebSockets on them.
func (t *Transport) Close() error {
	t.mu.Lock()
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	for _, c := range conns {
		<-c.ready
		if c.qc != nil {
			c.qc.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
		}
	}
	return nil
}

// OpenStream sends req, an extended CONNECT request from wsx.Dial, on an HTTP/3 stream; see
// wsx.StreamTransport.
func (t *Transport) OpenStream(ctx context.Context, req *http.Request) (*http.Response, net.Conn, error) {
	port := req.URL.Port()
	if port == "" {
		port = "443"
	}
	if req.URL.Scheme != "https" {
		return nil, nil, errors.New("HTTP/3 needs a wss:// URL (RFC 9220 §3)")
	}
	host := req.URL.Hostname()
	c, err := t.conn(ctx, net.JoinHostPort(host, port), host)
	if err != nil {
		return nil, nil, err
	}
	if !c.cc.Settings().EnableExtendedConnect {
		const reason = "the server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3)"
		if t.NoFallback {
			return nil, nil, errors.New("WebSocket over HTTP/3: " + reason)
		}
		return nil, nil, fmt.Errorf("%w: %s", wsx.ErrFallbackHTTP1, reason)
	}
	rs, err := c.cc.OpenRequestStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	qs := &quicStream{rs}
	// ctx bounds the exchange of the headers: cancelling it resets the stream until then.
	stop := context.AfterFunc(ctx, qs.Abort)
	req = req.Clone(ctx)
	req.Proto = req.Header.Get(":protocol") // quic-go sends :protocol from Proto
	delete(req.Header, ":protocol")
	req.Body = nil
	if err := rs.SendRequestHeader(req); err != nil {
		stop()
		qs.Abort()
		return nil, nil, err
	}
	resp, err := rs.ReadResponse()
	if !stop() {
		qs.Abort()
		return nil, nil, ctx.Err()
	}
	if err != nil {
		qs.Abort()
		return nil, nil, err
	}
	resp.Request = req
	return resp, stream.New(qs, c.qc.LocalAddr(), c.qc.RemoteAddr()), nil
}
