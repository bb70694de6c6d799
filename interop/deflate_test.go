package interop

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/header"
)

// permessage-deflate (RFC 7692) against Node's ws and gorilla/websocket. Every test taps the
// wsx side's connection and inflates both directions' frames with a decompressor that
// refuses back-references beyond the window the sender agreed to (§7.1.2) and, without
// context takeover, references to earlier messages (§7.1.1): the peers' inflaters accept
// more than was agreed, so a round trip alone would not show a violation.

// deflatePayloads are messages that show what a compressor does: the same block twice (a
// compressor with context takeover refers back to the first), blocks repeated at distances
// just over every window size from 2^8 to 2^14 bytes (no DEFLATE distance exceeds 2^15),
// compressible text, random bytes, and messages under compression thresholds.
func deflatePayloads() []payload {
	blk := makeBinary(10_000, 42)
	var rep []byte
	for _, n := range []int{300, 600, 1100, 2100, 4200, 8300, 16500} {
		b := makeBinary(n, uint64(n))
		rep = append(append(rep, b...), b...)
	}
	return []payload{
		{wsx.MessageBinary, blk},
		{wsx.MessageBinary, blk},
		{wsx.MessageBinary, rep},
		{wsx.MessageText, makeText(20_000)},
		{wsx.MessageBinary, makeBinary(20_000, 43)},
		{wsx.MessageText, makeText(50)},
		{wsx.MessageText, nil},
	}
}

// deflateParams are the parameters of a permessage-deflate response (RFC 7692 §7.1).
type deflateParams struct {
	serverBits, clientBits int // 15 when absent (§7.1.2.1, §7.1.2.2)
	serverNoCT, clientNoCT bool
	has                    map[string]bool
}

func parseDeflate(t testing.TB, value string) deflateParams {
	t.Helper()
	exts, err := header.ParseExtensions([]string{value})
	if err != nil || len(exts) != 1 || exts[0].Name != "permessage-deflate" {
		t.Fatalf("agreed extensions %q, want permessage-deflate alone (%v)", value, err)
	}
	p := deflateParams{serverBits: 15, clientBits: 15, has: map[string]bool{}}
	for _, prm := range exts[0].Params {
		p.has[prm.Name] = true
		bits := func() int {
			n, err := strconv.Atoi(prm.Value)
			if err != nil || n < 8 || n > 15 {
				t.Fatalf("%s=%q in %q is not 8-15 (§7.1.2)", prm.Name, prm.Value, value)
			}
			return n
		}
		switch prm.Name {
		case "server_no_context_takeover":
			p.serverNoCT = true
		case "client_no_context_takeover":
			p.clientNoCT = true
		case "server_max_window_bits":
			p.serverBits = bits()
		case "client_max_window_bits":
			p.clientBits = bits()
		default:
			t.Fatalf("unknown parameter %q in %q", prm.Name, value)
		}
	}
	return p
}

// windowBits is the window wsx compresses within with opts when the peer allows up to
// allowed bits: CompressionOptions.WindowBits, 14 by default, never more than allowed.
func windowBits(opts *wsx.CompressionOptions, allowed int) int {
	bits := 14
	if opts.WindowBits != 0 {
		bits = opts.WindowBits
	}
	return min(bits, allowed)
}

// checkServerFrames checks both directions of a wsx server's compressed connection, tapped by
// tp, against what was agreed: both carried want, inflated within the agreed windows.
func checkServerFrames(t *testing.T, tp *tap, p deflateParams, opts *wsx.CompressionOptions, want []payload) {
	t.Helper()
	sent, received := tp.frames(t, true), tp.frames(t, false)
	checkCompressed(t, sent, "wsx")
	checkCompressed(t, received, "the client")
	wantReceived(t, messages(t, sent, windowBits(opts, p.serverBits), !p.serverNoCT), want)
	wantReceived(t, messages(t, received, p.clientBits, !p.clientNoCT), want)
}

// TestWSDeflate: ws clients with every permessage-deflate offer parameter, against wsx
// servers with every CompressionOptions setting (RFC 7692 §7.1).
func TestWSDeflate(t *testing.T) {
	type tc struct {
		name  string
		offer map[string]any // ws' perMessageDeflate client options
		opts  wsx.CompressionOptions
		check func(t *testing.T, p deflateParams)
	}
	var cases []tc
	for b := 9; b <= 15; b++ { // ws (zlib) offers 9-15
		cases = append(cases, tc{
			name:  fmt.Sprintf("ws offers server_max_window_bits=%d", b),
			offer: map[string]any{"serverMaxWindowBits": b, "clientMaxWindowBits": b},
			check: func(t *testing.T, p deflateParams) {
				// §7.1.2.1: a server that accepts the offer answers with at most b.
				if !p.has["server_max_window_bits"] || p.serverBits > b {
					t.Errorf("server_max_window_bits=%d offered, response has %d (present %v)", b, p.serverBits, p.has["server_max_window_bits"])
				}
			},
		})
	}
	for b := 8; b <= 15; b++ {
		cases = append(cases, tc{
			name: fmt.Sprintf("wsx WindowBits %d", b),
			opts: wsx.CompressionOptions{WindowBits: b},
		})
	}
	for b := 9; b <= 15; b++ {
		cases = append(cases, tc{
			name: fmt.Sprintf("wsx PeerWindowBits %d", b),
			opts: wsx.CompressionOptions{PeerWindowBits: b},
			check: func(t *testing.T, p deflateParams) {
				// ws offers client_max_window_bits without a value; wsx asks for b (§7.1.2.2).
				if p.clientBits != b {
					t.Errorf("PeerWindowBits %d: response has client_max_window_bits=%d", b, p.clientBits)
				}
			},
		})
	}
	for _, o := range []struct{ ws, wsx bool }{{true, false}, {false, true}} {
		for _, side := range []string{"server", "client"} {
			name := side + "_no_context_takeover from "
			c := tc{offer: map[string]any{}}
			if o.ws {
				name += "ws"
				c.offer[map[string]string{"server": "serverNoContextTakeover", "client": "clientNoContextTakeover"}[side]] = true
			} else {
				name += "wsx"
				if side == "server" {
					c.opts.NoContextTakeover = true
				} else {
					c.opts.PeerNoContextTakeover = true
				}
			}
			c.name = name
			c.check = func(t *testing.T, p deflateParams) {
				if !p.has[side+"_no_context_takeover"] {
					t.Errorf("response lacks %s_no_context_takeover", side)
				}
			}
			cases = append(cases, c)
		}
	}
	cases = append(cases, tc{
		name:  "everything at once",
		offer: map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true, "serverMaxWindowBits": 10, "clientMaxWindowBits": 11},
		opts:  wsx.CompressionOptions{Level: 9, WindowBits: 9, PeerWindowBits: 10, Threshold: -1},
	})

	want := deflatePayloads()
	ws := startNode(t, "ws-peer.js", map[string]any{"mode": "client"}) // one process for all
	ws.expect("ready")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer ws.in(t)()
			var tp tap
			opts := c.opts
			srv := newTappedWSXServer(t, &tp, &wsx.AcceptOptions{Compression: &opts}, nil, echo)
			offer := map[string]any{"threshold": 0} // ws compresses every message
			for k, v := range c.offer {
				offer[k] = v
			}
			up := wsConnect(t, ws, srv.WSURL(), nil, map[string]any{"perMessageDeflate": offer})
			for _, p := range want {
				ws.send(sendCmd(p))
				wantMessage(t, ws.next(), p)
			}
			ws.send(map[string]any{"op": "close", "code": 1000})
			ws.expect("close")
			sc := srv.next(t)
			wantClose(t, sc.Err, wsx.StatusNormalClosure, "")
			t.Logf("offer %q, response %q", sc.Header.Get("Sec-WebSocket-Extensions"), up.Extensions)
			if sc.Conn.Extensions() != up.Extensions {
				t.Fatalf("wsx agreed on %q, its response said %q", sc.Conn.Extensions(), up.Extensions)
			}
			p := parseDeflate(t, up.Extensions)
			if c.check != nil {
				c.check(t, p)
			}
			checkServerFrames(t, &tp, p, &opts, want)
		})
	}
}

// TestGorillaDeflate: gorilla's permessage-deflate ("server_no_context_takeover;
// client_no_context_takeover", 32 KiB window) against a wsx server.
func TestGorillaDeflate(t *testing.T) {
	var tp tap
	opts := wsx.CompressionOptions{Threshold: -1}
	srv := newTappedWSXServer(t, &tp, &wsx.AcceptOptions{Compression: &opts}, nil, echo)
	gc, resp, err := (&websocket.Dialer{EnableCompression: true}).Dial(srv.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	want := deflatePayloads()
	for _, p := range want {
		if err := gc.WriteMessage(gorillaType(p.typ), p.data); err != nil {
			t.Fatal(err)
		}
		gorillaRead(t, gc, p)
	}
	gc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	gc.ReadMessage()
	sc := srv.next(t)
	wantClose(t, sc.Err, wsx.StatusNormalClosure, "")
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	t.Logf("gorilla offered %q; wsx answered %q", sc.Header.Get("Sec-WebSocket-Extensions"), ext)
	p := parseDeflate(t, ext)
	if !p.serverNoCT || !p.clientNoCT {
		t.Errorf("response %q must accept gorilla's no_context_takeover parameters", ext)
	}
	checkServerFrames(t, &tp, p, &opts, want)
}

// TestWSDeflateFragments: ws compresses a message sent in fragments as one DEFLATE stream
// flushed at every frame, RSV1 on the first frame only (RFC 7692 §6.1); wsx inflates it
// across frames, with pings between them.
func TestWSDeflateFragments(t *testing.T) {
	var tp tap
	opts := wsx.CompressionOptions{}
	srv := newTappedWSXServer(t, &tp, &wsx.AcceptOptions{Compression: &opts}, nil, echo)
	ws, up := wsClient(t, srv.WSURL(), nil, map[string]any{"perMessageDeflate": map[string]any{"threshold": 0}})
	text := payload{wsx.MessageText, makeText(30_000)}
	cmd := fragmentsCmd(text, 1, 9999, 0, 10_000, 9999, 1)
	cmd["pingBetween"] = []byte("p")
	ws.send(cmd)
	for range 5 {
		ws.expect("pong")
	}
	wantMessage(t, ws.next(), text)
	bin := payload{wsx.MessageBinary, deflatePayloads()[2].data}
	ws.send(fragmentsCmd(bin, 20_000, 20_000, len(bin.data)-40_000))
	wantMessage(t, ws.next(), bin)
	ws.send(map[string]any{"op": "close", "code": 1000})
	ws.expect("close")
	sc := srv.next(t)
	wantClose(t, sc.Err, wsx.StatusNormalClosure, "")
	received := tp.frames(t, false)
	var data int
	for _, f := range received {
		if f.Opcode < frame.OpClose {
			data++
		}
	}
	if data != 9 {
		t.Errorf("ws sent %d data frames, want 9", data)
	}
	checkCompressed(t, received, "ws")
	p := parseDeflate(t, up.Extensions)
	wantReceived(t, messages(t, received, p.clientBits, !p.clientNoCT), []payload{text, bin})
}

// TestWSDeflateReadLimit: the read limit applies to the inflated size: a message of 4 MiB
// that compresses to a few KiB gets ws a 1009 from a wsx server whose limit is 1 MiB.
func TestWSDeflateReadLimit(t *testing.T) {
	const limit = 1 << 20
	srv := newWSXServer(t, &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}, ConnOptions: wsx.ConnOptions{ReadLimit: limit}}, nil, echo)
	ws, _ := wsClient(t, srv.WSURL(), nil, map[string]any{"perMessageDeflate": map[string]any{"threshold": 0}})
	at := payload{wsx.MessageBinary, make([]byte, limit)}
	ws.send(sendCmd(at))
	wantMessage(t, ws.next(), at)
	ws.send(sendCmd(payload{wsx.MessageBinary, make([]byte, 4*limit)}))
	if ev := ws.expect("close"); ev.Code != 1009 {
		t.Fatalf("ws saw close %d %q, want 1009", ev.Code, ev.Reason)
	}
	if sc := srv.next(t); len(sc.Messages) != 1 || !strings.Contains(fmt.Sprint(sc.Err), "1009") {
		t.Errorf("wsx received %d messages and ended with %v, want one and a failure with 1009", len(sc.Messages), sc.Err)
	}
}
