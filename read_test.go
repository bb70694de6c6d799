//go:build !js

package wsx

// The wire cases of RFC 6455 §5-§8 (frames in; messages, pongs, close codes and errors out)
// are one table, internal/wiretest's, played over HTTP/1.1 by wire_test.go and over HTTP/2
// and HTTP/3 by the transport modules. Here: what only the Conn's read API does.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/engine/enginetest"
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

// FuzzReadMessage plays a byte stream from a client to a server Conn over TCP, written in
// pieces whose sizes the fuzzer picks, so that reads find the socket empty, and the reading
// side gives its working state back (idle.go), between messages, inside frames and inside
// headers. The messages ReadMessage returns, and the close code its reads end with, must be what
// the engine makes of the same bytes (whose own fuzzing holds it to any split): the driver adds
// nothing and loses nothing, whatever the reads' timing.
func FuzzReadMessage(f *testing.F) {
	for _, tc := range enginetest.ReceiverCases {
		if tc.Config == (enginetest.Config{}) {
			f.Add(tc.Stream, uint64(7))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		if len(stream) > 8<<10 {
			return // twice the read limit; the engine's own fuzzing takes longer streams
		}
		cfg := engine.Config{ReadLimit: 4 << 10, MaxFragments: 16}
		want := receivedMessages(cfg, stream)

		a, b := tcpPair(t)
		defer b.Close()
		c := newConn(a, connConfig{opts: ConnOptions{ReadLimit: cfg.ReadLimit, MaxFragments: cfg.MaxFragments, CloseTimeout: time.Second}})
		defer c.CloseNow()
		go io.Copy(io.Discard, b) // what the Conn sends: pongs, its Close
		go func() {
			rng := rand.New(rand.NewPCG(seed, seed>>7))
			for p := stream; len(p) > 0; {
				k := min(1+rng.IntN(16), len(p))
				if _, err := b.Write(p[:k]); err != nil {
					return
				}
				p = p[k:]
				if rng.IntN(16) == 0 {
					time.Sleep(50 * time.Microsecond) // the Conn's read finds nothing and waits
				}
			}
			b.(*net.TCPConn).CloseWrite()
		}()
		// Reads under a context nobody watches, so that they park as an idle read loop's do;
		// a timer guards against a hang instead.
		hung := time.AfterFunc(10*time.Second, func() { c.CloseNow() })
		defer hung.Stop()
		var got []string
		for {
			typ, p, err := c.ReadMessage(context.Background(), nil)
			if err != nil {
				got = append(got, fmt.Sprintf("end %d", CloseStatus(err)))
				break
			}
			got = append(got, fmt.Sprintf("%v %q", typ, p))
		}
		if !hung.Stop() {
			t.Fatalf("reads hung: %q", got)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("the Conn read %q\nthe engine reads %q", got, want)
		}
	})
}

// receivedMessages returns what a Receiver with cfg makes of stream, as FuzzReadMessage
// prints a Conn's reads: each message, then how the reads end (the peer's close code, the code
// the connection fails with, or 1006 when the stream ends first).
func receivedMessages(cfg engine.Config, stream []byte) []string {
	var r engine.Receiver
	r.Init(cfg)
	in := bytes.Clone(stream)
	var out []string
	var typ MessageType
	msg := make([]byte, 0, 64)
	for {
		ev, nin, nout := r.Next(in, msg[len(msg):cap(msg)])
		in, msg = in[nin:], msg[:len(msg)+nout]
		switch ev.Kind {
		case engine.NeedInput:
			return append(out, fmt.Sprintf("end %d", StatusAbnormalClosure))
		case engine.OutputFull:
			msg = slices.Grow(msg, 64)
		case engine.MessageStart:
			typ, msg = MessageType(ev.Opcode), msg[:0]
		case engine.MessageEnd:
			out = append(out, fmt.Sprintf("%v %q", typ, msg))
			msg = msg[:0]
		case engine.Close:
			return append(out, fmt.Sprintf("end %d", ev.Code))
		case engine.Failed:
			return append(out, fmt.Sprintf("end %d", r.Err().Code))
		}
	}
}
