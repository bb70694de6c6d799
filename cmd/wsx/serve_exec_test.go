package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
)

// --exec: each connection talks to its own command, a line per message both ways.
func TestServeExecLines(t *testing.T) {
	// tr in a loop: tr on its own keeps its output in a buffer until it ends, as most
	// programs do when their stdout is a pipe.
	s := startServe(t, "--exec", `while read -r line; do echo "$line" | tr a-z A-Z; done`)
	a := dialTest(t, s.url, nil)
	b := dialTest(t, s.url, nil)
	roundTripWant(t, a, wsx.MessageText, "hello", wsx.MessageText, "HELLO")
	roundTripWant(t, b, wsx.MessageText, "two commands", wsx.MessageText, "TWO COMMANDS")
	roundTripWant(t, a, wsx.MessageText, "a\nb", wsx.MessageText, "A") // a message with a newline makes two lines
	if _, msg, err := a.Read(context.Background()); err != nil || string(msg) != "B" {
		t.Fatalf("second line: %q, %v", msg, err)
	}
	// The client leaves: tr sees the end of its input and exits. (Which of a and b got
	// connection number 1 depends on which handshake the server finished first.)
	a.Close(wsx.StatusNormalClosure, "")
	waitForLog(t, s, `"msg":"closed"`)
	roundTripWant(t, b, wsx.MessageText, "still here", wsx.MessageText, "STILL HERE")
}

func roundTripWant(t *testing.T, c *wsx.Conn, typ wsx.MessageType, msg string, wantType wsx.MessageType, want string) {
	t.Helper()
	if err := c.Write(context.Background(), typ, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	gotType, got, err := c.Read(context.Background())
	if err != nil || gotType != wantType || string(got) != want {
		t.Fatalf("sent %q, got %v %q, %v; want %v %q", msg, gotType, got, err, wantType, want)
	}
}

// The command's end closes the connection: 1000 when it succeeded, 1011 with its exit
// status when it failed. What it wrote before comes first; a line that is not UTF-8 goes as
// a binary message. The environment names the client.
func TestServeExecEnds(t *testing.T) {
	for _, tc := range []struct {
		cmd    string
		want   []string
		status wsx.StatusCode
		reason string
	}{
		{`echo "$WSX_PATH $WSX_SUBPROTOCOL"; printf 'ok\377\n'`, []string{"text:/some/path chat", "binary:ok\xff"}, 1000, ""},
		{"echo one; echo two; exit 3", []string{"text:one", "text:two"}, 1011, "the command failed: exit status 3"},
	} {
		s := startServe(t, "--exec", tc.cmd, "-s", "chat")
		c := dialTest(t, s.url+"some/path", &wsx.DialOptions{Subprotocols: []string{"chat"}})
		var got []string
		var err error
		for {
			var typ wsx.MessageType
			var msg []byte
			if typ, msg, err = c.Read(context.Background()); err != nil {
				break
			}
			got = append(got, typ.String()+":"+string(msg))
		}
		var ce *wsx.CloseError
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || !errors.As(err, &ce) || ce.Code != tc.status || ce.Reason != tc.reason {
			t.Errorf("--exec %q: got %q, then %v; want %q and close %d %q", tc.cmd, got, err, tc.want, tc.status, tc.reason)
		}
	}
}

// --exec-raw passes bytes as they are: a binary message with newlines and zeros comes back
// whole from cat.
func TestServeExecRaw(t *testing.T) {
	s := startServe(t, "--exec-raw", "--exec", "cat")
	c := dialTest(t, s.url, nil)
	msg := []byte("line\nline\x00\xff\r\n")
	if err := c.Write(context.Background(), wsx.MessageBinary, msg); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(msg) {
		typ, p, err := c.Read(context.Background())
		if err != nil || typ != wsx.MessageBinary {
			t.Fatalf("%v %q, %v", typ, p, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q, want %q", got, msg)
	}
}

// A command that ignores its input and never exits is killed, with the processes it
// started, once its client has left.
func TestServeExecKilledAfterClient(t *testing.T) {
	s := startServe(t, "-v", "--exec", "sleep 1000 & sleep 1000; echo never")
	c := dialTest(t, s.url, nil)
	waitForLog(t, s, `"msg":"command started"`)
	c.Close(wsx.StatusNormalClosure, "")
	waitForLog(t, s, `"msg":"command ended","conn":1,"status":"signal: killed"`)
	waitForLog(t, s, `"msg":"closed","conn":1`)
}

// Usage errors of --exec.
func TestServeExecUsage(t *testing.T) {
	for _, args := range [][]string{{"--exec-raw"}, {"--exec", "cat", "--broadcast"}} {
		if r := runWSX(t, context.Background(), nil, append([]string{"serve"}, args...)...); r.code != exitUsage {
			t.Errorf("serve %q: %+v", args, r)
		}
	}
}
