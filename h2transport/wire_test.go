package h2transport_test

//lint:file-ignore SA1019 x/net's http2.Transport sends the raw extended CONNECT, which net/http's client refuses (see h2transport.go).

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/internal/wiretest"
)

// The wire-level rules of RFC 6455 §5-§8 over HTTP/2 streams: the table the HTTP/1.1 and HTTP/3
// tests play too (internal/wiretest), with raw frames sent by x/net's client or by a net/http
// handler.
func TestWireHTTP2(t *testing.T) {
	wiretest.Run(t, func(t *testing.T, s wiretest.Setup) wiretest.Endpoint {
		if s.Client {
			return dialRawH2Server(t, s.Options)
		}
		return acceptRawH2Client(t, s.Options)
	})
}

// rawStream is the raw side of an HTTP/2 stream.
type rawStream struct {
	r         io.Reader
	w         func([]byte) (int, error)
	endWrite  func() error
	end       func()
	closeOnce sync.Once
}

func (s *rawStream) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *rawStream) Write(p []byte) (int, error) { return s.w(p) }
func (s *rawStream) CloseWrite() error           { return s.endWrite() }
func (s *rawStream) Close() error {
	s.closeOnce.Do(s.end)
	return nil
}

// acceptRawH2Client returns a server Conn from wsx.Accept over HTTP/2 and, as its peer, an
// extended CONNECT sent by x/net's client by hand. The handler returns on Release.
func acceptRawH2Client(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	conns := make(chan *wsx.Conn, 1)
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{ConnOptions: opts})
		if err != nil {
			t.Error(err)
		}
		conns <- c
		<-release
	}, true)
	tr := &http2.Transport{TLSClientConfig: s.tlsConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodConnect, s.URL+"/", pr)
	req.Header[":protocol"] = []string{"websocket"}
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("extended CONNECT: %v %v", resp, err)
	}
	peer := &rawStream{r: resp.Body, w: pw.Write, endWrite: pw.Close, end: func() {
		pw.Close()
		resp.Body.Close()
	}}
	var once sync.Once
	rel := func() { once.Do(func() { close(release) }) }
	t.Cleanup(rel)
	return wiretest.Endpoint{Conn: <-conns, Peer: peer, Release: rel}
}

// dialRawH2Server returns a client Conn from wsx.Dial over HTTP/2 and, as its peer, a net/http
// handler that answers the extended CONNECT by hand. net/http ends a response's stream only
// when its handler returns, after which the handler may not read the request: the peer's
// CloseWrite returns from the handler, and its reads then report the end of the stream.
func dialRawH2Server(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	peers := make(chan *rawStream, 1)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			t.Errorf("request %s %q", r.Method, r.Header.Get(":protocol"))
			return
		}
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		rc.Flush()
		done := make(chan struct{})
		var mu sync.Mutex // the handler's writes and its return
		ended := false
		end := func() error {
			mu.Lock()
			defer mu.Unlock()
			if !ended {
				ended = true
				close(done)
			}
			return nil
		}
		peers <- &rawStream{
			r: readerFunc(func(p []byte) (int, error) {
				mu.Lock()
				e := ended
				mu.Unlock()
				if e {
					return 0, io.EOF
				}
				return r.Body.Read(p)
			}),
			w: func(p []byte) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				if ended {
					return 0, errors.New("the handler returned")
				}
				n, err := w.Write(p)
				if err == nil {
					err = rc.Flush()
				}
				return n, err
			},
			endWrite: end,
			end:      func() { end() },
		}
		<-done
	}, true)
	tr := &h2transport.Transport{TLSConfig: s.tlsConfig(), NoFallback: true}
	t.Cleanup(tr.CloseIdleConnections)
	c, _, err := wsx.Dial(context.Background(), s.wsURL("/"), &wsx.DialOptions{Transport: tr, ConnOptions: opts})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return wiretest.Endpoint{Conn: c, Peer: <-peers}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
