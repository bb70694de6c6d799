package h3transport_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h3transport"
	"github.com/wsx-go/wsx/internal/wiretest"
)

// The wire-level rules of RFC 6455 §5-§8 over HTTP/3 streams: the table the HTTP/1.1 and HTTP/2
// tests play too (internal/wiretest), with raw frames sent on a quic-go request stream or by
// a quic-go handler that took its stream over.
func TestWireHTTP3(t *testing.T) {
	wiretest.Run(t, func(t *testing.T, s wiretest.Setup) wiretest.Endpoint {
		if s.Client {
			return dialRawH3Server(t, s.Options)
		}
		return acceptRawH3Client(t, s.Options)
	})
}

// h3Stream is what quic-go's request streams offer.
type h3Stream interface {
	io.ReadWriter
	Close() error
	CancelRead(quic.StreamErrorCode)
	CancelWrite(quic.StreamErrorCode)
}

// rawH3 is the raw side of an HTTP/3 stream: its DATA frames' payloads, its FIN.
type rawH3 struct{ s h3Stream }

func (r rawH3) Read(p []byte) (int, error)  { return r.s.Read(p) }
func (r rawH3) Write(p []byte) (int, error) { return r.s.Write(p) }
func (r rawH3) CloseWrite() error           { return r.s.Close() }
func (r rawH3) Close() error {
	r.s.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
	r.s.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
	return nil
}

// acceptRawH3Client returns a server Conn from wsx.Accept over HTTP/3 and, as its peer, an
// extended CONNECT sent on a quic-go request stream by hand.
func acceptRawH3Client(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	conns := make(chan *wsx.Conn, 1)
	s := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{ConnOptions: opts})
		if err != nil {
			t.Error(err)
		}
		conns <- c
	}))
	ctx := testCtx(t)
	qc, err := quic.DialAddr(ctx, strings.TrimPrefix(s.url, "wss://"), &tls.Config{RootCAs: s.roots, NextProtos: []string{http3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	cc := (&http3.Transport{}).NewClientConn(qc)
	rs, err := cc.OpenRequestStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodConnect, strings.Replace(s.url, "wss:", "https:", 1)+"/", nil)
	req.Proto = "websocket" // quic-go sends it as :protocol
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := rs.SendRequestHeader(req); err != nil {
		t.Fatal(err)
	}
	if resp, err := rs.ReadResponse(); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("extended CONNECT: %v %v", resp, err)
	}
	return wiretest.Endpoint{Conn: <-conns, Peer: rawH3{rs}}
}

// dialRawH3Server returns a client Conn from wsx.Dial over HTTP/3 and, as its peer, a quic-go
// handler that answers the extended CONNECT by hand and takes its stream over.
func dialRawH3Server(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	peers := make(chan *http3.Stream, 1)
	s := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Proto != "websocket" {
			t.Errorf("request %s %q", r.Method, r.Proto)
			return
		}
		w.WriteHeader(http.StatusOK)
		str, err := w.(http3.HTTPStreamer).HTTPStream()
		if err != nil {
			t.Error(err)
		}
		peers <- str
	}))
	tr := &h3transport.Transport{TLSConfig: &tls.Config{RootCAs: s.roots}, NoFallback: true}
	t.Cleanup(func() { tr.Close() })
	c, _, err := wsx.Dial(context.Background(), s.url+"/", &wsx.DialOptions{Transport: tr, ConnOptions: opts})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return wiretest.Endpoint{Conn: c, Peer: rawH3{<-peers}}
}
