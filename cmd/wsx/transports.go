package main

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/h3transport"
	_ "github.com/wsx-go/wsx/xconnect" // net/http's HTTP/2 server advertises RFC 8441
)

// WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) in the command: wsx serve serves
// HTTP/1.1 and HTTP/2 (over TLS, and h2c with prior knowledge without it), and HTTP/3 with
// --http3; wsx connect and wsx bench dial over them with --http2 and --http3.

// maxStreams is how many WebSockets wsx serve lets one HTTP/2 or QUIC connection carry.
const maxStreams = 1000

// configureHTTP2 makes srv serve HTTP/2 beside HTTP/1.1: over TLS (ALPN h2) when tlsConfig is
// not nil, else as h2c with prior knowledge (RFC 9113 §3.3), which needs no Upgrade and so
// leaves HTTP/1.1 WebSocket handshakes alone.
func configureHTTP2(srv *http.Server, tlsConfig *tls.Config) {
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	if tlsConfig != nil {
		srv.Protocols.SetHTTP2(true)
		tlsConfig.NextProtos = []string{"h2", "http/1.1"}
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
}

// isHTTP2 reports whether nc is a TLS connection whose client chose HTTP/2 in ALPN: the
// router hands it to net/http whole, which serves its WebSockets as streams (RFC 8441).
func isHTTP2(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	return ok && tc.Handshake() == nil && tc.ConnectionState().NegotiatedProtocol == "h2"
}

// serveHTTP3 serves h over HTTP/3 on the UDP port of addr until ctx is done, and adds the
// Alt-Svc field that tells browsers about it (RFC 7838) to the responses of the TCP server.
// It returns the handler for the TCP server and a function that waits for the end.
func serveHTTP3(ctx context.Context, addr string, tlsConfig *tls.Config, h http.Handler, log *slog.Logger) (http.Handler, func(), error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http3.Server{
		Handler:    h3transport.Handler(h),
		TLSConfig:  http3.ConfigureTLSConfig(tlsConfig.Clone()),
		QUICConfig: &quic.Config{MaxIncomingStreams: maxStreams}, // quic-go's default is 100
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(pc); err != nil && ctx.Err() == nil {
			log.Error("HTTP/3 server failed", "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	port := pc.LocalAddr().(*net.UDPAddr).Port
	log.Info("listening for HTTP/3", "addr", pc.LocalAddr().String())
	altSvc := `h3=":` + strconv.Itoa(port) + `"`
	tcp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", altSvc)
		h.ServeHTTP(w, r)
	})
	return tcp, func() {
		stop()
		srv.Close()
		<-done
		pc.Close()
	}, nil
}

// streamTransport returns the DialOptions.Transport that --http2 or --http3 select, with the
// TLS settings tc, or nil for HTTP/1.1. Both insist: the point of the flags is the protocol.
// Its errors are usage errors: the stream transports dial the URL's host themselves, so they
// go through no proxy.
func (cfg *connectConfig) streamTransport(tc *tls.Config) (wsx.StreamTransport, error) {
	switch {
	case cfg.http2 && cfg.http3:
		return nil, errors.New("--http2 and --http3: choose one")
	case (cfg.http2 || cfg.http3) && cfg.proxy != "" && cfg.proxy != "direct":
		return nil, errors.New("--proxy goes with HTTP/1.1 only, not with --http2 or --http3")
	case cfg.http3:
		return &h3transport.Transport{TLSConfig: tc, NoFallback: true}, nil
	case cfg.http2:
		return &h2transport.Transport{TLSConfig: tc, NoFallback: true}, nil
	}
	return nil, nil
}
