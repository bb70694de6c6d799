package interop

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wsx-go/wsx"
)

// checkClientFrames checks both directions of a wsx client's compressed connection, tapped by
// tp, against what was agreed: both carried want, inflated within the agreed windows.
func checkClientFrames(t *testing.T, tp *tap, p deflateParams, opts *wsx.CompressionOptions, want []payload) {
	t.Helper()
	sent, received := tp.frames(t, true), tp.frames(t, false)
	checkCompressed(t, sent, "wsx")
	checkCompressed(t, received, "the server")
	wantReceived(t, messages(t, sent, windowBits(opts, p.clientBits), !p.clientNoCT), want)
	wantReceived(t, messages(t, received, p.serverBits, !p.serverNoCT), want)
}

// echoAll writes every message of want and reads its echo.
func echoAll(t *testing.T, c *wsx.Conn, want []payload, peer *nodeProc) {
	t.Helper()
	ctx := context.Background()
	for _, p := range want {
		if err := c.Write(ctx, p.typ, p.data); err != nil {
			t.Fatalf("writing %v: %v", p, err)
		}
		if peer != nil {
			wantMessage(t, peer.next(), p)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the echo of %v: %v", p, err)
		}
		if typ != p.typ || !bytes.Equal(got, p.data) {
			t.Fatalf("echo of %v came back as %v", p, payload{typ, got})
		}
	}
}

// TestWSDeflateClient: wsx clients with every CompressionOptions setting against ws servers
// with every permessage-deflate parameter (RFC 7692 §7.1).
func TestWSDeflateClient(t *testing.T) {
	type tc struct {
		name   string
		server map[string]any // ws' perMessageDeflate server options
		opts   wsx.CompressionOptions
		check  func(t *testing.T, p deflateParams)
	}
	var cases []tc
	for b := 9; b <= 15; b++ {
		cases = append(cases, tc{
			// ws refuses (400) an offer whose client_max_window_bits is below its own
			// setting, so wsx offers b: WindowBits b.
			name:   fmt.Sprintf("ws asks client_max_window_bits=%d", b),
			server: map[string]any{"clientMaxWindowBits": b},
			opts:   wsx.CompressionOptions{WindowBits: b},
		}, tc{
			// ws answers 9 to an offer of 14: wsx must stay within 9 (§7.1.2.2).
			name:   fmt.Sprintf("ws lowers client_max_window_bits to %d", b),
			server: map[string]any{"clientMaxWindowBits": b},
			opts:   wsx.CompressionOptions{WindowBits: 15},
			check: func(t *testing.T, p deflateParams) {
				if p.clientBits != b {
					t.Errorf("ws answered client_max_window_bits=%d, want %d", p.clientBits, b)
				}
			},
		}, tc{
			name:   fmt.Sprintf("ws uses server_max_window_bits=%d", b),
			server: map[string]any{"serverMaxWindowBits": b},
		}, tc{
			name: fmt.Sprintf("wsx PeerWindowBits %d", b),
			opts: wsx.CompressionOptions{PeerWindowBits: b},
			check: func(t *testing.T, p deflateParams) {
				if p.serverBits > b {
					t.Errorf("wsx offered server_max_window_bits=%d, the response allows ws %d (§7.1.2.1)", b, p.serverBits)
				}
			},
		})
	}
	for b := 8; b <= 15; b++ {
		cases = append(cases, tc{name: fmt.Sprintf("wsx WindowBits %d", b), opts: wsx.CompressionOptions{WindowBits: b}})
	}
	cases = append(cases,
		tc{name: "server_no_context_takeover from ws", server: map[string]any{"serverNoContextTakeover": true}},
		tc{name: "client_no_context_takeover from ws", server: map[string]any{"clientNoContextTakeover": true}},
		tc{name: "NoContextTakeover from wsx", opts: wsx.CompressionOptions{NoContextTakeover: true}},
		tc{name: "PeerNoContextTakeover from wsx", opts: wsx.CompressionOptions{PeerNoContextTakeover: true},
			check: func(t *testing.T, p deflateParams) {
				if !p.serverNoCT {
					t.Errorf("wsx asked for server_no_context_takeover; the response lacks it")
				}
			}},
		tc{name: "everything at once",
			server: map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true, "serverMaxWindowBits": 11, "clientMaxWindowBits": 9},
			opts:   wsx.CompressionOptions{Level: 1, WindowBits: 10, PeerWindowBits: 12, Threshold: -1}},
	)

	ctx := context.Background()
	want := deflatePayloads()
	ws := startNode(t, "ws-peer.js", map[string]any{"mode": "client"}) // serves through "listen"
	ws.expect("ready")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer ws.in(t)()
			server := map[string]any{"threshold": 0}
			for k, v := range c.server {
				server[k] = v
			}
			ws.send(map[string]any{"op": "listen", "echo": true, "options": map[string]any{"perMessageDeflate": server}})
			url := "ws://127.0.0.1:" + strconv.Itoa(ws.expect("listening").Port) + "/"
			var tp tap
			opts := c.opts
			conn, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{Compression: &opts, NetDialContext: tp.dial})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			ev := ws.expect("connection")
			t.Logf("offer %q, response %q", ev.OfferedExtensions, ev.Extensions)
			if conn.Extensions() != ev.Extensions {
				t.Fatalf("wsx agreed on %q, ws answered %q", conn.Extensions(), ev.Extensions)
			}
			echoAll(t, conn, want, ws)
			if err := conn.Close(wsx.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
			ws.expect("close")
			p := parseDeflate(t, ev.Extensions)
			if c.check != nil {
				c.check(t, p)
			}
			checkClientFrames(t, &tp, p, &opts, want)
		})
	}
}

// TestGorillaDeflateClient: wsx clients against a gorilla server with compression, which
// answers every offer with "server_no_context_takeover; client_no_context_takeover" and no
// window parameter: wsx accepts it whatever it offered, since the answer only restricts.
func TestGorillaDeflateClient(t *testing.T) {
	ctx := context.Background()
	url, records := newGorillaServer(t, &websocket.Upgrader{EnableCompression: true}, 0)
	for _, opts := range []wsx.CompressionOptions{
		{Threshold: -1},
		{WindowBits: 9},
		{PeerWindowBits: 10},
		{NoContextTakeover: true, PeerNoContextTakeover: true, Level: 9},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			var tp tap
			c, resp, err := wsx.Dial(ctx, url, &wsx.DialOptions{Compression: &opts, NetDialContext: tp.dial})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			t.Logf("wsx offered %q, gorilla answered %q", resp.Request.Header.Get("Sec-WebSocket-Extensions"), ext)
			want := deflatePayloads()
			echoAll(t, c, want, nil)
			if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
			wantReceived(t, nextGorilla(t, records).Messages, want)
			checkClientFrames(t, &tp, parseDeflate(t, ext), &opts, want)
		})
	}
}

// TestWSDeflateClientReadLimit: a wsx client's read limit applies to the inflated size: a
// 4 MiB message from a ws server that compresses to a few KiB fails with 1009.
func TestWSDeflateClientReadLimit(t *testing.T) {
	const limit = 1 << 20
	ctx := context.Background()
	ws, url := wsServer(t, nil, map[string]any{"perMessageDeflate": map[string]any{"threshold": 0}}, false)
	c, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{Compression: &wsx.CompressionOptions{}, ConnOptions: wsx.ConnOptions{ReadLimit: limit}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ev := ws.expect("connection"); ev.Extensions == "" {
		t.Fatal("ws did not agree on permessage-deflate")
	}
	ws.send(sendCmd(payload{wsx.MessageBinary, make([]byte, limit)}))
	if _, msg, err := c.Read(ctx); err != nil || len(msg) != limit {
		t.Fatalf("read of a message at the limit: %d bytes, %v", len(msg), err)
	}
	ws.send(sendCmd(payload{wsx.MessageBinary, make([]byte, 4*limit)}))
	if _, _, err := c.Read(ctx); err == nil || !strings.Contains(err.Error(), "1009") {
		t.Errorf("read of a message inflating past the limit: %v, want a failure with 1009", err)
	}
	if ev := ws.expect("close"); ev.Code != 1009 {
		t.Errorf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
	}
}
