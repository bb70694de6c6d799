//go:build !js

package wsx

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// readLoop reads c until it fails, as an application's read loop does, and returns the error.
func readLoop(c *Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				ch <- err
				return
			}
		}
	}()
	return ch
}

// §5.5.2: Ping works without a goroutine reading: it reads by itself until its pong.
func TestPingWithoutReader(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	readLoop(client)
	for range 3 {
		if err := server.Ping(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatalf("Ping with nobody reading: %v", err)
		}
	}
}

// Ping's own reading stops at a data message and leaves it, whole, for the application's read,
// which then sees the pong.
func TestPingLeavesDataMessages(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	ctx := ctxFor(t, 5*time.Second)
	if err := client.Write(ctx, MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	readLoop(client)
	pinged := make(chan error, 1)
	go func() { pinged <- server.Ping(ctx) }()
	time.Sleep(50 * time.Millisecond) // Ping has read up to the message
	typ, p, err := server.Read(ctx)
	if err != nil || typ != MessageText || string(p) != "hello" {
		t.Fatalf("Read after Ping = %v %q %v", typ, p, err)
	}
	go server.Read(ctx)
	if err := <-pinged; err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// OnPing and OnPong see what the peer sends; the Ping is answered first (§5.5.2).
func TestOnPingOnPong(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	record := func(kind string) func([]byte) {
		return func(p []byte) { mu.Lock(); seen = append(seen, kind+":"+string(p)); mu.Unlock() }
	}
	c, peer := serverWithRawClient(t, ConnOptions{OnPing: record("ping"), OnPong: record("pong")})
	go c.Read(context.Background())
	peer.send(true, frame.OpPing, []byte("abc"))
	if h, p := peer.readFrame(); h.Opcode != frame.OpPong || string(p) != "abc" {
		t.Fatalf("answer %v %q", h.Opcode, p)
	}
	peer.send(true, frame.OpPong, []byte("xyz"))
	peer.send(true, frame.OpClose, []byte{0x03, 0xe8})
	peer.expectClose(StatusNormalClosure)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, " ") != "ping:abc pong:xyz" {
		t.Errorf("hooks saw %q", seen)
	}
}

// CloseRead: a connection the application only writes to still answers pings, completes the
// closing handshake and fails on a data message (1008).
func TestCloseRead(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{CloseTimeout: 100 * time.Millisecond})
	ctx := c.CloseRead(context.Background())
	peer.send(true, frame.OpPing, []byte("p"))
	if h, _ := peer.readFrame(); h.Opcode != frame.OpPong {
		t.Fatalf("answer %v", h.Opcode)
	}
	if _, _, err := c.Read(context.Background()); !errors.Is(err, errConcurrentRead) {
		t.Fatalf("Read after CloseRead = %v", err)
	}
	if err := c.Write(context.Background(), MessageText, []byte("push")); err != nil {
		t.Fatal(err)
	}
	peer.readFrame()
	peer.send(true, frame.OpText, []byte("unexpected"))
	peer.expectClose(StatusPolicyViolation)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("CloseRead's context is not done after the connection ended")
	}
}

// SetReadLimit applies from the next read: raised after a client authenticated, lowered again.
func TestSetReadLimit(t *testing.T) {
	server, client := connPair(t, ConnOptions{ReadLimit: 1000, CloseTimeout: 100 * time.Millisecond})
	ctx := ctxFor(t, 5*time.Second)
	server.SetReadLimit(4000)
	go client.Write(ctx, MessageBinary, make([]byte, 3000))
	if _, p, err := server.Read(ctx); err != nil || len(p) != 3000 {
		t.Fatalf("3000 bytes under a raised limit: %d, %v", len(p), err)
	}
	server.SetReadLimit(100)
	go client.Write(ctx, MessageBinary, make([]byte, 200))
	_, _, err := server.Read(ctx)
	failedWith(t, err, StatusMessageTooBig)
}

// The reader of the endpoint that started the closing handshake is told so.
func TestCloseErrorSaysWhoClosed(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	serverRead, clientRead := readLoop(server), readLoop(client)
	if err := server.Close(StatusGoingAway, "restart"); err != nil {
		t.Fatal(err)
	}
	var ce *CloseError
	if err := <-serverRead; !errors.As(err, &ce) || !ce.Local || ce.Code != StatusGoingAway || !strings.Contains(err.Error(), "closed by this endpoint") {
		t.Errorf("closing side's reader: %v (%+v)", err, ce)
	}
	if err := <-clientRead; !errors.As(err, &ce) || ce.Local || ce.Reason != "restart" {
		t.Errorf("peer's reader: %v (%+v)", err, ce)
	}
}

// A Ping that reads by itself waits for its Pong like any read: the reading side's state goes
// back to its pool while it waits, and may serve another connection meanwhile. What Ping does
// after the wait touches only the state in place then: a deferred deadline end once wrote into
// the state another connection's read had taken meanwhile, which then ignored its context's
// cancellation. (One P, so that the pool hands the parked state straight to the other read;
// under -race the pool drops some, and the test checks less.)
func TestIdleStatePingWhileParked(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, peer := serverWithRawClient(t, ConnOptions{})
	other, _ := serverWithRawClient(t, ConnOptions{})
	pinged := make(chan error, 1)
	go func() { pinged <- c.Ping(context.Background()) }() // a context nobody watches: the read parks
	h, payload := peer.readFrame()
	if h.Opcode != frame.OpPing {
		t.Fatalf("read %v, want a Ping", h.Opcode)
	}
	time.Sleep(20 * time.Millisecond) // Ping's read parks
	ctx, cancel := context.WithCancel(context.Background())
	read := make(chan error, 1)
	go func() {
		_, _, err := other.Read(ctx) // takes the parked state, and waits with its context watched
		read <- err
	}()
	time.Sleep(20 * time.Millisecond)
	peer.send(true, frame.OpPong, payload)
	if err := <-pinged; err != nil {
		t.Fatalf("Ping = %v", err)
	}
	cancel()
	awaitCanceled(t, read, "the other connection's read")
}
