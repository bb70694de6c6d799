package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	// Keep-alive connections of http.Get are not leaks.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if leaked := leakcheck.Wait(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// The wsx binary built from this tree, for the tests that run it as a user does: through
// real pipes and a pseudo-terminal.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// wsxBinary builds the command once per test run and returns the binary's path.
func wsxBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "wsx-test-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "wsx")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runBinary runs the built wsx with args, stdin from a pipe fed with stdin, and returns how
// it ended, its stdout and its stderr, read through pipes.
func runBinary(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(wsxBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin) // not an *os.File: exec makes a pipe
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("wsx %q did not exit; stdout %q, stderr %q", args, stdout.String(), stderr.String())
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is how a command run ended.
type result struct {
	code           int
	stdout, stderr string
}

// runWSX runs the command line args in-process with stdin and returns its exit status and
// output.
func runWSX(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr syncBuffer
	code := run(ctx, &env{stdin: stdin, stdout: &stdout, stderr: &stderr}, args)
	return result{code, stdout.String(), stderr.String()}
}

func TestUsage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"help", "key"}, exitOK, "Usage: wsx key", ""},
		{[]string{"nonsense"}, exitUsage, "", `wsx: unknown command "nonsense"`},
		{[]string{"serve", "--help"}, exitOK, "Examples:", ""},
		{[]string{"serve", "-h"}, exitOK, "--read-limit size", ""},
		{[]string{"serve", "--bogus"}, exitUsage, "", "wsx serve: flag provided but not defined: -bogus (see wsx serve --help)\n"},
		{[]string{"serve", "--read-limit", "lots"}, exitUsage, "", `bad size "lots"`},
		{[]string{"serve", "--tls-cert", "x.pem"}, exitUsage, "", "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--log-format", "xml"}, exitUsage, "", "--log-format must be text or json"},
		{[]string{"serve", "--dir", "/nonexistent/dir"}, exitUsage, "", "is not a directory"},
		{[]string{"serve", "a:1", "b:2"}, exitUsage, "", "want at most one address"},
		{[]string{"connect", "--http2", "--http3", "wss://x/"}, exitUsage, "", "--http2 and --http3: choose one"},
		{[]string{"bench", "--http2", "--proxy", "http://p:3128", "wss://x/"}, exitUsage, "", "--proxy goes with HTTP/1.1 only"},
		{[]string{"connect", "--http3", "-H", "Host: y", "wss://x/"}, exitUsage, "", "-H Host goes with HTTP/1.1 only"},
		{[]string{"doctor", "--http2", "--http3", "wss://x/"}, exitUsage, "", "--http2 and --http3: choose one"},
		{[]string{"doctor", "--listen", "--http2"}, exitUsage, "", "--listen explains HTTP/1.1 handshakes"},
		{[]string{"serve", "--http3"}, exitUsage, "", "--http3 needs --tls-cert/--tls-key or --tls-self-signed"},
		{[]string{"serve", "--event", "--tls-self-signed", "--http3"}, exitUsage, "", "--event serves WebSockets over HTTP/1.1 only: no --http3"},
		{[]string{"serve", "99999"}, exitUsage, "", "the port must be a number from 0 to 65535"},
		{[]string{"serve", "localhost:http"}, exitUsage, "", "the port must be a number"},
		{[]string{"serve", "[::1"}, exitUsage, "", "want host:port"},
		{[]string{"serve", "--origin", "[bad"}, exitUsage, "", "--origin: "},
		{[]string{"connect", "--wait", "-1s", "ws://x/"}, exitUsage, "", "want a duration"},
		{[]string{"proxy", "--origin", "a:b:c", "ws://x/"}, exitUsage, "", "--origin: "},
		{[]string{"--version"}, exitOK, "wsx ", ""},
		{[]string{"version"}, exitOK, "wsx ", ""},
		{[]string{"accept"}, exitUsage, "", "want exactly one KEY"},
		{[]string{"key", "extra"}, exitUsage, "", "takes no arguments"},
	} {
		r := runWSX(t, ctx, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.out) || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("wsx %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out, tc.err)
		}
		if tc.code == exitUsage && tc.err != "" && strings.Count(r.stderr, "\n") != 1 && tc.args != nil {
			t.Errorf("wsx %q: a usage error must be one line, got %q", tc.args, r.stderr)
		}
	}
}

// Every subcommand's help has examples, and a "Flags:" section only when it has flags.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		r := runWSX(t, context.Background(), nil, c.name, "--help")
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage: wsx "+c.name) || !strings.Contains(r.stdout, "\nExamples:\n  ") {
			t.Errorf("wsx %s --help: exit %d, no usage or examples:\n%s", c.name, r.code, r.stdout)
		}
		hasFlags := strings.Contains(r.stdout, "\nFlags:\n")
		if empty := strings.HasSuffix(r.stdout, "Flags:\n"); empty || hasFlags != (c.name != "accept") {
			t.Errorf("wsx %s --help: Flags section present %v, empty %v:\n%s", c.name, hasFlags, empty, r.stdout)
		}
	}
}

func TestParseFlagsAfterArguments(t *testing.T) {
	f := newFlags("test", "")
	var list listFlag
	b := f.Bool("b", false, "")
	f.Var(&list, "s", "")
	pos, _, ok := f.parse(&env{stdout: io.Discard, stderr: io.Discard}, []string{"one", "-b", "two", "-s", "x,y", "--", "-s", "three"})
	if !ok || !*b || strings.Join(list, " ") != "x y" || strings.Join(pos, " ") != "one two -s three" {
		t.Fatalf("got ok=%v b=%v list=%q positional=%q", ok, *b, list, pos)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "16K": 16 << 10, "16KiB": 16 << 10, "16kb": 16 << 10, "64MiB": 64 << 20, "1g": 1 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1.5M", "K", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1536: "1536B", 64 << 20: "64MiB", 1 << 30: "1GiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHeaderFlag(t *testing.T) {
	var h headerFlag
	if err := h.Set("Authorization:  Bearer x "); err != nil || len(h) != 1 || h[0] != [2]string{"Authorization", "Bearer x"} {
		t.Fatalf("Set: %v, %q", err, h)
	}
	for _, bad := range []string{"NoColon", ": v", "Bad Name: v"} {
		if err := h.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// A server on a loopback address answers for its own names only (issue 8 item 10).
func TestHostPatterns(t *testing.T) {
	loopback := []string{"localhost:*", "127.0.0.0/8:*", "[::1]:*"}
	for _, tc := range []struct {
		addr  string
		names []string
		want  []string
	}{
		{"127.0.0.1:8080", nil, loopback},
		{"127.1.2.3:0", nil, loopback},
		{"[::1]:8080", nil, loopback},
		{"localhost:8080", []string{"dev.test", "box.lan:8443"}, append(loopback[:3:3], "dev.test:*", "box.lan:8443")},
		{"0.0.0.0:8080", nil, nil},
		{"[::]:8080", nil, nil},
		{"192.168.1.5:80", []string{"dev.test"}, []string{"dev.test:*"}},
		{"example.com:80", nil, nil},
	} {
		got := hostPatterns(tc.addr, tc.names...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("hostPatterns(%q, %q) = %q, want %q", tc.addr, tc.names, got, tc.want)
		}
		if err := (&wsx.AcceptOptions{HostPatterns: got}).Validate(); err != nil {
			t.Errorf("%q: %v", tc.addr, err)
		}
	}
}
