package interop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// Tests against Node's ws package (node/ws-peer.js): wsx as the server of a ws client and
// as the client of a ws server.

// noDeflate keeps ws from offering or accepting permessage-deflate, for the tests of the
// base protocol; TestWSDeflateOffer covers ws' default offer.
var noDeflate = map[string]any{"perMessageDeflate": false}

// wsClient starts ws as a client of url and waits until the connection is open. up holds
// the subprotocol and extensions of the server's 101 response.
func wsClient(t *testing.T, url string, protocols []string, options map[string]any) (ws *nodeProc, up event) {
	t.Helper()
	ws = wsClientProc(t)
	return ws, wsConnect(t, ws, url, protocols, options)
}

// wsClientProc starts ws as a client without a connection, for wsConnect to open them one
// after another.
func wsClientProc(t *testing.T) *nodeProc {
	t.Helper()
	ws := startNode(t, "ws-peer.js", map[string]any{"mode": "client"})
	ready := ws.expect("ready")
	t.Logf("ws %s on node %s", ready.WS, ready.Node)
	return ws
}

// wsConnect opens a new connection of a ws client, which later commands apply to.
func wsConnect(t *testing.T, ws *nodeProc, url string, protocols []string, options map[string]any) (up event) {
	t.Helper()
	ws.send(map[string]any{"op": "connect", "url": url, "protocols": protocols, "options": options})
	if up = ws.expect("upgrade"); up.Status != 101 {
		t.Fatalf("ws saw status %d", up.Status)
	}
	if open := ws.expect("open"); open.Protocol != up.Protocol {
		t.Fatalf("ws opened with subprotocol %q after a response with %q", open.Protocol, up.Protocol)
	}
	return up
}

// wsServer starts ws as a server, echoing messages back when echo is set, and returns its
// URL.
func wsServer(t *testing.T, protocols []string, options map[string]any, echo bool) (ws *nodeProc, url string) {
	t.Helper()
	ws = startNode(t, "ws-peer.js", map[string]any{"mode": "server", "protocols": protocols, "options": options, "echo": echo})
	ready := ws.expect("ready")
	t.Logf("ws %s on node %s", ready.WS, ready.Node)
	return ws, "ws://127.0.0.1:" + strconv.Itoa(ws.expect("listening").Port) + "/"
}

func sendCmd(p payload) map[string]any {
	return map[string]any{"op": "send", "binary": p.typ == wsx.MessageBinary, "data": p.data}
}

// fragmentsCmd sends p as frames of the given sizes, which must add up to len(p.data).
func fragmentsCmd(p payload, sizes ...int) map[string]any {
	var frags [][]byte
	rest := p.data
	for _, n := range sizes {
		frags = append(frags, rest[:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		panic("fragment sizes do not add up")
	}
	return map[string]any{"op": "send", "binary": p.typ == wsx.MessageBinary, "fragments": frags}
}

// wantMessage checks that ev reports exactly p.
func wantMessage(t testing.TB, ev event, p payload) {
	t.Helper()
	if ev.Ev != "message" {
		t.Fatalf("ws sent %+v, want the message %v", ev, p)
	}
	if ev.Binary != (p.typ == wsx.MessageBinary) || ev.Len != len(p.data) || ev.SHA256 != sha256hex(p.data) {
		t.Fatalf("ws received binary=%v len=%d sha256=%s, want %v with sha256 %s", ev.Binary, ev.Len, ev.SHA256, p, sha256hex(p.data))
	}
}

// wantReceived checks that a wsx server received exactly want, in order.
func wantReceived(t testing.TB, got, want []payload) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("wsx received %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].typ != want[i].typ || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("message %d: wsx received %v, want %v", i, got[i], want[i])
		}
	}
}

// TestWSClientEcho: a ws client sends every size and type, whole and fragmented (§5.4),
// to a wsx echo server and gets each message back unchanged.
func TestWSClientEcho(t *testing.T) {
	srv := newWSXServer(t, nil, nil, echo)
	ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
	sent := wsSendEchoed(t, ws)

	ws.send(map[string]any{"op": "close", "code": 1000, "reason": "done"})
	if ev := ws.expect("close"); ev.Code != 1000 {
		t.Fatalf("ws saw close %d %q, want 1000 echoed (§5.5.1)", ev.Code, ev.Reason)
	}
	sc := srv.next(t)
	wantClose(t, sc.Err, wsx.StatusNormalClosure, "done")
	wantReceived(t, sc.Messages, sent)
}

// wsSendEchoed has a ws client send messages of every size and type, whole and in fragments
// (cut inside characters, empty, one byte each, with pings between), and checks that each
// comes back whole; it returns them, in order.
func wsSendEchoed(t *testing.T, ws *nodeProc) []payload {
	t.Helper()
	var sent []payload
	for _, p := range payloads() {
		ws.send(sendCmd(p))
		wantMessage(t, ws.next(), p)
		sent = append(sent, p)
	}

	// Text split inside multi-byte characters: wsx validates UTF-8 across fragments (§8.1).
	text := payload{wsx.MessageText, makeText(40)}
	ws.send(fragmentsCmd(text, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4))
	wantMessage(t, ws.next(), text)
	// Empty fragments, a 16-bit and a 64-bit... length in the middle (§5.2).
	bin := payload{wsx.MessageBinary, makeBinary(70001, 7)}
	ws.send(fragmentsCmd(bin, 0, 70000, 0, 1))
	wantMessage(t, ws.next(), bin)
	// Many one-byte fragments.
	many := payload{wsx.MessageBinary, makeBinary(2000, 8)}
	ones := make([]int, len(many.data))
	for i := range ones {
		ones[i] = 1
	}
	ws.send(fragmentsCmd(many, ones...))
	wantMessage(t, ws.next(), many)
	// Pings between the fragments are answered at once, before the message ends (§5.4, §5.5.2).
	pinged := payload{wsx.MessageText, makeText(1000)}
	cmd := fragmentsCmd(pinged, 100, 400, 400, 100)
	cmd["pingBetween"] = []byte("between")
	ws.send(cmd)
	for range 3 {
		if ev := ws.expect("pong"); string(ev.Data) != "between" {
			t.Fatalf("pong carried %q, want the ping's payload %q (§5.5.3)", ev.Data, "between")
		}
	}
	wantMessage(t, ws.next(), pinged)
	return append(sent, text, bin, many, pinged)

}

// TestWSServerEcho: a wsx client sends every size and type, whole and through Writer in
// fragments, to a ws echo server and reads each message back unchanged.
func TestWSServerEcho(t *testing.T) {
	ctx := context.Background()
	ws, url := wsServer(t, nil, noDeflate, true)
	var tp tap
	c, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{NetDialContext: tp.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ws.expect("connection")

	for _, p := range payloads() {
		if err := c.Write(ctx, p.typ, p.data); err != nil {
			t.Fatalf("writing %v: %v", p, err)
		}
		wantMessage(t, ws.next(), p)
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the echo of %v: %v", p, err)
		}
		if typ != p.typ || !bytes.Equal(got, p.data) {
			t.Fatalf("echo of %v came back as %v", p, payload{typ, got})
		}
	}

	// Writer: chunks of 7 bytes cut through multi-byte characters, and the message spans
	// several write buffers, so it goes out in fragments (§5.4).
	for _, p := range []payload{{wsx.MessageText, makeText(100_000)}, {wsx.MessageBinary, makeBinary(100_000, 9)}} {
		tp.reset()
		w, err := c.Writer(ctx, p.typ)
		if err != nil {
			t.Fatal(err)
		}
		for rest := p.data; len(rest) > 0; {
			n := min(7, len(rest))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatalf("writing %v: %v", p, err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wantMessage(t, ws.next(), p)
		op := frame.OpText
		if p.typ == wsx.MessageBinary {
			op = frame.OpBinary
		}
		checkFragmented(t, tp.frames(t, true), op)
		_, r, err := c.Reader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("echo of %v: %d bytes, equal %v, error %v", p, len(got), bytes.Equal(got, p.data), err)
		}
	}

	if err := c.Close(wsx.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("closing handshake with ws: %v", err)
	}
	if ev := ws.expect("close"); ev.Code != 1000 || ev.Reason != "bye" {
		t.Fatalf("ws saw close %d %q, want 1000 \"bye\"", ev.Code, ev.Reason)
	}
}

// TestWSSubprotocol: the server's preference decides (§1.9, §4.2.2), whichever side wsx is.
func TestWSSubprotocol(t *testing.T) {
	t.Run("wsx server", func(t *testing.T) {
		srv := newWSXServer(t, &wsx.AcceptOptions{Subprotocols: []string{"wsx.v2", "wsx.v1"}}, nil, func(ctx context.Context, sc *serverConn) error {
			// Tell the client what was agreed, then wait for its Close.
			if err := sc.Conn.Write(ctx, wsx.MessageText, []byte(sc.Conn.Subprotocol())); err != nil {
				return err
			}
			return echo(ctx, sc)
		})
		ws := wsClientProc(t)
		for _, tc := range []struct {
			offer []string
			want  string
		}{
			{[]string{"wsx.v1", "wsx.v2"}, "wsx.v2"},
			{[]string{"other", "wsx.v1"}, "wsx.v1"},
		} {
			up := wsConnect(t, ws, srv.WSURL(), tc.offer, noDeflate)
			if up.Protocol != tc.want {
				t.Errorf("offer %q: ws agreed on %q, want %q", tc.offer, up.Protocol, tc.want)
			}
			wantMessage(t, ws.next(), payload{wsx.MessageText, []byte(tc.want)})
			ws.send(map[string]any{"op": "close", "code": 1000})
			ws.expect("close")
			wantClose(t, srv.next(t).Err, wsx.StatusNormalClosure, "")
		}
		// When the server speaks none of the offered subprotocols, wsx answers without
		// Sec-WebSocket-Protocol (§4.2.2 /subprotocol/) and leaves the decision to the
		// client; ws then fails the connection by its own policy.
		ws.send(map[string]any{"op": "connect", "url": srv.WSURL(), "protocols": []string{"other"}, "options": noDeflate})
		if up := ws.expect("upgrade"); up.Status != 101 || up.Protocol != "" {
			t.Errorf("wsx answered an offer it cannot take with status %d and subprotocol %q, want 101 and none", up.Status, up.Protocol)
		}
		if ev := ws.expect("error"); ev.Message != "Server sent no subprotocol" {
			t.Errorf("ws failed with %q", ev.Message)
		}
		ws.expect("close")
		if err := srv.next(t).Err; wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
			t.Errorf("wsx read ended with %v, want 1006 after ws dropped the connection", err)
		}
	})
	t.Run("wsx client", func(t *testing.T) {
		ctx := context.Background()
		for _, tc := range []struct {
			server []string
			want   string
		}{
			{[]string{"b.v2", "a.v1"}, "b.v2"},
			{[]string{"zzz", "a.v1"}, "a.v1"},
			{[]string{"zzz"}, ""},
		} {
			ws, url := wsServer(t, tc.server, noDeflate, true)
			c, resp, err := wsx.Dial(ctx, url, &wsx.DialOptions{Subprotocols: []string{"a.v1", "b.v2"}})
			if err != nil {
				t.Fatal(err)
			}
			ev := ws.expect("connection")
			if ev.OfferedProtocols != "a.v1, b.v2" {
				t.Errorf("wsx offered %q, want %q", ev.OfferedProtocols, "a.v1, b.v2")
			}
			if c.Subprotocol() != tc.want || ev.Protocol != tc.want {
				t.Errorf("server preference %q: wsx agreed on %q, ws on %q, want %q (response: %q)", tc.server, c.Subprotocol(), ev.Protocol, tc.want, resp.Header.Values("Sec-WebSocket-Protocol"))
			}
			if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
			ws.expect("close")
		}
	})
}

// TestWSPing: pings are answered with a pong carrying the same payload (§5.5.2, §5.5.3),
// both ways and with wsx on either side.
func TestWSPing(t *testing.T) {
	ctx := context.Background()
	t.Run("wsx server", func(t *testing.T) {
		accepted := make(chan *wsx.Conn, 1)
		srv := newWSXServer(t, nil, nil, func(ctx context.Context, sc *serverConn) error {
			accepted <- sc.Conn
			return echo(ctx, sc)
		})
		ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
		c := <-accepted
		ws.send(map[string]any{"op": "ping", "data": []byte("from ws")})
		if ev := ws.expect("pong"); string(ev.Data) != "from ws" {
			t.Fatalf("pong carried %q, want %q", ev.Data, "from ws")
		}
		ws.send(map[string]any{"op": "ping", "data": []byte{}})
		if ev := ws.expect("pong"); len(ev.Data) != 0 {
			t.Fatalf("pong to an empty ping carried %q", ev.Data)
		}
		full := makeBinary(125, 125) // the largest control payload (§5.5)
		ws.send(map[string]any{"op": "ping", "data": full})
		if ev := ws.expect("pong"); !bytes.Equal(ev.Data, full) {
			t.Fatalf("pong to a 125-byte ping carried %d bytes, not the ping's", len(ev.Data))
		}
		// wsx's Ping returns when ws' automatic pong arrives (the echo loop is reading).
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		ws.expect("ping")
		ws.send(map[string]any{"op": "close", "code": 1000})
		ws.expect("close")
		wantClose(t, srv.next(t).Err, wsx.StatusNormalClosure, "")
	})
	t.Run("wsx client", func(t *testing.T) {
		ws, url := wsServer(t, nil, noDeflate, true)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ws.expect("connection")
		readErr := make(chan error, 1)
		go func() {
			_, _, err := c.Read(ctx)
			readErr <- err
		}()
		ws.send(map[string]any{"op": "ping", "data": []byte("from ws server")})
		if ev := ws.expect("pong"); string(ev.Data) != "from ws server" {
			t.Fatalf("pong carried %q", ev.Data)
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		ws.expect("ping")
		ws.send(map[string]any{"op": "close", "code": 4000, "reason": "done pinging"})
		wantClose(t, <-readErr, 4000, "done pinging")
		if ev := ws.expect("close"); ev.Code != 4000 {
			t.Fatalf("ws saw close %d, want its 4000 echoed", ev.Code)
		}
	})
}

// TestWSClose: the closing handshake started by either side, with wsx as server and as
// client; both sides see the code and reason (§5.5.1, §7.1.2, §7.4).
func TestWSClose(t *testing.T) {
	ctx := context.Background()
	// closeOnRequest closes with the code and reason of a message "close <code> <reason>".
	closeOnRequest := func(ctx context.Context, sc *serverConn) error {
		_, msg, err := sc.Conn.Read(ctx)
		if err != nil {
			return err
		}
		code, reason, _ := strings.Cut(strings.TrimPrefix(string(msg), "close "), " ")
		n, err := strconv.Atoi(code)
		if err != nil {
			return err
		}
		return sc.Conn.Close(wsx.StatusCode(n), reason)
	}
	t.Run("ws client closes", func(t *testing.T) {
		srv := newWSXServer(t, nil, nil, echo)
		ws := wsClientProc(t)
		for _, tc := range []struct {
			cmd        map[string]any
			code       wsx.StatusCode
			reason     string
			wsSeesCode int
		}{
			{map[string]any{"op": "close", "code": 1000, "reason": "normal"}, 1000, "normal", 1000},
			{map[string]any{"op": "close", "code": 1001, "reason": "tab closed"}, 1001, "tab closed", 1001},
			{map[string]any{"op": "close", "code": 4999, "reason": "ünïcode réason"}, 4999, "ünïcode réason", 4999},
			{map[string]any{"op": "close", "code": 3000, "reason": strings.Repeat("r", 123)}, 3000, strings.Repeat("r", 123), 3000},
			// An empty Close frame: wsx reports 1005 and answers with an empty Close (§7.1.5).
			{map[string]any{"op": "close"}, wsx.StatusNoStatusReceived, "", 1005},
		} {
			wsConnect(t, ws, srv.WSURL(), nil, noDeflate)
			ws.send(tc.cmd)
			if ev := ws.expect("close"); ev.Code != tc.wsSeesCode {
				t.Errorf("ws saw close %d %q, want %d", ev.Code, ev.Reason, tc.wsSeesCode)
			}
			wantClose(t, srv.next(t).Err, tc.code, tc.reason)
		}
	})
	t.Run("wsx server closes", func(t *testing.T) {
		srv := newWSXServer(t, nil, nil, closeOnRequest)
		ws := wsClientProc(t)
		for _, tc := range []struct {
			code   int
			reason string
		}{{1000, ""}, {1001, "server going away"}, {1011, "internal error"}, {4321, "ünïcode"}} {
			wsConnect(t, ws, srv.WSURL(), nil, noDeflate)
			ws.send(sendCmd(payload{wsx.MessageText, []byte("close " + strconv.Itoa(tc.code) + " " + tc.reason)}))
			if ev := ws.expect("close"); ev.Code != tc.code || ev.Reason != tc.reason {
				t.Errorf("ws saw close %d %q, want %d %q", ev.Code, ev.Reason, tc.code, tc.reason)
			}
			if err := srv.next(t).Err; err != nil {
				t.Errorf("wsx Close(%d): %v, want a completed handshake", tc.code, err)
			}
		}
	})
	t.Run("wsx client closes", func(t *testing.T) {
		ws, url := wsServer(t, nil, noDeflate, true)
		for _, tc := range []struct {
			code   wsx.StatusCode
			reason string
		}{{1000, "client done"}, {1001, ""}, {4000, "ünïcode"}} {
			c, _, err := wsx.Dial(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			ws.expect("connection")
			// Close waits for ws' Close and for ws to close TCP first (§7.1.1).
			if err := c.Close(tc.code, tc.reason); err != nil {
				t.Errorf("Close(%v): %v", tc.code, err)
			}
			if ev := ws.expect("close"); ev.Code != int(tc.code) || ev.Reason != tc.reason {
				t.Errorf("ws saw close %d %q, want %d %q", ev.Code, ev.Reason, tc.code, tc.reason)
			}
		}
	})
	t.Run("ws client drops TCP", func(t *testing.T) {
		srv := newWSXServer(t, nil, nil, echo)
		ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
		ws.send(map[string]any{"op": "terminate"})
		ws.expect("close")
		// No Close frame: wsx reports 1006 (§7.1.5) with what ended the connection.
		if err := srv.next(t).Err; wsx.CloseStatus(err) != wsx.StatusAbnormalClosure || errors.Unwrap(err) == nil {
			t.Errorf("read ended with %v, want 1006 wrapping the TCP error", err)
		}
	})
	t.Run("ws server closes", func(t *testing.T) {
		ws, url := wsServer(t, nil, noDeflate, true)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ws.expect("connection")
		ws.send(map[string]any{"op": "close", "code": 4002, "reason": "server done"})
		_, _, err = c.Read(ctx)
		wantClose(t, err, 4002, "server done")
		if ev := ws.expect("close"); ev.Code != 4002 {
			t.Errorf("ws saw close %d, want its 4002 echoed", ev.Code)
		}
		if err := c.Close(wsx.StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close after the peer's close: %v, want net.ErrClosed", err)
		}
	})
}

// TestWSReadLimit: a message over the limit fails the connection with 1009 (§7.4.1, §10.4),
// with wsx on either side.
func TestWSReadLimit(t *testing.T) {
	const limit = 1 << 16
	t.Run("wsx server", func(t *testing.T) {
		srv := newWSXServer(t, &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: limit}}, nil, echo)
		ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
		atLimit := payload{wsx.MessageBinary, makeBinary(limit, 1)}
		ws.send(sendCmd(atLimit))
		wantMessage(t, ws.next(), atLimit)
		ws.send(sendCmd(payload{wsx.MessageBinary, makeBinary(limit+1, 2)}))
		if ev := ws.expect("close"); ev.Code != 1009 {
			t.Fatalf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
		}
		var pe *wsx.ProtocolError
		if sc := srv.next(t); !errors.As(sc.Err, &pe) || pe.Code != wsx.StatusMessageTooBig {
			t.Errorf("wsx read ended with %v, want its own failure with 1009", sc.Err)
		}
	})
	// §7.1.7: ws goes on sending a 32 MiB + 1 message after wsx failed the connection at its
	// header; wsx drains it after its Close instead of resetting the connection, so that ws reads
	// the 1009 (it saw 1006 when the socket was closed under its data).
	t.Run("wsx server, peer still sending", func(t *testing.T) {
		srv := newWSXServer(t, nil, nil, echo)
		ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
		ws.send(map[string]any{"op": "sendZeros", "size": wsx.DefaultReadLimit + 1})
		if ev := ws.expect("close"); ev.Code != 1009 {
			t.Fatalf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
		}
		var pe *wsx.ProtocolError
		if sc := srv.next(t); !errors.As(sc.Err, &pe) || pe.Code != wsx.StatusMessageTooBig {
			t.Errorf("wsx read ended with %v, want its own failure with 1009", sc.Err)
		}
	})
	t.Run("wsx client", func(t *testing.T) {
		ctx := context.Background()
		ws, url := wsServer(t, nil, map[string]any{"perMessageDeflate": false, "maxPayload": limit}, true)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ws.expect("connection")
		if err := c.Write(ctx, wsx.MessageBinary, makeBinary(limit+1, 3)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(ctx)
		if wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
			t.Fatalf("read after an oversized write: %v, want ws' close 1009", err)
		}
		ws.expect("error") // ws reports the oversized message
		ws.expect("close")
	})
}

// TestWSInvalidUTF8: text that is not UTF-8 fails the connection with 1007 (§8.1), as soon as
// the invalid bytes arrive, even in the middle of a fragmented message; so does a close
// reason that is not UTF-8 (§5.5.1).
func TestWSInvalidUTF8(t *testing.T) {
	srv := newWSXServer(t, nil, nil, echo)
	ws := wsClientProc(t)
	for _, tc := range []struct {
		name string
		cmd  map[string]any
	}{
		{"whole message", map[string]any{"op": "send", "binary": false, "data": []byte("valid, then \xff")}},
		{"overlong encoding", map[string]any{"op": "send", "binary": false, "data": []byte("\xc0\xaf")}},
		{"surrogate", map[string]any{"op": "send", "binary": false, "data": []byte("\xed\xa0\x80")}},
		// The message never ends: wsx must not wait for its last fragment.
		{"unfinished fragmented message", map[string]any{"op": "send", "binary": false, "fin": false,
			"fragments": [][]byte{[]byte("valid ü"), []byte("\xe2\x28\xa1")}}},
		{"close reason", map[string]any{"op": "close", "code": 1000, "reasonBase64": []byte("bad \xff reason")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer ws.in(t)()
			wsConnect(t, ws, srv.WSURL(), nil, noDeflate)
			ws.send(tc.cmd)
			if ev := ws.expect("close"); ev.Code != 1007 {
				t.Errorf("ws saw close %d %q, want 1007", ev.Code, ev.Reason)
			}
			if sc := srv.next(t); len(sc.Messages) != 0 || !strings.Contains(sc.Err.Error(), "1007") {
				t.Errorf("wsx received %d messages and ended with %v, want a failure with 1007", len(sc.Messages), sc.Err)
			}
		})
	}
	t.Run("from a ws server", func(t *testing.T) {
		ctx := context.Background()
		ws, url := wsServer(t, nil, noDeflate, false)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ws.expect("connection")
		ws.send(map[string]any{"op": "send", "binary": false, "data": []byte("\xf8\x88\x80\x80\x80")})
		if _, _, err := c.Read(ctx); err == nil || !strings.Contains(err.Error(), "1007") {
			t.Errorf("read of invalid text: %v, want a failure with 1007", err)
		}
		if ev := ws.expect("close"); ev.Code != 1007 {
			t.Errorf("ws saw close %d %q, want 1007", ev.Code, ev.Reason)
		}
	})
}

// TestWSDeflateOffer: ws offers permessage-deflate by default ("permessage-deflate;
// client_max_window_bits", RFC 7692). Whatever wsx answers, both sides agree on it and
// messages flow.
func TestWSDeflateOffer(t *testing.T) {
	accepted := make(chan *wsx.Conn, 1)
	srv := newWSXServer(t, nil, nil, func(ctx context.Context, sc *serverConn) error {
		accepted <- sc.Conn
		return echo(ctx, sc)
	})
	ws, up := wsClient(t, srv.WSURL(), nil, nil)
	c := <-accepted
	if got := c.Extensions(); got != up.Extensions {
		t.Fatalf("wsx agreed on extensions %q, its response said %q", got, up.Extensions)
	}
	t.Logf("ws offered its default permessage-deflate; wsx answered %q", up.Extensions)
	for _, p := range []payload{{wsx.MessageText, makeText(100_000)}, {wsx.MessageBinary, makeBinary(1000, 4)}} {
		ws.send(sendCmd(p))
		wantMessage(t, ws.next(), p)
	}
	ws.send(map[string]any{"op": "close", "code": 1000})
	ws.expect("close")
	wantClose(t, srv.next(t).Err, wsx.StatusNormalClosure, "")
}

// TestWSConcurrentWrites: many goroutines write to one wsx connection at once, whole messages
// and streamed ones in fragments; ws, which fails the connection at any framing error, must
// receive every message intact (§5.4: fragments of different messages never interleave).
func TestWSConcurrentWrites(t *testing.T) {
	const writers, each = 8, 12
	want := make(map[string]int) // sha256 -> count
	msg := func(w, i int) payload {
		size := []int{0, 10, 125, 126, 5000, 65536, 70_000}[(w+i)%7]
		if (w+i)%2 == 0 {
			return payload{wsx.MessageText, makeText(size)}
		}
		return payload{wsx.MessageBinary, makeBinary(size, uint64(w*1000+i))}
	}
	for w := range writers {
		for i := range each {
			want[sha256hex(msg(w, i).data)]++
		}
	}
	srv := newWSXServer(t, nil, nil, func(ctx context.Context, sc *serverConn) error {
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					p := msg(w, i)
					var err error
					if i%3 == 0 { // streamed, in 1000-byte writes
						var wr io.WriteCloser
						if wr, err = sc.Conn.Writer(ctx, p.typ); err == nil {
							for rest := p.data; len(rest) > 0 && err == nil; rest = rest[min(1000, len(rest)):] {
								_, err = wr.Write(rest[:min(1000, len(rest))])
							}
							if err == nil {
								err = wr.Close()
							}
						}
					} else {
						err = sc.Conn.Write(ctx, p.typ, p.data)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		_, _, err := sc.Conn.Read(ctx) // until ws closes
		return err
	})
	ws, _ := wsClient(t, srv.WSURL(), nil, noDeflate)
	for range writers * each {
		ev := ws.expect("message")
		if want[ev.SHA256] == 0 {
			t.Fatalf("ws received a message of %d bytes that no writer sent", ev.Len)
		}
		want[ev.SHA256]--
	}
	ws.send(map[string]any{"op": "close", "code": 1000})
	ws.expect("close")
	wantClose(t, srv.next(t).Err, wsx.StatusNormalClosure, "")
}
