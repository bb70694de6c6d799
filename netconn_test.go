//go:build !js

package wsx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsx-go/wsx/internal/conntest"
	"github.com/wsx-go/wsx/internal/frame"
)

// wsServer is an httptest server that accepts WebSockets with opts and hands each Conn to the
// test, which owns it from then on.
type wsServer struct {
	*httptest.Server
	conns    chan *Conn
	accepted atomic.Int32
}

func newWSServer(t testing.TB, opts *AcceptOptions) *wsServer {
	s := &wsServer{conns: make(chan *Conn, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		s.accepted.Add(1)
		s.conns <- c
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *wsServer) url() string { return "ws" + strings.TrimPrefix(s.URL, "http") }

// dial opens a WebSocket to s and returns both ends.
func (s *wsServer) dial(t *testing.T, opts *DialOptions) (client, server *Conn) {
	t.Helper()
	client, _, err := Dial(context.Background(), s.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return client, <-s.conns
}

// NetConn keeps net.Conn's contract, over TCP and over a Pipe, with a timed-out Write allowed
// to break the connection (see NetConn).
func TestNetConnConformance(t *testing.T) {
	opts := conntest.Options{WriteTimeoutBreaks: true}
	// The closing handshakes wait for a peer that may still be reading megabytes written
	// before the Close frame, on a machine the race detector slows down: give them time.
	patient := ConnOptions{CloseTimeout: time.Minute}
	t.Run("Pipe", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) (net.Conn, net.Conn, func()) {
			client, server, err := Pipe(&DialOptions{ConnOptions: patient}, &AcceptOptions{ConnOptions: patient})
			if err != nil {
				t.Fatal(err)
			}
			return NetConn(client, MessageBinary), NetConn(server, MessageBinary), func() {}
		}, conntest.Options{WriteTimeoutBreaks: true, InFlight: 2*pipeBuffer + 2*netConnMessage})
	})
	t.Run("TCP", func(t *testing.T) {
		srv := newWSServer(t, &AcceptOptions{ConnOptions: patient})
		conntest.Run(t, func(t *testing.T) (net.Conn, net.Conn, func()) {
			client, server := srv.dial(t, &DialOptions{ConnOptions: patient})
			return NetConn(client, MessageBinary), NetConn(server, MessageBinary), func() {}
		}, opts)
	})
	t.Run("TCP compressed", func(t *testing.T) {
		srv := newWSServer(t, &AcceptOptions{Compression: &CompressionOptions{}, ConnOptions: patient})
		conntest.Run(t, func(t *testing.T) (net.Conn, net.Conn, func()) {
			client, server := srv.dial(t, &DialOptions{Compression: &CompressionOptions{}, ConnOptions: patient})
			if client.Extensions() == "" {
				t.Fatal("permessage-deflate not negotiated")
			}
			return NetConn(client, MessageBinary), NetConn(server, MessageBinary), func() {}
		}, opts)
	})
}

// netConnListener is a net.Listener of NetConns, so that an http.Server serves over
// WebSockets.
type netConnListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *netConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *netConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *netConnListener) Addr() net.Addr { return &net.TCPAddr{} }

// httpOverWebSocket starts an http.Server with handler whose connections are NetConns of type
// typ over WebSockets that a wsx server accepts, and returns a client that dials through them,
// and the number of WebSockets accepted so far.
func httpOverWebSocket(t *testing.T, typ MessageType, h2 bool, handler http.Handler) (*http.Client, func() int) {
	ws := newWSServer(t, nil)
	l := &netConnListener{conns: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		for {
			select {
			case c := <-ws.conns:
				select {
				case l.conns <- NetConn(c, typ):
				case <-l.done:
					c.CloseNow()
				}
			case <-l.done:
				return
			}
		}
	}()
	srv := &http.Server{Handler: handler, Protocols: new(http.Protocols)}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, _, err := Dial(ctx, ws.url(), nil)
			if err != nil {
				return nil, err
			}
			return NetConn(c, typ), nil
		},
		Protocols: new(http.Protocols),
	}
	if h2 {
		// HTTP/2 with prior knowledge, as gRPC speaks it.
		srv.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetUnencryptedHTTP2(true)
	} else {
		srv.Protocols.SetHTTP1(true)
		tr.Protocols.SetHTTP1(true)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-served
	})
	return &http.Client{Transport: tr}, func() int { return int(ws.accepted.Load()) }
}

// bodyOf returns n bytes of deterministic content: random bytes, or for text random runes
// of one to four bytes, so that chunk boundaries fall inside code points.
func bodyOf(n int, text bool, seed uint64) []byte {
	rnd := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n+4)
	for len(b) < n {
		if !text {
			b = append(b, byte(rnd.Uint32()))
			continue
		}
		r := []rune{'a', 'é', '✓', '😀'}[rnd.IntN(4)]
		b = utf8.AppendRune(b, r)
	}
	for len(b) > n && text {
		_, size := utf8.DecodeLastRune(b)
		b = b[:len(b)-size]
	}
	return b[:min(n, len(b))]
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// net/http runs over NetConns both ways: an http.Server serves on a listener of NetConns over
// WebSockets, an http.Client dials through them. Sequential requests reuse one WebSocket;
// large bodies go up and down whole; concurrent requests each get an answer. Over text
// messages the bodies are UTF-8 whose code points the HTTP writers cut anywhere; HTTP/2
// (h2c, as gRPC uses it) multiplexes concurrent streams over one WebSocket.
func TestNetConnHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Sum", sum(body))
		w.Write(body)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write(bodyOf(n, r.URL.Query().Get("text") == "1", 9))
	})
	for _, tc := range []struct {
		name string
		typ  MessageType
		h2   bool
		size int
	}{
		{"binary HTTP/1.1", MessageBinary, false, 2 << 20},
		{"text HTTP/1.1", MessageText, false, 1 << 20},
		{"binary HTTP/2", MessageBinary, true, 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, accepted := httpOverWebSocket(t, tc.typ, tc.h2, mux)
			text := tc.typ == MessageText
			textQuery := map[bool]string{true: "1", false: "0"}[text]
			base := "http://wsx.test"
			get := func(path string) ([]byte, *http.Response) {
				t.Helper()
				resp, err := client.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return b, resp
			}
			for i := range 5 {
				n := 1000 + i
				b, resp := get(fmt.Sprintf("/download?n=%d&text=%s", n, textQuery))
				if !bytes.Equal(b, bodyOf(n, text, 9)) {
					t.Fatalf("request %d: body of %d bytes differs", i, len(b))
				}
				if wantProto := map[bool]int{true: 2, false: 1}[tc.h2]; resp.ProtoMajor != wantProto {
					t.Fatalf("response over HTTP/%d, want %d", resp.ProtoMajor, wantProto)
				}
			}
			if n := accepted(); n != 1 {
				t.Errorf("%d WebSockets for 5 sequential requests, want 1 kept alive", n)
			}
			// A large upload, echoed.
			up := bodyOf(tc.size, text, 3)
			resp, err := client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(up))
			if err != nil {
				t.Fatal(err)
			}
			down, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.Header.Get("X-Sum") != sum(up) || !bytes.Equal(down, up) {
				t.Fatalf("echo of %d bytes: server saw sum %s, client got %d bytes (%v)", len(up), resp.Header.Get("X-Sum"), len(down), err)
			}
			// A large download.
			if b, _ := get(fmt.Sprintf("/download?n=%d&text=%s", tc.size, textQuery)); !bytes.Equal(b, bodyOf(tc.size, text, 9)) {
				t.Fatalf("download of %d bytes differs", len(b))
			}
			// Concurrent requests.
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					body := bodyOf(10_000+i*1000, text, uint64(i))
					resp, err := client.Post(base+"/echo", "text/plain", bytes.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !bytes.Equal(got, body) {
						t.Errorf("concurrent echo %d: %d bytes, %v", i, len(got), err)
					}
				})
			}
			wg.Wait()
			if tc.h2 && accepted() != 1 {
				t.Errorf("HTTP/2 used %d WebSockets, want 1 for all streams", accepted())
			}
			t.Logf("%d WebSockets", accepted())
		})
	}
}

// messages reads n messages from c.
func readMessages(t *testing.T, c *Conn, n int) []string {
	t.Helper()
	var got []string
	for range n {
		typ, msg, err := c.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if typ != MessageText {
			t.Fatalf("%v message", typ)
		}
		got = append(got, string(msg))
	}
	return got
}

// In text mode every message is valid UTF-8 (§5.6): a code point cut short by one Write goes
// out with the next, bytes that are not UTF-8 are refused, and writes larger than 32 KiB are
// split on code point boundaries.
func TestNetConnText(t *testing.T) {
	client, server := pipe(t, nil, &AcceptOptions{ConnOptions: ConnOptions{ReadLimit: netConnMessage}})
	nc := NetConn(client, MessageText)
	write := func(s string) {
		t.Helper()
		if n, err := nc.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}
	write("ab\xe2\x9c") // "ab" and the start of ✓
	write("\x93cd")     // the rest of ✓, then "cd"
	write("\xf0")       // the first byte of 😀
	write("\x9f\x98")   // two more
	write("\x80!")      // the last, and "!"
	check("messages", strings.Join(readMessages(t, server, 5), "|"), "ab|✓|cd|😀|!")

	if n, err := nc.Write([]byte("ok\xffno")); n != 0 || !errors.Is(err, errNotUTF8) {
		t.Errorf("Write of invalid UTF-8 = %d, %v; want 0 and an error", n, err)
	}
	if n, err := nc.Write([]byte("\x80")); n != 0 || err == nil {
		t.Errorf("Write of a stray continuation byte = %d, %v", n, err)
	}
	write("after")
	check("message after a refused Write", readMessages(t, server, 1)[0], "after")

	// A large write: messages of at most 32 KiB (the server's read limit), cut between code
	// points.
	big := strings.Repeat("✓", 30_000) // 90,000 bytes, more than the pipe holds
	errc := make(chan error, 1)
	go func() {
		_, err := nc.Write([]byte(big))
		errc <- err
	}()
	var joined strings.Builder
	for joined.Len() < len(big) {
		m := readMessages(t, server, 1)[0]
		if len(m) > netConnMessage || !utf8.ValidString(m) {
			t.Fatalf("message of %d bytes, valid UTF-8 %v", len(m), utf8.ValidString(m))
		}
		joined.WriteString(m)
	}
	if err := <-errc; err != nil || joined.String() != big {
		t.Errorf("the large write: %v; arrived unchanged: %v", err, joined.String() == big)
	}

	write("\xe2")
	if err := nc.(interface{ CloseWrite() error }).CloseWrite(); err == nil {
		t.Error("CloseWrite inside a code point succeeded")
	}
}

// A message of the other type fails the connection with 1003 (§7.4.1).
func TestNetConnWrongType(t *testing.T) {
	client, server := pipe(t, nil, nil)
	nc := NetConn(server, MessageBinary)
	peer := make(chan error, 1)
	go func() {
		client.Write(context.Background(), MessageText, []byte("text"))
		_, _, err := client.Read(context.Background())
		peer <- err
	}()
	if _, err := nc.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "1003") {
		t.Fatalf("Read of a text message on a binary stream: %v, want an error naming 1003", err)
	}
	if err := <-peer; CloseStatus(err) != StatusUnsupportedData {
		t.Fatalf("peer read %v, want Close 1003", err)
	}
	if NetConn(server, 7).(*netConn).writeErr == nil {
		t.Error("NetConn accepted message type 7")
	}
}

// How the peer ends the stream: Close with 1000, 1001 or no status is io.EOF; another code is
// its *CloseError; CloseWrite (an empty message) is io.EOF with the other direction open.
func TestNetConnEnd(t *testing.T) {
	for _, tc := range []struct {
		code    StatusCode
		wantEOF bool
	}{{StatusNormalClosure, true}, {StatusGoingAway, true}, {StatusNoStatusReceived, true}, {4000, false}, {StatusInternalError, false}} {
		t.Run(tc.code.String(), func(t *testing.T) {
			var nc net.Conn
			if tc.code == StatusNoStatusReceived {
				server, peer := serverWithRawClient(t, ConnOptions{})
				nc = NetConn(server, MessageBinary)
				peer.send(true, frame.OpClose, nil) // an empty Close frame (§5.5.1)
			} else {
				client, server := pipe(t, nil, nil)
				nc = NetConn(server, MessageBinary)
				go client.Close(tc.code, "reason")
			}
			_, err := nc.Read(make([]byte, 10))
			if tc.wantEOF && err != io.EOF || !tc.wantEOF && CloseStatus(err) != tc.code {
				t.Fatalf("Read = %v", err)
			}
			if err := nc.Close(); err != nil {
				t.Errorf("Close after the peer closed: %v, want nil (the handshake is complete)", err)
			}
		})
	}

	t.Run("CloseWrite", func(t *testing.T) {
		client, server := pipe(t, nil, nil)
		a, b := NetConn(client, MessageBinary), NetConn(server, MessageBinary)
		go func() {
			a.Write([]byte("request"))
			a.(interface{ CloseWrite() error }).CloseWrite()
		}()
		req, err := io.ReadAll(b) // until the half-close
		if string(req) != "request" || err != nil {
			t.Fatalf("read %q, %v", req, err)
		}
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("Read after io.EOF = %v", err)
		}
		go func() {
			b.Write([]byte("response"))
			b.Close()
		}()
		resp, err := io.ReadAll(a) // the other direction was still open
		if string(resp) != "response" || err != nil {
			t.Fatalf("read %q, %v", resp, err)
		}
		if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after CloseWrite = %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
}

// The deadline error is what net/http and net.Conn users test for.
func TestNetConnDeadlineError(t *testing.T) {
	client, server := pipe(t, nil, nil)
	go server.Read(context.Background()) // answers the Close
	nc := NetConn(client, MessageBinary)
	nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := nc.Read(make([]byte, 1))
	conntest.CheckTimeout(t, err)
	if !strings.HasPrefix(err.Error(), "wsx: ") || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %q", err)
	}
	if err := nc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := nc.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close = %v", err)
	}
}

// The steady-state paths of a NetConn allocate nothing, with and without a deadline.
func TestNetConnZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; scripts/test.sh runs this without -race")
	}
	client, server := pipe(t, nil, nil)
	a, b := NetConn(client, MessageBinary), NetConn(server, MessageBinary)
	ta, tb := NetConn(client, MessageText), NetConn(server, MessageText)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 64)
	small, large := make([]byte, 100), make([]byte, netConnMessage) // pooled buffer; in place
	for _, deadline := range []time.Time{{}, time.Now().Add(time.Hour)} {
		for _, c := range []net.Conn{a, b, ta, tb} {
			c.SetDeadline(deadline)
		}
		for name, pair := range map[string][2]net.Conn{"binary": {a, b}, "text": {ta, tb}} {
			w, r := pair[0], pair[1]
			for _, buf := range [][]byte{small, large} {
				round := func() {
					if _, err := w.Write(msg); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadAtLeast(r, buf, min(len(buf), len(msg))); err != nil {
						t.Fatal(err)
					}
					for n := min(len(buf), len(msg)); n < len(msg); {
						k, err := r.Read(buf)
						if err != nil {
							t.Fatal(err)
						}
						n += k
					}
				}
				round()
				if n := testing.AllocsPerRun(50, round); n != 0 {
					t.Errorf("%s, deadline %v, %d-byte reads: %v allocations per Write and Read", name, !deadline.IsZero(), len(buf), n)
				}
			}
		}
	}
}

// BenchmarkNetConn streams chunks one way over loopback TCP through NetConn, beside the same
// chunks sent as messages with Write and received with ReadMessage: the ratio of the two is
// NetConn's cost.
func BenchmarkNetConn(b *testing.B) {
	for _, size := range []int{1 << 10, 32 << 10} {
		for _, via := range []string{"Conn", "NetConn"} {
			b.Run(fmt.Sprintf("%s/%dKiB", via, size>>10), func(b *testing.B) {
				srv := newWSServer(b, nil)
				client, _, err := Dial(context.Background(), srv.url(), nil)
				if err != nil {
					b.Fatal(err)
				}
				server := <-srv.conns
				defer client.CloseNow()
				defer server.CloseNow()
				chunk := make([]byte, size)
				done := make(chan error, 1)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				if via == "Conn" {
					go func() {
						buf := make([]byte, 0, size)
						for range b.N {
							if _, _, err := server.ReadMessage(context.Background(), buf[:0]); err != nil {
								done <- err
								return
							}
						}
						done <- nil
					}()
					for range b.N {
						client.Write(context.Background(), MessageBinary, chunk)
					}
				} else {
					w, r := NetConn(client, MessageBinary), NetConn(server, MessageBinary)
					go func() {
						_, err := io.CopyN(io.Discard, r, int64(size)*int64(b.N))
						done <- err
					}()
					for range b.N {
						w.Write(chunk)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// textPrefix, which cuts text NetConn messages, always cuts on a code point boundary, as late as
// it can: the prefix is valid UTF-8, and what it leaves of a stream that ended inside a code
// point is that code point's start only.
func FuzzTextPrefix(f *testing.F) {
	f.Add([]byte("ab✓"), 3, uint8(0))
	f.Add([]byte("ab✓"), 10, uint8(1))
	f.Add([]byte("😀😀"), 5, uint8(3))
	f.Add([]byte("\xf0\x9f\x98"), 1, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, max int, cut uint8) {
		// A valid stream, whose last code point loses cut bytes, fewer than its size.
		b = bytes.ToValidUTF8(b, []byte("?"))
		if len(b) > 0 {
			_, size := utf8.DecodeLastRune(b)
			b = b[:len(b)-int(cut)%size]
		}
		max = 4 + int(uint(max)%1000)
		k := textPrefix(b, max)
		if k > max || k > len(b) || !utf8.Valid(b[:k]) {
			t.Fatalf("textPrefix(%q, %d) = %d: not a valid prefix within the bound", b, max, k)
		}
		if len(b) > max && k < max-3 {
			t.Fatalf("textPrefix(%q, %d) = %d: cut more than a code point early", b, max, k)
		}
		if len(b) <= max && (len(b)-k > 3 || (k < len(b) && utf8.FullRune(b[k:]))) {
			t.Fatalf("textPrefix(%q, %d) = %d: left %q, more than an unfinished code point", b, max, k, b[k:])
		}
	})
}
