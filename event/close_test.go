//go:build !js

package event

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// newLogger returns a logger writing to b under mu.
func newLogger(mu *sync.Mutex, b *strings.Builder) *log.Logger {
	return log.New(lockedWriter{mu, b}, "", 0)
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestServerClose_7_1_2: Close sends our Close frame; once the peer answers, OnClose reports
// its code with Local set and the server closes the TCP connection first (§7.1.1).
func TestServerClose_7_1_2(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		srv := r.server(nil, func(c *Conn, typ wsx.MessageType, msg []byte) {
			if string(msg) != "close please" {
				return
			}
			if err := c.Close(4321, "done here"); err != nil {
				t.Error(err)
			}
			if err := c.Write(wsx.MessageText, []byte("late")); err == nil {
				t.Error("Write after Close succeeded (§5.5.1)")
			}
			if err := c.Close(wsx.StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
		})
		url := serveOn(t, srv, listen(t))
		c := rawClient(t, url)
		c.send(true, frame.OpText, []byte("close please"))
		if code, reason := c.closeCode(t); code != 4321 || reason != "done here" {
			t.Fatalf("Close %d %q", code, reason)
		}
		c.send(true, frame.OpText, []byte("after the server's close")) // still delivered
		c.send(true, frame.OpClose, []byte{0x0f, 0xa1, 'o', 'k'})
		if _, _, err := c.next(); err != io.EOF {
			t.Errorf("after the handshake: %v, want the server to close TCP", err)
		}
		err := r.waitClosed(t)
		var ce *wsx.CloseError
		if !errors.As(err, &ce) || !ce.Local || ce.Code != 4001 || ce.Reason != "ok" {
			t.Errorf("OnClose(%#v)", err)
		}
		if got := r.String(); got != "|text:close please|text:after the server's close|close:4001:ok" {
			t.Errorf("handlers saw %q", got)
		}
	})
}

// TestCloseTimeout: a peer that never answers our Close is cut off after CloseTimeout.
func TestCloseTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{CloseTimeout: 200 * time.Millisecond}}
		srv := r.server(opts, func(c *Conn, typ wsx.MessageType, msg []byte) { c.Close(wsx.StatusNormalClosure, "") })
		url := serveOn(t, srv, listen(t))
		c := rawClient(t, url)
		c.send(true, frame.OpText, []byte("x"))
		c.closeCode(t)
		if err := r.waitClosed(t); err != errCloseTimeout {
			t.Errorf("OnClose(%v), want %v", err, errCloseTimeout)
		}
		if _, _, err := c.next(); err == nil {
			t.Error("the connection is still open")
		}
	})
}

// TestPeerCloseEchoed_5_5_1: the peer's Close is answered with its code and reason, and
// OnClose reports them.
func TestPeerCloseEchoed_5_5_1(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, nil), listen(t))
		c := dial(t, url, nil)
		if err := c.Close(4999, "ünïcode reason"); err != nil {
			t.Fatal(err)
		}
		err := r.waitClosed(t)
		var ce *wsx.CloseError
		if !errors.As(err, &ce) || ce.Local || ce.Code != 4999 || ce.Reason != "ünïcode reason" {
			t.Errorf("OnClose(%#v)", err)
		}
	})
}

// TestCloseNow: the connection ends at once; OnClose says it was closed here.
func TestCloseNow(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, func(c *Conn, _ wsx.MessageType, _ []byte) {
			c.CloseNow()
			if err := c.Write(wsx.MessageText, []byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after CloseNow: %v", err)
			}
		}), listen(t))
		c := dial(t, url, nil)
		c.Write(context.Background(), wsx.MessageText, []byte("now"))
		if err := r.waitClosed(t); !errors.Is(err, net.ErrClosed) {
			t.Errorf("OnClose(%v)", err)
		}
		if _, _, err := c.Read(context.Background()); wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
			t.Errorf("client: %v", err)
		}
	})
}

// TestPeerGone_7_1_5: a peer that drops TCP without a Close ends the connection with 1006.
func TestPeerGone_7_1_5(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(*testing.T) net.Listener) {
		r := newRecorder()
		url := serveOn(t, r.server(nil, nil), listen(t))
		c := dial(t, url, nil)
		c.CloseNow()
		if err := r.waitClosed(t); wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
			t.Errorf("OnClose(%v)", err)
		}
	})
}
