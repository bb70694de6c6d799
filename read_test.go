//go:build !js

package wsx

// The wire cases of RFC 6455 §5-§8 (frames in; messages, pongs, close codes and errors out)
// are one table, internal/wiretest's, played over HTTP/1.1 by wire_test.go and over HTTP/2
// and HTTP/3 by the transport modules. Here: what only the Conn's read API does.

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// An expired read leaves the connection usable: the next read carries on with the same
// message, even when the deadline struck inside a frame.
func TestReadTimeoutResumes(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	msg := frameBytes(true, 0, frame.OpText, true, []byte("split across a timeout"))
	peer.write(msg[:10]) // header and part of the payload
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read = %v, want context.DeadlineExceeded", err)
	}
	peer.write(msg[10:])
	typ, p, err := c.Read(context.Background())
	if err != nil || typ != MessageText || string(p) != "split across a timeout" {
		t.Fatalf("Read after timeout = %v %q %v", typ, p, err)
	}
}

// Cancelling a context interrupts a blocked read, and the connection stays usable.
func TestReadCancel(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
	peer.send(true, frame.OpBinary, []byte("still here"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "still here" {
		t.Fatalf("Read after cancel = %q %v", p, err)
	}
}

// A streaming Reader interrupted by its context is resumed by the next Reader.
func TestReaderTimeoutResumes(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(false, frame.OpBinary, []byte("first "))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	typ, r, err := c.Reader(ctx)
	if err != nil || typ != MessageBinary {
		t.Fatal(typ, err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, context.DeadlineExceeded) || string(got) != "first " {
		t.Fatalf("ReadAll = %q %v", got, err)
	}
	peer.send(true, frame.OpContinuation, []byte("second"))
	typ, r, err = c.Reader(context.Background())
	if err != nil || typ != MessageBinary {
		t.Fatal(typ, err)
	}
	if rest, err := io.ReadAll(r); err != nil || string(rest) != "second" {
		t.Fatalf("rest = %q %v", rest, err)
	}
}

// A message left unread is discarded by the next Reader.
func TestReaderDiscardsUnreadRest(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(true, frame.OpBinary, []byte("skipped"))
	peer.send(true, frame.OpText, []byte("wanted"))
	if _, _, err := c.Reader(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, r, err := c.Reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || string(got) != "wanted" {
		t.Fatalf("got %q %v", got, err)
	}
}

// A second concurrent read gets an error, not a panic or interleaved data.
func TestConcurrentReadRefused(t *testing.T) {
	c, _ := serverWithRawClient(t, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go c.Read(ctx)
	time.Sleep(20 * time.Millisecond)
	if _, _, err := c.Read(context.Background()); err != errConcurrentRead {
		t.Fatalf("concurrent Read = %v", err)
	}
	cancel()
}

// §7.1.5: a connection that ends without a Close frame reports status 1006.
func TestReadAbnormalClosure_7_1_5(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.write(frameBytes(true, 0, frame.OpBinary, true, []byte("truncated"))[:8])
	peer.nc.Close()
	_, _, err := c.Read(context.Background())
	if CloseStatus(err) != StatusAbnormalClosure || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Read = %v, want status 1006 wrapping io.ErrUnexpectedEOF", err)
	}
}

// Frames sent right behind the handshake, already buffered by it, are read first.
func TestReadBufferedAfterHandshake(t *testing.T) {
	// covered end to end by the accept and dial tests; here the Conn alone
	a, b := tcpPair(t)
	early := frameBytes(true, 0, frame.OpText, true, []byte("early"))
	late := frameBytes(true, 0, frame.OpText, true, []byte("late"))
	br := newBufferedReader(early)
	c := newConn(a, connConfig{br: br})
	b.Write(late)
	for _, want := range []string{"early", "late"} {
		if _, p, err := c.Read(context.Background()); err != nil || string(p) != want {
			t.Fatalf("Read = %q %v, want %q", p, err, want)
		}
	}
}
