package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
)

// wasmPage loads Go's wasm_exec.js and runs the client; a failure to load it becomes the
// page's result, so that the test reports it instead of waiting.
const wasmPage = `<!doctype html>
<meta charset="utf-8">
<title>wsx wasm</title>
<script src="/wasm_exec.js"></script>
<script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("/client.wasm"), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { window.wsxResult = { error: "running the wasm client: " + e }; });
</script>
`

// wasmResult is the window.wsxResult of wasmclient.
type wasmResult struct {
	Error string `json:"error"`
	Steps []struct {
		Name   string         `json:"name"`
		Err    string         `json:"err"`
		Detail map[string]any `json:"detail"`
	} `json:"steps"`
}

// TestWASM: wsx built for the browser (GOOS=js GOARCH=wasm, wasmclient/), loaded with Go's
// wasm_exec.js in headless Chromium, against wsx servers: text and binary messages up to
// 1 MiB echoed through every reading and writing method, JSON and NetConn over the browser's
// WebSocket, close codes both ways, a read limit, and a refused handshake. Every step is
// checked against what the server saw, not only against what the client reports.
func TestWASM(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execJS := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	wasm := goBuild(t, "./wasmclient", "client.wasm", "GOOS=js", "GOARCH=wasm")
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wasm":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(wasmPage))
		case "/wasm_exec.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, execJS)
		case "/client.wasm":
			w.Header().Set("Content-Type", "application/wasm") // instantiateStreaming insists
			http.ServeFile(w, r, wasm)
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	})
	a := newWSXServer(t, &wsx.AcceptOptions{
		Subprotocols: []string{"wsx.v1", "wsx.v2"},
		Compression:  &wsx.CompressionOptions{},
		ConnOptions:  wsx.ConnOptions{ReadLimit: 2 << 20},
	}, pages, echoOrClose)
	other := newWSXServer(t, nil, nil, echoOrClose) // another origin, which refuses the page
	page := a.URL + "/wasm?ws=" + url.QueryEscape(a.WSURL()) + "&refused=" + url.QueryEscape(other.WSURL())

	var r wasmResult
	raw := openPages(t, []string{page})[0]
	if err := json.Unmarshal(raw, &r); err != nil || r.Error != "" {
		t.Fatalf("page result %s: %v", raw, err)
	}
	steps := map[string]map[string]any{}
	for _, s := range r.Steps {
		if s.Err != "" {
			t.Errorf("%s: %s", s.Name, s.Err)
		}
		steps[s.Name] = s.Detail
		t.Logf("%s: %v", s.Name, s.Detail)
	}
	if len(steps) != 5 {
		t.Fatalf("%d steps ran, want 5: %s", len(steps), raw)
	}
	conns := byQuery(t, a, 4)

	t.Run("echo", func(t *testing.T) {
		d, sc := steps["echo"], conns["t=echo"]
		if sc.Conn == nil {
			t.Fatalf("the server refused the client: %d %v", sc.Status, sc.Err)
		}
		if d["subprotocol"] != "wsx.v1" || d["responseProtocol"] != "wsx.v1" || sc.Conn.Subprotocol() != "wsx.v1" || d["status"] != float64(101) {
			t.Errorf("subprotocol %v (Conn) %v (response, status %v), server %q; want wsx.v1 and 101", d["subprotocol"], d["responseProtocol"], d["status"], sc.Conn.Subprotocol())
		}
		// The browser's own permessage-deflate offer, accepted by the server.
		if ext := d["extensions"]; ext != sc.Conn.Extensions() || !strings.HasPrefix(sc.Conn.Extensions(), "permessage-deflate") {
			t.Errorf("extensions %v (browser), %q (server), want the same permessage-deflate", ext, sc.Conn.Extensions())
		}
		if d["remote"] != a.WSURL()+"?t=echo" || d["local"] != a.URL {
			t.Errorf("RemoteAddr %v, LocalAddr %v; want the URL and the page's origin", d["remote"], d["local"])
		}
		sent, _ := d["sent"].([]any)
		if len(sent) != 5 || len(sc.Messages) != 7 {
			t.Fatalf("the client sent %d messages through the methods, the server received %d in all, want 5 and 7", len(sent), len(sc.Messages))
		}
		for i, s := range sent {
			m := sc.Messages[i]
			if got := fmt.Sprintf("%v-%d-%s", m.typ, len(m.data), sha256hex(m.data)); got != s {
				t.Errorf("message %d: server received %s, the client sent %s", i, got, s)
			}
		}
		if m := sc.Messages[5]; m.typ != wsx.MessageText || string(m.data) != `{"op":"wasm ✓","n":42}` {
			t.Errorf("WriteJSON sent %v %q", m.typ, m.data)
		}
		// The client's Close(4000), seen by the server, echoed back (§5.5.1).
		wantClose(t, sc.Err, 4000, "bye from wasm")
		if d["afterClose"] != float64(4000) {
			t.Errorf("after Close, the client read status %v, want the echoed 4000", d["afterClose"])
		}
	})
	t.Run("server closes", func(t *testing.T) {
		d, sc := steps["serverClose"], conns["t=serverClose"]
		if d["code"] != float64(1001) || d["reason"] != "going away" {
			t.Errorf("the client read close %v %q, want 1001 \"going away\"", d["code"], d["reason"])
		}
		if sc.Err != nil {
			t.Errorf("server Close: %v, want a completed closing handshake", sc.Err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		d, sc := steps["refused"], other.next(t)
		if sc.Status != http.StatusForbidden || sc.Conn != nil {
			t.Errorf("the other origin's server answered %d (%v), want 403", sc.Status, sc.Err)
		}
		if e, _ := d["error"].(string); !strings.Contains(e, "could not open") || d["response"] != false {
			t.Errorf("Dial: %q, response %v; want an error and no response", e, d["response"])
		}
	})
	t.Run("read limit", func(t *testing.T) {
		d, sc := steps["readLimit"], conns["t=readLimit"]
		if e, _ := d["error"].(string); !strings.Contains(e, "over the read limit of 1000") {
			t.Errorf("Read: %q", e)
		}
		// A page cannot send 1009: the browser closed without a status.
		if wsx.CloseStatus(sc.Err) != wsx.StatusNoStatusReceived {
			t.Errorf("the server's read ended with %v, want a Close frame without a status (1005)", sc.Err)
		}
	})
	t.Run("NetConn", func(t *testing.T) {
		sc := conns["t=netConn"]
		var got []string
		for _, m := range sc.Messages {
			if m.typ != wsx.MessageText {
				t.Errorf("a %v message on a text stream", m.typ)
			}
			got = append(got, string(m.data))
		}
		// Each message whole UTF-8: the code point cut between two Writes went out with the
		// second.
		if strings.Join(got, "|") != "a stream through the browser |✓" {
			t.Errorf("the server received %q", got)
		}
		wantClose(t, sc.Err, wsx.StatusNormalClosure, "")
	})
}
