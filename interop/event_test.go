package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsx-go/wsx"
	eventmode "github.com/wsx-go/wsx/event"
)

// The peers against wsx's event mode (package event), served by its epoll workers: Node's
// ws, gorilla/websocket and Chromium as clients.

// eventServer is an event-mode server that echoes messages, except that the text
// "close <code> <reason>" makes it close with that code and reason. The record of each
// connection goes to Conns when OnClose is called.
type eventServer struct {
	*eventmode.Server
	URL   string // ws:// or wss://
	Conns chan *eventConn
}

// eventConn is what an event server saw of one connection.
type eventConn struct {
	Subprotocol, Extensions string
	mu                      sync.Mutex
	Messages                []payload
	Err                     error // what OnClose reported
}

func newEventServer(t testing.TB, opts *wsx.AcceptOptions, tlsConfig *tls.Config) *eventServer {
	s := &eventServer{Conns: make(chan *eventConn, 16)}
	s.Server = &eventmode.Server{
		Options:   opts,
		TLSConfig: tlsConfig,
		OnOpen: func(c *eventmode.Conn) {
			c.SetValue(&eventConn{Subprotocol: c.Subprotocol(), Extensions: c.Extensions()})
		},
		OnMessage: func(c *eventmode.Conn, typ wsx.MessageType, msg []byte) {
			if s, ok := strings.CutPrefix(string(msg), "close "); ok && typ == wsx.MessageText {
				code, reason, _ := strings.Cut(s, " ")
				n, _ := strconv.Atoi(code)
				c.Close(wsx.StatusCode(n), reason)
				return
			}
			ec := c.Value().(*eventConn)
			ec.mu.Lock()
			ec.Messages = append(ec.Messages, payload{typ, bytes.Clone(msg)})
			ec.mu.Unlock()
			c.Write(typ, msg)
		},
		OnClose: func(c *eventmode.Conn, err error) {
			ec := c.Value().(*eventConn)
			ec.Err = err
			s.Conns <- ec
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "ws://" + ln.Addr().String() + "/ws"
	if tlsConfig != nil {
		s.URL = "wss://" + ln.Addr().String() + "/ws"
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, eventmode.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// next returns the record of the next connection that ended.
func (s *eventServer) next(t testing.TB) *eventConn {
	t.Helper()
	select {
	case ec := <-s.Conns:
		return ec
	case <-time.After(eventTimeout):
		t.Fatalf("no connection ended within %v", eventTimeout)
	}
	panic("unreachable")
}

// TestEventWS: Node's ws as a client of an event-mode server: echoes of every size and type,
// fragments (one-byte ones, empty ones, cut inside characters, with pings between), closing
// handshakes started by either side, 1006, 1007, 1009, permessage-deflate with ws' default
// offer, and TLS.
func TestEventWS(t *testing.T) {
	t.Run("echo and fragments", func(t *testing.T) {
		srv := newEventServer(t, nil, nil)
		ws, _ := wsClient(t, srv.URL, nil, noDeflate)
		sent := wsSendEchoed(t, ws)
		ws.send(map[string]any{"op": "close", "code": 1000, "reason": "done"})
		if ev := ws.expect("close"); ev.Code != 1000 {
			t.Fatalf("ws saw close %d %q, want 1000 echoed (§5.5.1)", ev.Code, ev.Reason)
		}
		ec := srv.next(t)
		wantClose(t, ec.Err, wsx.StatusNormalClosure, "done")
		wantReceived(t, ec.Messages, sent)
	})
	t.Run("ws closes", func(t *testing.T) {
		srv := newEventServer(t, nil, nil)
		ws := wsClientProc(t)
		for _, tc := range []struct {
			cmd    map[string]any
			code   wsx.StatusCode
			reason string
		}{
			{map[string]any{"op": "close", "code": 1001, "reason": "tab closed"}, 1001, "tab closed"},
			{map[string]any{"op": "close", "code": 4999, "reason": "ünïcode réason"}, 4999, "ünïcode réason"},
			{map[string]any{"op": "close", "code": 3000, "reason": strings.Repeat("r", 123)}, 3000, strings.Repeat("r", 123)},
			{map[string]any{"op": "close"}, wsx.StatusNoStatusReceived, ""},
		} {
			wsConnect(t, ws, srv.URL, nil, noDeflate)
			ws.send(tc.cmd)
			want := int(tc.code)
			if ev := ws.expect("close"); ev.Code != want || ev.Reason != tc.reason {
				t.Errorf("ws saw close %d %q, want %d %q", ev.Code, ev.Reason, want, tc.reason)
			}
			wantClose(t, srv.next(t).Err, tc.code, tc.reason)
		}
	})
	t.Run("event server closes", func(t *testing.T) {
		srv := newEventServer(t, nil, nil)
		ws := wsClientProc(t)
		for _, tc := range []struct {
			code   int
			reason string
		}{{1000, ""}, {1001, "server going away"}, {1011, "internal error"}, {4321, "ünïcode"}} {
			wsConnect(t, ws, srv.URL, nil, noDeflate)
			ws.send(sendCmd(payload{wsx.MessageText, []byte("close " + strconv.Itoa(tc.code) + " " + tc.reason)}))
			if ev := ws.expect("close"); ev.Code != tc.code || ev.Reason != tc.reason {
				t.Errorf("ws saw close %d %q, want %d %q", ev.Code, ev.Reason, tc.code, tc.reason)
			}
			var ce *wsx.CloseError
			if err := srv.next(t).Err; !errors.As(err, &ce) || !ce.Local || int(ce.Code) != tc.code {
				t.Errorf("OnClose(%v), want ws' answer to our Close %d", err, tc.code)
			}
		}
	})
	t.Run("ws drops TCP", func(t *testing.T) {
		srv := newEventServer(t, nil, nil)
		ws, _ := wsClient(t, srv.URL, nil, noDeflate)
		ws.send(map[string]any{"op": "terminate"})
		ws.expect("close")
		if err := srv.next(t).Err; wsx.CloseStatus(err) != wsx.StatusAbnormalClosure || errors.Unwrap(err) == nil {
			t.Errorf("OnClose(%v), want 1006 wrapping the TCP error (§7.1.5)", err)
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		srv := newEventServer(t, nil, nil)
		ws := wsClientProc(t)
		for _, cmd := range []map[string]any{
			{"op": "send", "binary": false, "data": []byte("valid, then \xff")},
			{"op": "send", "binary": false, "data": []byte("\xed\xa0\x80")},
			{"op": "send", "binary": false, "fin": false, "fragments": [][]byte{[]byte("valid ü"), []byte("\xe2\x28\xa1")}},
			{"op": "close", "code": 1000, "reasonBase64": []byte("bad \xff reason")},
		} {
			wsConnect(t, ws, srv.URL, nil, noDeflate)
			ws.send(cmd)
			if ev := ws.expect("close"); ev.Code != 1007 {
				t.Errorf("ws saw close %d %q, want 1007", ev.Code, ev.Reason)
			}
			if ec := srv.next(t); len(ec.Messages) != 0 || wsx.CloseStatus(ec.Err) != wsx.StatusInvalidFramePayloadData {
				t.Errorf("the server received %d messages and ended with %v, want 1007 (§8.1)", len(ec.Messages), ec.Err)
			}
		}
	})
	t.Run("read limit", func(t *testing.T) {
		const limit = 1 << 16
		srv := newEventServer(t, &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: limit}}, nil)
		ws, _ := wsClient(t, srv.URL, nil, noDeflate)
		atLimit := payload{wsx.MessageBinary, makeBinary(limit, 1)}
		ws.send(sendCmd(atLimit))
		wantMessage(t, ws.next(), atLimit)
		ws.send(sendCmd(payload{wsx.MessageBinary, makeBinary(limit+1, 2)}))
		if ev := ws.expect("close"); ev.Code != 1009 {
			t.Fatalf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
		}
		if err := srv.next(t).Err; wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
			t.Errorf("OnClose(%v), want 1009 (§10.4)", err)
		}
		// ws goes on sending 32 MiB + 1 after the failure: the server drains it after its
		// Close instead of resetting the connection, so that ws reads the 1009 (§7.1.7).
		srv2 := newEventServer(t, nil, nil)
		ws2, _ := wsClient(t, srv2.URL, nil, noDeflate)
		ws2.send(map[string]any{"op": "sendZeros", "size": wsx.DefaultReadLimit + 1})
		if ev := ws2.expect("close"); ev.Code != 1009 {
			t.Fatalf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
		}
		srv2.next(t)
	})
	t.Run("permessage-deflate", func(t *testing.T) {
		srv := newEventServer(t, &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}, nil)
		ws, up := wsClient(t, srv.URL, nil, nil) // ws' default offer
		if !strings.HasPrefix(up.Extensions, "permessage-deflate") {
			t.Fatalf("extensions %q", up.Extensions)
		}
		want := deflatePayloads()
		for _, p := range want {
			ws.send(sendCmd(p))
			wantMessage(t, ws.next(), p)
		}
		ws.send(map[string]any{"op": "close", "code": 1000})
		ws.expect("close")
		wantReceived(t, srv.next(t).Messages, want)
	})
	t.Run("TLS", func(t *testing.T) {
		scfg, _ := eventTLS(t)
		srv := newEventServer(t, &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}, scfg)
		ws, _ := wsClient(t, srv.URL, nil, map[string]any{"rejectUnauthorized": false})
		var sent []payload
		for _, p := range payloads() {
			ws.send(sendCmd(p))
			wantMessage(t, ws.next(), p)
			sent = append(sent, p)
		}
		ws.send(map[string]any{"op": "close", "code": 4000, "reason": "tls done"})
		ws.expect("close")
		ec := srv.next(t)
		wantClose(t, ec.Err, 4000, "tls done")
		wantReceived(t, ec.Messages, sent)
	})
}

// eventTLS returns httptest's certificate (127.0.0.1) as a server configuration, and a client
// configuration trusting it.
func eventTLS(t testing.TB) (server, client *tls.Config) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{Certificates: ts.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

// TestEventGorilla: gorilla/websocket as a client of an event-mode server: echoes of every
// size and type sent in fragments, pings, permessage-deflate, the closing handshake, over TLS
// too.
func TestEventGorilla(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run("TLS="+strconv.FormatBool(secure), func(t *testing.T) {
			var scfg, ccfg *tls.Config
			if secure {
				scfg, ccfg = eventTLS(t)
			}
			srv := newEventServer(t, &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}, scfg)
			gc := dialGorilla(t, srv.URL, &websocket.Dialer{TLSClientConfig: ccfg, EnableCompression: true})
			pongs := make(chan string, 1)
			gc.SetPongHandler(func(p string) error { pongs <- p; return nil })
			var sent []payload
			for _, p := range payloads() {
				if err := gorillaWriteChunked(gc, p); err != nil {
					t.Fatal(err)
				}
				gorillaRead(t, gc, p)
				sent = append(sent, p)
			}
			if err := gc.WriteControl(websocket.PingMessage, []byte("gorilla ping"), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			gc.WriteMessage(websocket.TextMessage, []byte("after the ping"))
			gorillaRead(t, gc, payload{wsx.MessageText, []byte("after the ping")})
			if p := <-pongs; p != "gorilla ping" {
				t.Errorf("pong %q", p)
			}
			sent = append(sent, payload{wsx.MessageText, []byte("after the ping")})
			gc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "gorilla done"))
			_, _, err := gc.ReadMessage()
			wantGorillaClose(t, err, 4001, "gorilla done")
			ec := srv.next(t)
			wantClose(t, ec.Err, 4001, "gorilla done")
			wantReceived(t, ec.Messages, sent)
		})
	}
}

// TestEventChromium: Chromium's WebSocket against event-mode servers: the echo page (every
// size and type), the server's closing handshake, 1009, and permessage-deflate with
// Chromium's own offer. The page is served from another port, so the servers allow its
// origin by pattern (§10.2).
func TestEventChromium(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("testdata", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer pages.Close()
	opts := func(c *wsx.CompressionOptions) *wsx.AcceptOptions {
		return &wsx.AcceptOptions{Subprotocols: []string{"wsx.v1", "wsx.v2"}, OriginPatterns: []string{"127.0.0.1:*"},
			Compression: c, ConnOptions: wsx.ConnOptions{ReadLimit: 1 << 20}}
	}
	plain := newEventServer(t, opts(nil), nil)
	deflate := newEventServer(t, opts(&wsx.CompressionOptions{}), nil)
	pageURL := func(test string, to *eventServer) string {
		return pages.URL + "/page?test=" + test + "&ws=" + url.QueryEscape(to.URL+"?t="+test)
	}
	results := runChromium(t, []string{
		pageURL("echo", plain),
		pageURL("serverClose", plain),
		pageURL("tooBig", plain),
		pageURL("echo", deflate),
	})
	checkEcho := func(t *testing.T, r pageResult, ec *eventConn, extensions bool) {
		t.Helper()
		if !r.Opened || r.Protocol != "wsx.v1" || ec.Subprotocol != "wsx.v1" {
			t.Fatalf("opened=%v with subprotocol %q (page) %q (server)", r.Opened, r.Protocol, ec.Subprotocol)
		}
		if extensions != strings.HasPrefix(ec.Extensions, "permessage-deflate") || r.Extensions != ec.Extensions {
			t.Errorf("extensions %q (page) %q (server)", r.Extensions, ec.Extensions)
		}
		if len(r.Messages) == 0 || len(r.Messages) != len(ec.Messages) {
			t.Fatalf("the page exchanged %d messages, the server received %d", len(r.Messages), len(ec.Messages))
		}
		for i, m := range r.Messages {
			got := ec.Messages[i]
			if !m.Equal || m.ReceivedType != m.Type || sha256hex(got.data) != m.Sent || len(got.data) != m.Len {
				t.Errorf("%s-%d: the echo differs, or the server received something else", m.Type, m.Len)
			}
		}
		if r.Close == nil || r.Close.Code != 4000 || !r.Close.WasClean {
			t.Errorf("Chromium saw close %+v, want its 4000 echoed in a clean close", r.Close)
		}
		wantClose(t, ec.Err, 4000, "bye from chromium")
	}
	// Pages run one after another: the records of plain come in that order.
	t.Run("echo", func(t *testing.T) { checkEcho(t, results[0], plain.next(t), false) })
	t.Run("server closes", func(t *testing.T) {
		r, ec := results[1], plain.next(t)
		if r.Close == nil || r.Close.Code != 1001 || r.Close.Reason != "server going away" || !r.Close.WasClean {
			t.Errorf("Chromium saw close %+v, want a clean 1001", r.Close)
		}
		var ce *wsx.CloseError
		if !errors.As(ec.Err, &ce) || !ce.Local {
			t.Errorf("OnClose(%v), want Chromium's answer to our Close", ec.Err)
		}
	})
	t.Run("too big", func(t *testing.T) {
		r, ec := results[2], plain.next(t)
		if r.Close == nil || r.Close.Code != 1009 {
			t.Errorf("Chromium saw close %+v, want 1009", r.Close)
		}
		if wsx.CloseStatus(ec.Err) != wsx.StatusMessageTooBig {
			t.Errorf("OnClose(%v), want 1009", ec.Err)
		}
	})
	t.Run("permessage-deflate", func(t *testing.T) { checkEcho(t, results[3], deflate.next(t), true) })
}
