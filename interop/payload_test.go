package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// sizes are the payload lengths every peer exchanges: empty, one byte, the edges of the
// 7-bit, 16-bit and 64-bit length encodings (§5.2) and a megabyte.
var sizes = []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20}

// payload is one message of a scripted exchange.
type payload struct {
	typ  wsx.MessageType
	data []byte
}

func (p payload) String() string {
	kind := "binary"
	if p.typ == wsx.MessageText {
		kind = "text"
	}
	return fmt.Sprintf("%s-%d", kind, len(p.data))
}

// payloads returns a text and a binary message of every size.
func payloads() []payload {
	var ps []payload
	for _, n := range sizes {
		ps = append(ps, payload{wsx.MessageText, makeText(n)}, payload{wsx.MessageBinary, makeBinary(n, uint64(n))})
	}
	return ps
}

// makeText returns n bytes of valid UTF-8 mixing 1- to 4-byte sequences, so that every
// message of some size has characters that straddle frame and buffer boundaries.
func makeText(n int) []byte {
	const pattern = "wsx interop: ü€𝄞 ñ 日本 "
	b := []byte(strings.Repeat(pattern, n/len(pattern)+1))[:n]
	// Replace a character cut at the end by ASCII so that the length stays n.
	for i := len(b); i > 0 && i > len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i-1]) {
			if !utf8.FullRune(b[i-1:]) {
				for j := i - 1; j < len(b); j++ {
					b[j] = '.'
				}
			}
			break
		}
	}
	if !utf8.Valid(b) {
		panic("makeText made invalid UTF-8")
	}
	return b
}

// makeBinary returns n pseudo-random bytes, the same for the same seed.
func makeBinary(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5753582d696e7465))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// serverConn is what a wsx test server saw of one connection.
type serverConn struct {
	Query    string      // the raw query of the request's URL
	Request  string      // the request's method and protocol: "GET HTTP/1.1", "CONNECT HTTP/2.0"
	Header   http.Header // the opening handshake request's header
	Conn     *wsx.Conn   // nil when Accept refused the request
	Status   int         // the status Accept answered a refused request with
	Err      error       // Accept's error, or the error that ended the read loop
	Messages []payload   // data messages received, in order
}

// wsxServer is an httptest server whose handler upgrades with wsx.Accept and runs handle on
// each connection. Every connection's record is sent to Conns when its handler returns.
type wsxServer struct {
	*httptest.Server
	Conns chan *serverConn
	wg    sync.WaitGroup
}

// newWSXServer starts a server for WebSocket requests on /ws; mux, if not nil, serves the
// other paths. handle runs after a successful Accept and should return the error that ended
// the connection.
func newWSXServer(t testing.TB, opts *wsx.AcceptOptions, mux http.Handler, handle func(context.Context, *serverConn) error) *wsxServer {
	return newTappedWSXServer(t, nil, opts, mux, handle)
}

// newTappedWSXServer is newWSXServer with the server's connections tapped by tp, if not nil.
func newTappedWSXServer(t testing.TB, tp *tap, opts *wsx.AcceptOptions, mux http.Handler, handle func(context.Context, *serverConn) error) *wsxServer {
	return startWSXServer(t, tp, opts, mux, handle, (*httptest.Server).Start)
}

// startWSXServer is newTappedWSXServer with the server started by start.
func startWSXServer(t testing.TB, tp *tap, opts *wsx.AcceptOptions, mux http.Handler, handle func(context.Context, *serverConn) error, start func(*httptest.Server)) *wsxServer {
	s := &wsxServer{Conns: make(chan *serverConn, 16)}
	// Connections outlive their requests (net/http forgets hijacked ones), so the handlers
	// read under a context of the server's that cleanup cancels.
	ctx, cancel := context.WithCancel(context.Background())
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			if mux == nil {
				http.NotFound(w, r)
			} else {
				mux.ServeHTTP(w, r)
			}
			return
		}
		s.wg.Add(1)
		defer s.wg.Done()
		sc := &serverConn{Query: r.URL.RawQuery, Request: r.Method + " " + r.Proto, Header: r.Header.Clone()}
		sw := &statusWriter{ResponseWriter: w}
		sc.Conn, sc.Err = wsx.Accept(sw, r, opts)
		if sc.Err != nil {
			sc.Status = sw.status
			s.Conns <- sc
			return
		}
		defer sc.Conn.CloseNow()
		sc.Err = handle(ctx, sc)
		s.Conns <- sc
	}))
	if tp != nil {
		s.Listener = tp.listener(s.Listener)
	}
	start(s.Server)
	t.Cleanup(func() {
		cancel()
		s.Server.Close()
		s.wg.Wait()
	})
	return s
}

// WSURL returns the server's WebSocket endpoint.
func (s *wsxServer) WSURL() string { return "ws" + strings.TrimPrefix(s.Server.URL, "http") + "/ws" }

// next returns the record of the next connection whose handler finished.
func (s *wsxServer) next(t testing.TB) *serverConn {
	t.Helper()
	select {
	case sc := <-s.Conns:
		return sc
	case <-time.After(eventTimeout):
		t.Fatalf("no connection ended within %v", eventTimeout)
	}
	panic("unreachable")
}

// echo reads messages and writes them back until the connection ends, recording them.
func echo(ctx context.Context, sc *serverConn) error {
	for {
		typ, msg, err := sc.Conn.Read(ctx)
		if err != nil {
			return err
		}
		sc.Messages = append(sc.Messages, payload{typ, msg})
		if err := sc.Conn.Write(ctx, typ, msg); err != nil {
			return err
		}
	}
}

// statusWriter records the status Accept writes when it refuses a request.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer for Hijack.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wantClose checks that err is a *wsx.CloseError with code and reason.
func wantClose(t testing.TB, err error, code wsx.StatusCode, reason string) {
	t.Helper()
	var ce *wsx.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want a *wsx.CloseError with status %v", err, code)
	}
	if ce.Code != code || ce.Reason != reason {
		t.Fatalf("peer closed with %v %q, want %v %q", ce.Code, ce.Reason, code, reason)
	}
}
