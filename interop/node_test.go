package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// eventTimeout bounds each wait for a peer's event. It only keeps a broken peer from hanging
// the run; no test asserts how long anything takes.
const eventTimeout = 90 * time.Second // a guard against hangs; a loaded machine starts Chromium slowly

// requirePeer fails t when a peer is missing: a skipped interop test must never pass for a
// passing one. WSX_INTEROP_SKIP=1 turns the failure into an explicit skip.
func requirePeer(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("WSX_INTEROP_SKIP") == "1" {
		t.Skipf("%s is missing; skipped because WSX_INTEROP_SKIP=1", what)
	}
	t.Fatalf("%s is missing: run interop/setup.sh (or set WSX_INTEROP_SKIP=1 to skip the interop tests explicitly)", what)
}

// nodeScript returns the path of a script in node/, failing t when Node or the packages of
// node/package-lock.json are not installed.
func nodeScript(t testing.TB, name string) string {
	t.Helper()
	_, err := exec.LookPath("node")
	requirePeer(t, err == nil, "node")
	_, err = os.Stat(filepath.Join("node", "node_modules", "ws", "package.json"))
	requirePeer(t, err == nil, "node/node_modules (npm ci)")
	abs, err := filepath.Abs(filepath.Join("node", name))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// event is one JSON line written by a Node script. Fields not sent stay zero.
type event struct {
	Ev string `json:"ev"`

	// ws-peer.js
	WS                string `json:"ws"`
	Node              string `json:"node"`
	Port              int    `json:"port"`
	Status            int    `json:"status"`
	Body              string `json:"body"`
	Protocol          string `json:"protocol"`
	Extensions        string `json:"extensions"`
	OfferedProtocols  string `json:"offeredProtocols"`
	OfferedExtensions string `json:"offeredExtensions"`
	Origin            string `json:"origin"`
	Binary            bool   `json:"binary"`
	Len               int    `json:"len"`
	SHA256            string `json:"sha256"`
	Data              []byte `json:"data"` // base64 in JSON
	Code              int    `json:"code"`
	Reason            string `json:"reason"`
	Message           string `json:"message"`

	// chromium.js
	Chromium    string          `json:"chromium"`
	UserDataDir string          `json:"userDataDir"`
	URL         string          `json:"url"`
	Result      json.RawMessage `json:"result"`
	Console     []string        `json:"console"`
}

// nodeProc is a running Node script: commands go to its stdin as JSON lines and its stdout
// comes back as events. Cleanup closes stdin, waits for the process to exit, kills its
// whole process group if it does not, and fails the test if anything of it remains.
type nodeProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	done   chan struct{} // closed when stdout is drained

	mu     sync.Mutex
	stderr bytes.Buffer
}

func startNode(t testing.TB, script string, config any) *nodeProc {
	t.Helper()
	path := nodeScript(t, script)
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{t: t, events: make(chan event, 64), done: make(chan struct{})}
	p.cmd = exec.Command("node", path, string(cfg))
	p.cmd.Dir = filepath.Dir(path)
	// A process group of its own, so that cleanup can kill everything the script started;
	// and SIGKILL if this test binary dies first.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.readEvents(stdout)
	t.Cleanup(p.stop)
	return p
}

func (p *nodeProc) readEvents(stdout io.Reader) {
	defer close(p.done)
	defer close(p.events)
	br := bufio.NewReader(stdout)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var ev event
			if jerr := json.Unmarshal(line, &ev); jerr != nil {
				ev = event{Ev: "bad-json", Message: string(line)}
			}
			p.events <- ev
		}
		if err != nil {
			return
		}
	}
}

// stop ends the script: EOF on stdin asks it to exit; a script that does not is killed.
func (p *nodeProc) stop() {
	p.stdin.Close()
	exited := make(chan error, 1)
	go func() {
		// Drain events nobody waited for, so that readEvents can finish.
		for range p.events {
		}
		<-p.done
		exited <- p.cmd.Wait()
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("node %s did not exit after its stdin closed; killing it", p.cmd.Args[1])
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	// Whatever the script started in its process group must be gone with it.
	if err := syscall.Kill(-p.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		p.t.Errorf("processes of node %s's group outlived it; killing them", p.cmd.Args[1])
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.t.Failed() && p.stderr.Len() > 0 {
		p.t.Logf("stderr of node %s:\n%s", filepath.Base(p.cmd.Args[1]), p.stderr.String())
	}
}

// in makes t, a subtest, the test that the process's failures are reported to, and returns
// a function that restores the previous one: for a process shared by sequential subtests.
func (p *nodeProc) in(t testing.TB) (restore func()) {
	old := p.t
	p.t = t
	return func() { p.t = old }
}

// send writes one command line to the script.
func (p *nodeProc) send(cmd any) {
	p.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("writing to node: %v", err)
	}
}

// next returns the script's next event, failing when the script ends or stays silent.
func (p *nodeProc) next() event {
	p.t.Helper()
	select {
	case ev, ok := <-p.events:
		if !ok {
			p.t.Fatalf("node %s exited; waiting for an event", filepath.Base(p.cmd.Args[1]))
		}
		return ev
	case <-time.After(eventTimeout):
		p.t.Fatalf("node %s sent nothing for %v", filepath.Base(p.cmd.Args[1]), eventTimeout)
	}
	panic("unreachable")
}

// expect returns the next event and fails unless it is a want event.
func (p *nodeProc) expect(want string) event {
	p.t.Helper()
	ev := p.next()
	if ev.Ev != want {
		p.t.Fatalf("node sent %+v, want a %q event", ev, want)
	}
	return ev
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
