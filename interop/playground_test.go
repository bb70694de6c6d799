package interop

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
)

// The playground page of "wsx serve" (cmd/wsx/playground/index.html), driven in headless
// Chromium by node/playground.js as a person would use it, against the real command built
// from this tree.

// playgroundResult is what node/playground.js saw on the page.
type playgroundResult struct {
	Title      string   `json:"title"`
	DefaultURL string   `json:"defaultURL"`
	Sections   []string `json:"sections"`
	Keys       []struct {
		Key       string `json:"key"`
		Accept    string `json:"accept"`
		Note      string `json:"note"`
		NoteColor string `json:"noteColor"`
		Waited    bool   `json:"waited"`
	} `json:"keys"`
	State         string `json:"state"`
	Agreed        string `json:"agreed"`
	Handshake     string `json:"handshake"`
	HandshakeNote string `json:"handshakeNote"`
	ClosedState   string `json:"closedState"`
	ClosedAgreed  string `json:"closedAgreed"`
	Log           []struct {
		Class string `json:"class"`
		Type  string `json:"type"`
		Text  string `json:"text"`
	} `json:"log"`
	Error string `json:"error"`
}

// buildWSX builds the wsx command of this tree (the module's replace directive points
// github.com/wsx-go/wsx at ..) and returns the binary's path.
func buildWSX(t *testing.T) string {
	return goBuild(t, "github.com/wsx-go/wsx/cmd/wsx", "wsx")
}

// goBuild builds pkg into a file named name in a temporary directory and returns its path;
// env adds to the environment of go build (GOOS=js, say).
func goBuild(t *testing.T, pkg, name string, env ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// serveProc is a running "wsx serve --log-format json".
type serveProc struct {
	cmd     *exec.Cmd
	addr    string           // host:port it listens on
	scanned chan struct{}    // closed when its stderr is drained
	mu      sync.Mutex       // guards logs
	logs    []map[string]any // its log entries so far
}

// startServe runs bin serve on a free loopback port with args, and stops it when the test ends.
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	s := &serveProc{scanned: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--log-format", "json"}, append(args, "127.0.0.1:0")...)...)
	// SIGKILL if this test binary dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(s.scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var entry map[string]any
			if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
				entry = map[string]any{"msg": "not JSON", "line": sc.Text()}
			}
			s.mu.Lock()
			s.logs = append(s.logs, entry)
			s.mu.Unlock()
			if entry["msg"] == "listening" {
				addr, _ := entry["addr"].(string)
				listening <- addr
			}
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addr = <-listening:
	case <-s.scanned:
		t.Fatalf("wsx serve exited before listening: %v", s.entries())
	case <-time.After(eventTimeout):
		t.Fatalf("wsx serve did not listen within %v: %v", eventTimeout, s.entries())
	}
	return s
}

// stop ends the server as Ctrl-C does and fails t unless it shuts down cleanly.
func (s *serveProc) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.scanned:
	case <-time.After(eventTimeout):
		t.Errorf("wsx serve did not exit after SIGINT; killing it")
		s.cmd.Process.Kill()
		<-s.scanned
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("wsx serve: %v; log: %v", err, s.entries())
	}
}

func (s *serveProc) entries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.logs...)
}

// entry returns the first log entry with message msg, or nil.
func (s *serveProc) entry(msg string) map[string]any {
	for _, e := range s.entries() {
		if e["msg"] == msg {
			return e
		}
	}
	return nil
}

// hexBytes writes p as the playground does: two hex digits a byte, separated by spaces.
func hexBytes(p []byte) string {
	s := make([]string, len(p))
	for i, b := range p {
		s[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(s, " ")
}

// TestPlayground: in Chromium, the page computes Sec-WebSocket-Accept as a key is typed
// (§4.2.2 step 5.4) and explains a bad key (§4.2.1 item 5); connects to the server's echo
// with a subprotocol and the browser's permessage-deflate offer (RFC 7692), accepted by
// default; echoes a text and a binary message; shows the handshake request as the server
// received it; and closes with a code and reason of its own (§7.1.2), which the server logs.
func TestPlayground(t *testing.T) {
	_, err := os.Stat(chromiumPath)
	requirePeer(t, err == nil, chromiumPath+" (Debian's chromium package)")
	_, err = os.Stat(filepath.Join("node", "node_modules", "playwright-core", "package.json"))
	requirePeer(t, err == nil, "node/node_modules/playwright-core (npm ci)")
	nodeScript(t, "playground.js")

	s := startServe(t, buildWSX(t), "-s", "wsx.test")
	const (
		text        = "Hello, wsx: héllo ✓"
		binary      = "bytes ÿ ✓"
		closeCode   = 4001
		closeReason = "bye from the playground test"
	)
	keys := []map[string]string{
		{"key": "dGhlIHNhbXBsZSBub25jZQ==", "accept": wsx.AcceptKey("dGhlIHNhbXBsZSBub25jZQ==")}, // RFC 6455 §1.3's sample
		{"key": "c2hvcnQ=", "accept": wsx.AcceptKey("c2hvcnQ=")},                                 // 5 bytes, not 16
		// HTTP strips the spaces (RFC 9110 §5.5): the page shows what a server would send.
		{"key": " dGhlIHNhbXBsZSBub25jZQ== ", "accept": wsx.AcceptKey("dGhlIHNhbXBsZSBub25jZQ==")},
	}
	var userDataDir string
	// Registered before startNode, so it runs after the script has been stopped.
	t.Cleanup(func() {
		if userDataDir != "" {
			checkGone(t, userDataDir)
			os.RemoveAll(userDataDir)
		}
	})
	p := startNode(t, "playground.js", map[string]any{
		"url": "http://" + s.addr + "/", "executablePath": chromiumPath, "keys": keys, "protocols": "other, wsx.test",
		"text": text, "binary": binary, "closeCode": closeCode, "closeReason": closeReason,
	})
	ready := p.expect("ready")
	userDataDir = ready.UserDataDir
	if !strings.HasPrefix(filepath.Base(userDataDir), "wsx-chromium-") {
		t.Fatalf("unexpected profile directory %q", userDataDir)
	}
	t.Logf("Chromium %s, profile %s", ready.Chromium, userDataDir)
	ev := p.expect("result")
	p.expect("done")
	var r playgroundResult
	if err := json.Unmarshal(ev.Result, &r); err != nil {
		t.Fatalf("result %s: %v", ev.Result, err)
	}
	for _, line := range ev.Console {
		if strings.HasPrefix(line, "pageerror:") || strings.HasPrefix(line, "error:") {
			t.Errorf("console: %s", line)
		}
	}
	if r.Error != "" {
		t.Fatalf("%s\npage log: %+v", r.Error, r.Log)
	}

	if r.Title != "wsx playground" || r.DefaultURL != "ws://"+s.addr+"/echo" {
		t.Errorf("title %q, default URL %q; want the playground with ws://%s/echo", r.Title, r.DefaultURL, s.addr)
	}

	// The key calculator, with Web Crypto (127.0.0.1 is a secure context).
	if len(r.Keys) != len(keys) {
		t.Fatalf("%d keys typed, want %d", len(r.Keys), len(keys))
	}
	for i, k := range r.Keys {
		if k.Key != keys[i]["key"] || k.Accept != keys[i]["accept"] || !k.Waited {
			t.Errorf("typed %q, the page shows %q for Accept; want %q", k.Key, k.Accept, keys[i]["accept"])
		}
	}
	if r.Keys[0].Note != "" || !strings.Contains(r.Keys[1].Note, "Decodes to 5 bytes, not 16") || !strings.Contains(r.Keys[2].Note, "whitespace around it") {
		t.Errorf("key notes %q, %q and %q; want none for a good key, one for a 5-byte key and one for spaces", r.Keys[0].Note, r.Keys[1].Note, r.Keys[2].Note)
	}
	// A hint is not shown in the red of errors (#a33).
	if c := r.Keys[1].NoteColor; c == "" || c == "rgb(170, 51, 51)" {
		t.Errorf("key note color %q", c)
	}
	// The page leads with the connection; the key calculator comes last.
	if len(r.Sections) == 0 || r.Sections[0] != "Connection" || r.Sections[len(r.Sections)-1] != "Opening handshake key" {
		t.Errorf("sections %q", r.Sections)
	}

	// What the handshake agreed: the page shows Chromium's view of it.
	if r.State != "open" || !strings.Contains(r.Agreed, "subprotocol wsx.test") || !strings.Contains(r.Agreed, "extensions permessage-deflate") {
		t.Fatalf("state %q, agreed %q; want open with subprotocol wsx.test and permessage-deflate\npage log: %+v", r.State, r.Agreed, r.Log)
	}

	// The message log, in order: text echoed as text, binary echoed as binary, and the close.
	type entry struct{ class, typ, text string }
	want := []entry{
		{"event", "", "connecting to ws://" + s.addr + "/echo?wsx-playground="},
		{"event", "", "open (subprotocol wsx.test, extensions permessage-deflate"},
		{"sent", "text", text},
		{"received", "text", text},
		{"sent", "binary", hexBytes([]byte(binary))},
		{"received", "binary", hexBytes([]byte(binary))},
		{"event", "", fmt.Sprintf("closed: code %d", closeCode)},
	}
	if len(r.Log) != len(want) {
		t.Fatalf("page log %+v, want %d entries like %+v", r.Log, len(want), want)
	}
	for i, w := range want {
		g := r.Log[i]
		ok := g.Class == w.class && g.Type == w.typ
		if w.class == "event" {
			ok = ok && strings.HasPrefix(g.Text, w.text)
		} else {
			ok = ok && g.Text == w.text
		}
		if !ok {
			t.Errorf("log entry %d: %+v, want %+v", i, g, w)
		}
	}
	if last := r.Log[len(r.Log)-1].Text; strings.Contains(last, "not clean") || r.ClosedState != "closed" || r.ClosedAgreed != "" {
		t.Errorf("close: %q, state %q, agreed %q; want a clean close and nothing agreed left on show", last, r.ClosedState, r.ClosedAgreed)
	}

	// The handshake request as the server received it, shown by the page: the fields in
	// Chromium's order and spelling (Host first, Sec-WebSocket-Key as it writes it).
	lines := strings.Split(r.Handshake, "\n")
	header := map[string]string{}
	var names []string
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ": ")
		header[name] = value
		names = append(names, name)
	}
	key, err := base64.StdEncoding.DecodeString(header["Sec-WebSocket-Key"])
	if !strings.HasPrefix(lines[0], "GET /echo?wsx-playground=") || !strings.HasSuffix(lines[0], " HTTP/1.1") ||
		len(names) == 0 || names[0] != "Host" ||
		header["Host"] != s.addr || header["Origin"] != "http://"+s.addr || header["Upgrade"] != "websocket" ||
		header["Sec-WebSocket-Version"] != "13" || err != nil || len(key) != 16 ||
		header["Sec-WebSocket-Protocol"] != "other, wsx.test" ||
		!strings.HasPrefix(header["Sec-WebSocket-Extensions"], "permessage-deflate") ||
		!strings.Contains(header["User-Agent"], "HeadlessChrome/") {
		t.Errorf("the handshake panel shows:\n%s", r.Handshake)
	}
	if !strings.HasPrefix(r.HandshakeNote, "From 127.0.0.1:") || !strings.Contains(r.HandshakeNote, "in the order your browser sent them") {
		t.Errorf("handshake note %q", r.HandshakeNote)
	}

	// The server's side of the same connection.
	s.stop(t)
	connected, closed := s.entry("connected"), s.entry("closed")
	if connected == nil || closed == nil {
		t.Fatalf("the server logged no connection: %v", s.entries())
	}
	if ua, _ := connected["user_agent"].(string); !strings.Contains(ua, "HeadlessChrome/") || connected["subprotocol"] != "wsx.test" ||
		connected["origin"] != "http://"+s.addr || !strings.HasPrefix(fmt.Sprint(connected["extensions"]), "permessage-deflate") {
		t.Errorf("connected: %v", connected)
	}
	if closed["status"] != float64(closeCode) || closed["reason"] != closeReason || closed["msgs_in"] != float64(2) || closed["msgs_out"] != float64(2) {
		t.Errorf("closed: %v; want status %d, reason %q and two messages each way", closed, closeCode, closeReason)
	}
	if s.entry("stopped") == nil {
		t.Errorf("no \"stopped\" entry: %v", s.entries())
	}
}
