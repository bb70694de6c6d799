package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// Tests against headless Chromium: Debian's chromium package, driven by playwright-core
// (node/chromium.js). A wsx server serves testdata/page.html, whose script opens WebSockets
// to wsx servers and reports what happened.

// chromiumPath is Debian's Chromium. The tests never use a browser that a tool downloaded.
const chromiumPath = "/usr/bin/chromium"

// pageResult is a page's window.wsxResult.
type pageResult struct {
	Opened     bool   `json:"opened"`
	Protocol   string `json:"protocol"`
	Extensions string `json:"extensions"`
	Messages   []struct {
		Type         string `json:"type"`
		ReceivedType string `json:"receivedType"`
		Len          int    `json:"len"`
		Sent         string `json:"sent"`
		Received     string `json:"received"`
		Equal        bool   `json:"equal"`
	} `json:"messages"`
	Close *struct {
		Code     int    `json:"code"`
		Reason   string `json:"reason"`
		WasClean bool   `json:"wasClean"`
	} `json:"close"`
	Error string `json:"error"`
}

// runChromium opens pages one after another in one headless Chromium with a fresh profile
// and returns their results in order; args are more Chromium flags. It fails the test if any
// Chromium process outlives the browser.
func runChromium(t *testing.T, pages []string, args ...string) []pageResult {
	t.Helper()
	var results []pageResult
	for i, raw := range openPages(t, pages, args...) {
		var r pageResult
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("page %s: result %s: %v", pages[i], raw, err)
		}
		if r.Error != "" {
			t.Errorf("page %s: %s", pages[i], r.Error)
		}
		results = append(results, r)
	}
	return results
}

// openPages opens pages one after another in one headless Chromium with a fresh profile and
// returns each page's window.wsxResult, as JSON, in order; args are more Chromium flags. It
// fails the test if any Chromium process outlives the browser.
func openPages(t *testing.T, pages []string, args ...string) []json.RawMessage {
	t.Helper()
	_, err := os.Stat(chromiumPath)
	requirePeer(t, err == nil, chromiumPath+" (Debian's chromium package)")
	nodeScript(t, "chromium.js")
	var userDataDir string
	// Registered before startNode, so it runs after the script has been stopped.
	t.Cleanup(func() {
		if userDataDir != "" {
			checkGone(t, userDataDir)
			os.RemoveAll(userDataDir)
		}
	})
	p := startNode(t, "chromium.js", map[string]any{"pages": pages, "executablePath": chromiumPath, "args": args})
	ready := p.expect("ready")
	userDataDir = ready.UserDataDir
	if !strings.HasPrefix(filepath.Base(userDataDir), "wsx-chromium-") {
		t.Fatalf("unexpected profile directory %q", userDataDir)
	}
	t.Logf("Chromium %s, profile %s", ready.Chromium, userDataDir)
	var results []json.RawMessage
	for range pages {
		ev := p.expect("page")
		if len(ev.Console) > 0 {
			t.Logf("console of %s:\n%s", ev.URL, strings.Join(ev.Console, "\n"))
		}
		results = append(results, ev.Result)
	}
	p.expect("done")
	return results
}

// checkGone fails t if a process whose command line mentions marker (the browser's fresh
// profile directory) is still alive a few seconds after the browser closed, and kills it.
func checkGone(t *testing.T, marker string) {
	t.Helper()
	var pids []int
	for range 50 {
		pids = processesWith(marker)
		if len(pids) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("Chromium processes %v outlived the browser; killing them", pids)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processesWith returns the processes whose command line contains marker.
func processesWith(marker string) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// echoOrClose echoes messages, except that the text "close <code> <reason>" makes it run the
// closing handshake with that code and reason.
func echoOrClose(ctx context.Context, sc *serverConn) error {
	for {
		typ, msg, err := sc.Conn.Read(ctx)
		if err != nil {
			return err
		}
		if s, ok := strings.CutPrefix(string(msg), "close "); ok && typ == wsx.MessageText {
			code, reason, _ := strings.Cut(s, " ")
			n, err := strconv.Atoi(code)
			if err != nil {
				return err
			}
			return sc.Conn.Close(wsx.StatusCode(n), reason)
		}
		sc.Messages = append(sc.Messages, payload{typ, msg})
		if err := sc.Conn.Write(ctx, typ, msg); err != nil {
			return err
		}
	}
}

// byQuery collects the records of n connections of s, by the query of their URL.
func byQuery(t *testing.T, s *wsxServer, n int) map[string]*serverConn {
	t.Helper()
	m := make(map[string]*serverConn)
	for range n {
		sc := s.next(t)
		m[sc.Query] = sc
	}
	return m
}

// TestChromium: Chromium's WebSocket against wsx servers: the echo of every size and type,
// subprotocol choice, the closing handshake from both sides, 1009, the same-origin policy
// (§10.2) and permessage-deflate (RFC 7692) with Chromium's own offer.
func TestChromium(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("testdata", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent) // keeps a 404 out of the console
			return
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	subprotocols := []string{"wsx.v1", "wsx.v2"} // the page prefers wsx.v2
	a := newWSXServer(t, &wsx.AcceptOptions{Subprotocols: subprotocols, ConnOptions: wsx.ConnOptions{ReadLimit: 1 << 20}}, pages, echoOrClose)
	b := newWSXServer(t, nil, pages, echoOrClose)
	allowB := newWSXServer(t, &wsx.AcceptOptions{Subprotocols: subprotocols, OriginPatterns: []string{strings.TrimPrefix(b.URL, "http://")}}, pages, echoOrClose)
	var tapDeflate, tapSmall tap
	deflate := newTappedWSXServer(t, &tapDeflate, &wsx.AcceptOptions{Subprotocols: subprotocols, Compression: &wsx.CompressionOptions{}}, pages, echoOrClose)
	small := newTappedWSXServer(t, &tapSmall, &wsx.AcceptOptions{Subprotocols: subprotocols, Compression: &wsx.CompressionOptions{
		WindowBits: 9, NoContextTakeover: true, PeerWindowBits: 9, PeerNoContextTakeover: true,
	}}, pages, echoOrClose)

	// pageURL is a page of from that runs test against to's WebSocket endpoint.
	pageURL := func(from *wsxServer, test string, to *wsxServer) string {
		return from.URL + "/page?test=" + test + "&ws=" + url.QueryEscape(to.WSURL()+"?t="+test)
	}
	results := runChromium(t, []string{
		pageURL(a, "echo", a),
		pageURL(a, "serverClose", a),
		pageURL(a, "tooBig", a),
		pageURL(b, "refused", a),
		pageURL(b, "echoSmall", allowB),
		pageURL(deflate, "echo", deflate),
		pageURL(small, "echo", small),
	})
	conns := byQuery(t, a, 4)

	t.Run("echo", func(t *testing.T) {
		r, sc := results[0], conns["t=echo"]
		checkEchoPage(t, r, sc, "wsx.v1")
		if r.Extensions != "" || sc.Conn.Extensions() != "" {
			t.Errorf("extensions %q (page) %q (wsx) without Compression, want none", r.Extensions, sc.Conn.Extensions())
		}
		// Chromium's handshake passed the same-origin check (§10.2), with its own Origin.
		if got := sc.Header.Get("Origin"); got != a.URL {
			t.Errorf("Origin %q, want the page's %q", got, a.URL)
		}
		offer := sc.Header.Get("Sec-WebSocket-Extensions")
		t.Logf("Chromium's handshake: Origin %q, Sec-WebSocket-Extensions %q, User-Agent %q", sc.Header.Get("Origin"), offer, sc.Header.Get("User-Agent"))
		if !strings.HasPrefix(offer, "permessage-deflate") {
			t.Errorf("Chromium offered %q, expected permessage-deflate (RFC 7692)", offer)
		}
	})
	t.Run("server closes", func(t *testing.T) {
		r, sc := results[1], conns["t=serverClose"]
		if r.Close == nil || r.Close.Code != 1001 || r.Close.Reason != "server going away" || !r.Close.WasClean {
			t.Errorf("Chromium saw close %+v, want a clean 1001 \"server going away\"", r.Close)
		}
		if sc.Err != nil {
			t.Errorf("wsx Close: %v, want a completed closing handshake", sc.Err)
		}
	})
	t.Run("too big", func(t *testing.T) {
		r, sc := results[2], conns["t=tooBig"]
		if r.Close == nil || r.Close.Code != 1009 {
			t.Errorf("Chromium saw close %+v, want 1009 for a message over the read limit", r.Close)
		}
		if sc.Err == nil || !strings.Contains(sc.Err.Error(), "1009") {
			t.Errorf("wsx read ended with %v, want a failure with 1009", sc.Err)
		}
	})
	t.Run("cross origin refused", func(t *testing.T) {
		r, sc := results[3], conns["t=refused"]
		if r.Opened || r.Close == nil || r.Close.Code != 1006 {
			t.Errorf("Chromium saw opened=%v close %+v, want a failed connection (1006)", r.Opened, r.Close)
		}
		if sc.Status != http.StatusForbidden || sc.Header.Get("Origin") != b.URL {
			t.Errorf("wsx answered Origin %q with status %d (%v), want 403", sc.Header.Get("Origin"), sc.Status, sc.Err)
		}
		t.Logf("refusal: %v", sc.Err)
	})
	t.Run("cross origin allowed by pattern", func(t *testing.T) {
		r, sc := results[4], allowB.next(t)
		checkEchoPage(t, r, sc, "wsx.v1")
		if got := sc.Header.Get("Origin"); got != b.URL {
			t.Errorf("Origin %q, want %q", got, b.URL)
		}
	})
	// Chromium's frames must inflate within the window wsx asked for (client_max_window_bits)
	// and wsx's within the one it announced or, without server_max_window_bits, its
	// CompressionOptions.WindowBits (RFC 7692 §7.1.2).
	for i, tc := range []struct {
		name                     string
		srv                      *wsxServer
		tp                       *tap
		wsxBits, chromiumBits    int
		wsxTakeover, chromiumTak bool
	}{
		{"permessage-deflate", deflate, &tapDeflate, 14, 15, true, true},
		{"permessage-deflate small window", small, &tapSmall, 9, 9, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, sc := results[5+i], tc.srv.next(t)
			checkEchoPage(t, r, sc, "wsx.v1")
			t.Logf("Chromium offered %q; wsx answered %q", sc.Header.Get("Sec-WebSocket-Extensions"), sc.Conn.Extensions())
			if !strings.HasPrefix(r.Extensions, "permessage-deflate") || r.Extensions != sc.Conn.Extensions() {
				t.Fatalf("extensions %q (page), %q (wsx), want the same permessage-deflate", r.Extensions, sc.Conn.Extensions())
			}
			sent, received := tc.tp.frames(t, true), tc.tp.frames(t, false)
			checkCompressed(t, sent, "wsx")
			checkCompressed(t, received, "Chromium")
			wantReceived(t, messages(t, received, tc.chromiumBits, tc.chromiumTak), sc.Messages)
			wantReceived(t, messages(t, sent, tc.wsxBits, tc.wsxTakeover), sc.Messages)
		})
	}
}

// checkEchoPage checks the result of the page's echo test against what the wsx server
// received: every message came back equal, and the server got exactly what the page sent.
func checkEchoPage(t *testing.T, r pageResult, sc *serverConn, protocol string) {
	t.Helper()
	if sc.Conn == nil {
		t.Fatalf("wsx refused Chromium: %d %v", sc.Status, sc.Err)
	}
	if !r.Opened || r.Protocol != protocol || sc.Conn.Subprotocol() != protocol {
		t.Fatalf("opened=%v with subprotocol %q (page) %q (wsx), want %q", r.Opened, r.Protocol, sc.Conn.Subprotocol(), protocol)
	}
	if len(r.Messages) == 0 || len(r.Messages) != len(sc.Messages) {
		t.Fatalf("the page exchanged %d messages, wsx received %d", len(r.Messages), len(sc.Messages))
	}
	for i, m := range r.Messages {
		got := sc.Messages[i]
		if !m.Equal || m.ReceivedType != m.Type || m.Sent != m.Received {
			t.Errorf("%s-%d: the echo differs (received as %s)", m.Type, m.Len, m.ReceivedType)
		}
		wantType := wsx.MessageText
		if m.Type == "binary" {
			wantType = wsx.MessageBinary
		}
		if got.typ != wantType || len(got.data) != m.Len || sha256hex(got.data) != m.Sent {
			t.Errorf("%s-%d: wsx received %v, not what the page sent", m.Type, m.Len, got)
		}
	}
	if r.Close == nil || r.Close.Code != 4000 || !r.Close.WasClean {
		t.Errorf("Chromium saw close %+v, want its 4000 echoed in a clean close (§5.5.1)", r.Close)
	}
	wantClose(t, sc.Err, 4000, "bye from chromium")
}

// checkCompressed checks that who compressed what it sent: some data frames have RSV1 set,
// and only first frames of messages (RFC 7692 §6).
func checkCompressed(t *testing.T, fs []tapFrame, who string) {
	t.Helper()
	var data, compressed int
	var wire int64
	first := true
	for _, f := range fs {
		if f.Opcode >= frame.OpClose {
			continue
		}
		data++
		if f.Rsv&frame.Rsv1 != 0 {
			compressed++
			if !first {
				t.Errorf("%s set RSV1 on a continuation frame (RFC 7692 §6)", who)
			}
		}
		wire += f.Length
		first = f.Fin
	}
	t.Logf("%s: %d data frames, %d compressed, %d payload bytes on the wire", who, data, compressed, wire)
	if compressed == 0 {
		t.Errorf("%s compressed no message", who)
	}
}
