//go:build js && wasm

// Command wasmclient is wsx built for the browser (GOOS=js GOARCH=wasm), driven by
// TestWASM in headless Chromium. Its page's query names the wsx servers to talk to: ws, an
// echo server of the page's own origin, and refused, one of another origin that refuses the
// page. It runs its steps in turn and leaves what happened in window.wsxResult, for the test
// to check against what the servers saw.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"syscall/js"
	"time"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// step is the outcome of one step: Err is empty when it did what it should.
type step struct {
	Name   string         `json:"name"`
	Err    string         `json:"err,omitempty"`
	Detail map[string]any `json:"detail"`
}

func main() {
	q, _ := url.ParseQuery(strings.TrimPrefix(js.Global().Get("location").Get("search").String(), "?"))
	echo, refused := q.Get("ws"), q.Get("refused")
	var steps []step
	run := func(name, u string, f func(ctx context.Context, u string, d map[string]any) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s := step{Name: name, Detail: map[string]any{}}
		if err := f(ctx, u+"?t="+name, s.Detail); err != nil {
			s.Err = err.Error()
		}
		steps = append(steps, s)
	}
	run("echo", echo, echoSteps)
	run("serverClose", echo, serverClose)
	run("refused", refused, refusedDial)
	run("readLimit", echo, readLimit)
	run("netConn", echo, netConn)
	b, err := json.Marshal(map[string]any{"steps": steps})
	if err != nil {
		b = []byte(`{"error": "encoding the result"}`)
	}
	js.Global().Set("wsxResult", js.Global().Get("JSON").Call("parse", string(b)))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// echoSteps exchanges messages of both types and sizes with an echo server through every
// reading and writing method, then closes with a code of its own.
func echoSteps(ctx context.Context, u string, d map[string]any) error {
	c, resp, err := wsx.Dial(ctx, u, &wsx.DialOptions{Subprotocols: []string{"wsx.v2", "wsx.v1"}})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	d["subprotocol"], d["extensions"], d["status"] = c.Subprotocol(), c.Extensions(), resp.StatusCode
	d["responseProtocol"] = resp.Header.Get("Sec-WebSocket-Protocol")
	d["remote"], d["local"] = c.RemoteAddr().String(), c.LocalAddr().String()

	rnd := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	bigText := []byte(strings.Repeat("1 MiB of text, ✓ and ☃. ", 1<<20/28+1)[:1<<20-1])
	for !utf8.Valid(bigText) { // the cut may fall inside a code point
		bigText = bigText[:len(bigText)-1]
	}
	type msg struct {
		typ  wsx.MessageType
		data []byte
		how  string // the writing and reading methods
	}
	msgs := []msg{
		{wsx.MessageText, []byte("hello ✓"), "Write/Read"},
		{wsx.MessageBinary, []byte{0, 1, 2, 255}, "Writer/ReadMessage"},
		{wsx.MessageText, bigText, "Write/Reader"},
		{wsx.MessageBinary, big, "Writer/ReadMessage"},
		{wsx.MessageBinary, nil, "Write/Read"},
	}
	var sent []string
	buf := make([]byte, 0, 4096)
	for _, m := range msgs {
		write, read, _ := strings.Cut(m.how, "/")
		if write == "Write" {
			err = c.Write(ctx, m.typ, m.data)
		} else {
			var w io.WriteCloser
			if w, err = c.Writer(ctx, m.typ); err == nil {
				half := len(m.data) / 2
				w.Write(m.data[:half])
				w.Write(m.data[half:])
				err = w.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("%s of %v-%d: %w", write, m.typ, len(m.data), err)
		}
		var typ wsx.MessageType
		var got []byte
		switch read {
		case "Read":
			typ, got, err = c.Read(ctx)
		case "ReadMessage":
			typ, got, err = c.ReadMessage(ctx, buf[:0])
		case "Reader":
			var r io.Reader
			if typ, r, err = c.Reader(ctx); err == nil {
				got, err = io.ReadAll(r)
			}
		}
		if err != nil {
			return fmt.Errorf("%s of %v-%d: %w", read, m.typ, len(m.data), err)
		}
		if typ != m.typ || !bytes.Equal(got, m.data) {
			return fmt.Errorf("%v-%d came back as %v-%d, changed", m.typ, len(m.data), typ, len(got))
		}
		sent = append(sent, fmt.Sprintf("%v-%d-%s", m.typ, len(m.data), sum(m.data)))
	}
	d["sent"] = sent

	// JSON, through the shared code.
	type event struct {
		Op string `json:"op"`
		N  int    `json:"n"`
	}
	if err := wsx.WriteJSON(ctx, c, event{"wasm ✓", 42}); err != nil {
		return fmt.Errorf("WriteJSON: %w", err)
	}
	var e event
	if err := wsx.ReadJSON(ctx, c, &e); err != nil || e != (event{"wasm ✓", 42}) {
		return fmt.Errorf("ReadJSON: %+v, %v", e, err)
	}

	// A read whose context expires leaves the connection usable.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, err = c.Read(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("a read with nothing to read: %v, want context.DeadlineExceeded", err)
	}
	if err := c.Write(ctx, wsx.MessageText, []byte("after a timeout")); err != nil {
		return err
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "after a timeout" {
		return fmt.Errorf("a read after a timeout: %q, %v", got, err)
	}

	// Codes a browser may not send are refused before anything is sent.
	if err := c.Close(wsx.StatusGoingAway, ""); err == nil {
		return errors.New("close(1001) succeeded in a browser")
	}
	if err := c.Write(ctx, wsx.MessageText, []byte("\xff")); err == nil {
		return errors.New("a text Write of invalid UTF-8 succeeded")
	}
	if err := c.Close(4000, "bye from wasm"); err != nil {
		return fmt.Errorf("close(4000): %w", err)
	}
	_, _, err = c.Read(ctx)
	d["afterClose"] = int(wsx.CloseStatus(err))
	if err := c.Close(4000, "again"); err == nil {
		return errors.New("a second Close succeeded")
	}
	return nil
}

// serverClose asks the server to close, and reads its code and reason.
func serverClose(ctx context.Context, u string, d map[string]any) error {
	c, _, err := wsx.Dial(ctx, u, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsx.MessageText, []byte("close 1001 going away")); err != nil {
		return err
	}
	_, _, err = c.Read(ctx)
	var ce *wsx.CloseError
	if !errors.As(err, &ce) {
		return fmt.Errorf("read: %v, want the server's *wsx.CloseError", err)
	}
	d["code"], d["reason"] = int(ce.Code), ce.Reason
	if err := c.Write(ctx, wsx.MessageText, []byte("late")); err == nil {
		return errors.New("a write after the server's Close succeeded")
	}
	return nil
}

// refusedDial dials a server that refuses the page's origin.
func refusedDial(ctx context.Context, u string, d map[string]any) error {
	c, resp, err := wsx.Dial(ctx, u, nil)
	if err == nil {
		c.CloseNow()
		return errors.New("dial succeeded, want a refusal")
	}
	d["error"], d["response"] = err.Error(), resp != nil
	return nil
}

// readLimit receives a message over its read limit.
func readLimit(ctx context.Context, u string, d map[string]any) error {
	c, _, err := wsx.Dial(ctx, u, &wsx.DialOptions{ConnOptions: wsx.ConnOptions{ReadLimit: 1000}})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsx.MessageBinary, make([]byte, 2000)); err != nil {
		return err
	}
	_, _, err = c.Read(ctx)
	if err == nil {
		return errors.New("a 2000-byte message passed a 1000-byte read limit")
	}
	d["error"] = err.Error()
	if _, _, again := c.Read(ctx); again == nil || again.Error() != err.Error() {
		return fmt.Errorf("the next Read = %v, want the same error", again)
	}
	return nil
}

// netConn runs a text stream through NetConn over the browser's WebSocket, cutting a code
// point between two writes.
func netConn(ctx context.Context, u string, d map[string]any) error {
	c, _, err := wsx.Dial(ctx, u, nil)
	if err != nil {
		return err
	}
	nc := wsx.NetConn(c, wsx.MessageText)
	stream := "a stream through the browser ✓"
	cut := len(stream) - 2 // inside ✓
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte(stream[:cut])); err != nil {
		return err
	}
	if _, err := nc.Write([]byte(stream[cut:])); err != nil {
		return err
	}
	got := make([]byte, len(stream))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != stream {
		return fmt.Errorf("read back %q, %v", got, err)
	}
	d["remote"] = nc.RemoteAddr().String()
	return nc.Close()
}
