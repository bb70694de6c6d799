package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
)

// A session at a real terminal: received messages are marked and escaped, typed lines
// starting with / are commands, ^D closes with 1000.
func TestConnectTerminal(t *testing.T) {
	closed := make(chan error, 1)
	url := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		c.Write(context.Background(), wsx.MessageText, []byte("\x1b]0;pwned\x07\u202eevil\tok"))
		c.Write(context.Background(), wsx.MessageBinary, []byte{0xff, 'A', '\n'})
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				closed <- err
				return
			}
			c.Write(context.Background(), wsx.MessageText, []byte(typ.String()+":"+string(msg)))
		}
	})
	p := startPTY(t, "connect", url)
	p.waitFor(t, "wsx: connected to "+url+"\n")
	p.waitFor(t, `< \x1b]0;pwned\x07\u202eevil`+"\tok\n")
	p.waitFor(t, `< [binary, 3 bytes] \xffA`+"\n")
	for _, step := range []struct{ typed, shown string }{
		{"plain\n", "< text:plain\n"},
		{"/binary bin\n", "< binary:bin\n"},
		{"//slash\n", "< text:/slash\n"},
		{"/ping\n", "wsx: pong in "},
		{"/nonsense\n", "wsx: unknown command /nonsense"},
	} {
		p.typeText(t, step.typed)
		p.waitFor(t, step.shown)
	}
	p.typeText(t, "\x04") // ^D: the end of input, at a terminal
	p.waitFor(t, "wsx: closed with 1000 (normal closure)")
	if code := p.wait(t); code != exitOK {
		t.Fatalf("exit %d; the terminal shows:\n%s", code, p.output())
	}
	if err := <-closed; wsx.CloseStatus(err) != wsx.StatusNormalClosure {
		t.Fatalf("the server saw %v, want 1000", err)
	}
	if out := p.output(); strings.Contains(out, "\x1b]") || strings.Contains(out, "\u202e") {
		t.Fatalf("a control sequence reached the terminal:\n%q", out)
	}
}

// ^C at a terminal closes the connection with 1001 (going away).
func TestConnectTerminalInterrupt(t *testing.T) {
	closed := make(chan error, 1)
	url := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		c.Write(context.Background(), wsx.MessageText, []byte("ready"))
		_, _, err := c.Read(context.Background())
		closed <- err
	})
	p := startPTY(t, "connect", "-t", url)
	p.waitFor(t, " < ready\n") // after a time stamp
	p.typeText(t, "\x03")
	p.waitFor(t, "wsx: closed with 1001 (going away)")
	if code := p.wait(t); code != exitOK {
		t.Fatalf("exit %d; the terminal shows:\n%s", code, p.output())
	}
	if err := <-closed; wsx.CloseStatus(err) != wsx.StatusGoingAway {
		t.Fatalf("the server saw %v, want 1001", err)
	}
}

// On a terminal, wsx bench redraws one progress line in place and clears it before the
// results.
func TestBenchTerminalProgress(t *testing.T) {
	s := startServe(t)
	p := startPTY(t, "bench", "-c", "2", "-d", "2500ms", s.url)
	p.waitFor(t, "Results (")
	if code := p.wait(t); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, p.output())
	}
	out := p.output()
	if strings.Count(out, "\r\x1b[K") < 3 || !strings.Contains(out, " msg/s  mean ") || !strings.Contains(out, "\r\x1b[K\nResults (") {
		t.Fatalf("no progress line redrawn in place:\n%q", out)
	}
	for _, line := range strings.Split(out, "\r\x1b[K") {
		if strings.Contains(line, "msg/s  mean") && len([]rune(line)) >= 80 {
			t.Errorf("a progress line of %d columns: %q", len([]rune(line)), line)
		}
	}
}
