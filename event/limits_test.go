//go:build !js

package event

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// failedWith checks that err is a *wsx.ProtocolError with code whose rule mentions about.
func failedWith(t *testing.T, err error, code wsx.StatusCode, about string) {
	t.Helper()
	var pe *wsx.ProtocolError
	if !errors.As(err, &pe) || pe.Code != code || !strings.Contains(pe.Rule, about) {
		t.Errorf("OnClose(%v), want a ProtocolError %d about %q", err, code, about)
	}
}

// TestReadStall: a peer that starts a message and stops sending is failed with 1008 after
// StallTimeout, the Close reaches it, and the message's memory is given back.
func TestReadStall(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{StallTimeout: 150 * time.Millisecond}}
		url := serveOn(t, r.server(opts, nil), listen(t))
		c := rawClient(t, url)
		c.send(false, frame.OpBinary, make([]byte, 10000))
		if code, _ := c.closeCode(t); code != 1008 {
			t.Errorf("Close %d, want 1008", code)
		}
		failedWith(t, r.waitClosed(t), wsx.StatusPolicyViolation, "stalled")
	})
}

// TestIdleIsNotAStall: waiting between messages is not bounded by StallTimeout.
func TestIdleIsNotAStall(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{StallTimeout: 50 * time.Millisecond}}
		url := serveOn(t, &Server{Options: opts, OnMessage: echo}, listen(t))
		c := dial(t, url, nil)
		echoes(t, c, "before")
		time.Sleep(300 * time.Millisecond)
		echoes(t, c, "after")
	})
}

// TestSlowReader: a peer that does not read its output is failed with 1008 once the output
// would go past MaxPending, and Write says so.
func TestSlowReader(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		writeErr := make(chan error, 1)
		srv := r.server(nil, func(c *Conn, _ wsx.MessageType, _ []byte) {
			go func() { // not from the handler: the writes go on while the worker serves others
				msg := make([]byte, 64<<10)
				for {
					if err := c.Write(wsx.MessageBinary, msg); err != nil {
						writeErr <- err
						return
					}
				}
			}()
		})
		srv.MaxPending = 256 << 10
		url := serveOn(t, srv, listen(t))
		c := rawClient(t, url)
		c.send(true, frame.OpText, []byte("flood me"))
		if err := <-writeErr; err != errPending {
			t.Errorf("Write: %v, want %v", err, errPending)
		}
		failedWith(t, r.waitClosed(t), wsx.StatusPolicyViolation, "MaxPending")
		// What the socket took arrives, then the end (the Close could not get through).
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := io.Copy(io.Discard, c.br); err != nil && !isReset(err) {
			t.Errorf("after %d bytes: %v", n, err)
		}
	})
}

func isReset(err error) bool { return strings.Contains(err.Error(), "reset") }

// TestWriteStall: output that makes no progress for StallTimeout fails the connection with
// 1008, even below MaxPending.
func TestWriteStall(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{StallTimeout: 200 * time.Millisecond}}
		srv := r.server(opts, func(c *Conn, _ wsx.MessageType, _ []byte) {
			for i := 0; i < 400; i++ { // 25 MiB, more than loopback buffers hold
				if c.Write(wsx.MessageBinary, make([]byte, 64<<10)) != nil {
					return
				}
			}
		})
		srv.MaxPending = 64 << 20
		url := serveOn(t, srv, listen(t))
		c := rawClient(t, url)
		c.send(true, frame.OpText, []byte("write, I will not read"))
		failedWith(t, r.waitClosed(t), wsx.StatusPolicyViolation, "output made no progress")
	})
}

// TestMessageMemoryLimit: messages assembled in event mode count against the process's
// message memory limit; one that does not fit fails its connection with 1013, and the memory
// is given back.
func TestMessageMemoryLimit(t *testing.T) {
	// The limit is the process's: the wsx clients of these tests count against it too.
	defer wsx.SetMessageMemoryLimit(wsx.SetMessageMemoryLimit(512 << 10))
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, echo), listen(t))
		c := rawClient(t, url)
		c.send(false, frame.OpBinary, make([]byte, 300<<10))
		c.send(true, frame.OpContinuation, make([]byte, 300<<10))
		if code, _ := c.closeCode(t); code != 1013 {
			t.Errorf("Close %d, want 1013", code)
		}
		failedWith(t, r.waitClosed(t), wsx.StatusTryAgainLater, "message memory")
		// The budget is whole again: a message of 200 KiB fits.
		echoes(t, dial(t, url, nil), strings.Repeat("m", 200<<10))
	})
}

// TestHandshakeStall: a client that sends half a request does not hold up anyone (one worker
// serves both), and is dropped after HandshakeTimeout.
func TestHandshakeStall(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		srv := &Server{Workers: 1, HandshakeTimeout: 300 * time.Millisecond, OnMessage: echo}
		url := serveOn(t, srv, listen(t))
		nc, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgr"))
		echoes(t, dial(t, url, nil), "not held up")
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("stalled handshake: read %d, %v; want the end of the connection", n, err)
		}
	})
}

// TestSetReadLimit: a lowered limit applies to the next message (1009, §10.4).
func TestSetReadLimit(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, func(c *Conn, typ wsx.MessageType, msg []byte) {
			c.SetReadLimit(8)
			c.Write(typ, msg)
		}), listen(t))
		c := dial(t, url, nil)
		echoes(t, c, strings.Repeat("a", 100))
		c.Write(context.Background(), wsx.MessageText, []byte("123456789"))
		if _, _, err := c.Read(context.Background()); wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
			t.Errorf("over the new limit: %v", err)
		}
		failedWith(t, r.waitClosed(t), wsx.StatusMessageTooBig, "read limit")
	})
}
