//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// What a hostile or careless peer, or a careless caller, can do to a connection: none of it may
// hang a call, lose data, break the closing handshake or pin unbounded memory.

// ctxFor returns a context that ends the test's wait on a hang instead of the test binary's.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// io.Reader: a Read with an empty buffer returns at once and consumes nothing, compressed or
// not (it used to spin forever on a compressed message, or drop the rest of the message).
func TestReaderEmptyBuffer(t *testing.T) {
	msg := bytes.Repeat([]byte("read me in pieces "), 200)
	for _, compressed := range []bool{false, true} {
		var c *Conn
		var peer *rawPeer
		if compressed {
			c, peer = compressedPeer(t, false, ConnOptions{}, deflate.Config{})
			peer.write(frameBytes(true, frame.Rsv1, frame.OpBinary, true, deflateMsg(t, msg)))
		} else {
			c, peer = serverWithRawClient(t, ConnOptions{})
			peer.send(true, frame.OpBinary, msg)
		}
		_, r, err := c.Reader(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][]byte{nil, {}} {
			done := make(chan struct{})
			var n int
			go func() { n, err = r.Read(p); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				c.CloseNow()
				t.Fatalf("compressed=%v: Read(%v) does not return", compressed, p)
			}
			if n != 0 || err != nil {
				t.Fatalf("compressed=%v: Read(%v) = %d, %v; want 0, nil", compressed, p, n, err)
			}
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("compressed=%v: then the whole message: %d bytes, %v", compressed, len(got), err)
		}
	}
}

// Ten goroutines closing at once: each waits for the one handshake and reports its outcome,
// and the peer sees exactly one Close and a clean end.
func TestConcurrentClose(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	errs := make(chan error, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- c.Close(StatusNormalClosure, "bye") }()
	}
	got := peer.expectClose(StatusNormalClosure)
	time.Sleep(100 * time.Millisecond) // every Close is waiting now
	peer.send(true, frame.OpClose, got)
	peer.expectEOF()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a concurrent Close returned %v; want the handshake's outcome, nil", err)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); !errors.Is(err, errClosed) {
		t.Errorf("Close after the handshake = %v, want net.ErrClosed", err)
	}
}

// §7.1.7: a peer still sending when its connection is failed reads the Close frame, instead of
// losing it to the reset that closing a socket with unread input causes.
func TestFailedConnectionLetsPeerReadClose_7_1_7(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{ReadLimit: 1 << 20})
	// A message announced at 32 MiB: over the limit at its header. The peer goes on sending
	// 8 MiB of it before it reads anything, as Node's ws does.
	hdr := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: 32 << 20}
	var hb [frame.MaxHeaderSize]byte
	peer.write(hb[:frame.Put(hb[:], hdr)])
	go c.Read(context.Background())
	chunk := make([]byte, 64<<10)
	for range 128 {
		if _, err := peer.nc.Write(chunk); err != nil {
			t.Fatalf("peer write: %v (the connection was reset under it)", err)
		}
	}
	payload := peer.expectClose(StatusMessageTooBig)
	if !strings.Contains(string(payload[2:]), "limit") {
		t.Errorf("close reason %q does not say why", payload[2:])
	}
}

// §8.1: text that is not UTF-8 never goes out: Write refuses it before sending anything, and a
// streamed message keeps an incomplete code point back until its end.
func TestWriteInvalidUTF8_8_1(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	ctx := ctxFor(t, 5*time.Second)
	if err := c.Write(ctx, MessageText, []byte("bad \xff")); err == nil {
		t.Fatal("Write of invalid UTF-8 as text succeeded")
	}
	if err := c.Write(ctx, MessageBinary, []byte("\xff")); err != nil {
		t.Fatal(err)
	}
	if h, p := peer.readFrame(); h.Opcode != frame.OpBinary || string(p) != "\xff" {
		t.Fatalf("first frame on the wire: %v %q (the invalid text went out?)", h.Opcode, p)
	}

	// A code point split between two Writes goes out whole, with the second.
	w, _ := c.Writer(ctx, MessageText)
	w.Write(bytes.Repeat([]byte("a"), 4096-frame.MaxHeaderSize-1))
	w.Write([]byte("\xe2\x82")) // fills the buffer mid code point
	w.Write([]byte("\xacz"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var msg []byte
	for {
		h, p := peer.readFrame()
		if !utf8Prefix(append(msg, p...)) {
			t.Fatalf("a fragment ends inside a code point: % x", p[max(0, len(p)-3):])
		}
		msg = append(msg, p...)
		if h.Fin {
			break
		}
	}
	if !bytes.HasSuffix(msg, []byte("€z")) {
		t.Fatalf("message ends %q", msg[len(msg)-5:])
	}

	// Invalid bytes mid-stream: refused, and Close ends the message with what was valid.
	w, _ = c.Writer(ctx, MessageText)
	w.Write([]byte("ok"))
	if _, err := w.Write([]byte("\xc0\x80")); err == nil {
		t.Error("Writer accepted an overlong encoding")
	}
	if err := w.Close(); err == nil {
		t.Error("Close of a refused text message returned nil")
	}
	// A message ending inside a code point: Close says so, and its last bytes stay back.
	w, _ = c.Writer(ctx, MessageText)
	w.Write([]byte("end\xe2\x82"))
	if err := w.Close(); err == nil {
		t.Error("Close of a text message ending mid code point returned nil")
	}
	for range 2 {
		var msg []byte
		for {
			h, p := peer.readFrame()
			msg = append(msg, p...)
			if h.Fin {
				break
			}
		}
		if string(msg) != "ok" && string(msg) != "end" {
			t.Errorf("message on the wire %q", msg)
		}
	}
}

// utf8Prefix reports whether b is valid UTF-8 that ends on a code point boundary.
func utf8Prefix(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// totalAllocated is the bytes the process has allocated so far.
func totalAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A deflate bomb (4 MiB of zeros in a few KiB) against a 1 MiB limit is refused with 1009
// having allocated no more than the limit and a small constant: no chains of growing copies.
// A message that completes costs at most twice its size, once held and once delivered.
func TestMessageMemoryPeakAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account and sync.Pool drops items at random under it; scripts/test.sh runs this without -race")
	}
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		size int
		code StatusCode
		max  uint64
	}{
		{"bomb", 4 * limit, StatusMessageTooBig, limit + 256<<10},
		{"message at the limit", limit, 0, 2*limit + 256<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := compressedPeer(t, false, ConnOptions{ReadLimit: limit}, deflate.Config{})
			bomb := frameBytes(true, frame.Rsv1, frame.OpBinary, true, deflateMsg(t, make([]byte, tc.size)))
			go peer.nc.Write(bomb)
			runtime.GC()
			before := totalAllocated()
			_, msg, err := c.ReadMessage(ctxFor(t, 10*time.Second), nil)
			allocated := totalAllocated() - before
			if tc.code != 0 {
				failedWith(t, err, tc.code)
			} else if err != nil || len(msg) != tc.size {
				t.Fatalf("%d bytes, %v", len(msg), err)
			}
			if allocated > tc.max {
				t.Errorf("reading allocated %d bytes; want at most %d", allocated, tc.max)
			}
			t.Logf("%d bytes allocated for a %d-byte message, limit %d", allocated, tc.size, limit)
		})
	}
}

// A peer that starts a message and stalls fails its connection after StallTimeout (1008), so
// that the message's memory is not held forever; the same for a frame header cut short. Waiting
// A peer that never reads cannot hold a writer forever: a write without progress for
// The process's message memory limit is shared: connections that each hold the start of a
// large message cannot make it hold more; the one that would go past it fails with 1013, and the
// A peer that starts a message and stalls fails its connection after StallTimeout (1008), so
// that the message's memory is not held forever; the same for a frame header cut short. Waiting
// between messages is not bounded.
func TestStallTimeout(t *testing.T) {
	opts := ConnOptions{StallTimeout: 200 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}
	for _, tc := range []struct {
		name string
		sent []byte
	}{
		{"message", frameBytes(true, 0, frame.OpBinary, true, make([]byte, 1000))[:500]},
		{"compressed message", frameBytes(true, frame.Rsv1, frame.OpBinary, true, deflateMsg(t, make([]byte, 1<<20)))[:300]},
		{"header", []byte{0x82}},
		{"fragments", frameBytes(false, 0, frame.OpText, true, []byte("first fragment"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := compressedPeer(t, false, opts, deflate.Config{})
			peer.write(tc.sent)
			start := time.Now()
			_, _, err := c.ReadMessage(ctxFor(t, 10*time.Second), nil)
			failedWith(t, err, StatusPolicyViolation)
			if d := time.Since(start); d < opts.StallTimeout {
				t.Errorf("failed after %v, before the stall timeout", d)
			}
			peer.expectClose(StatusPolicyViolation)
		})
	}

	c, peer := serverWithRawClient(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*opts.StallTimeout)
	defer cancel()
	if _, _, err := c.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle read = %v, want the context's deadline", err)
	}
	peer.send(true, frame.OpText, []byte("still open"))
	if _, p, err := c.Read(ctxFor(t, 5*time.Second)); err != nil || string(p) != "still open" {
		t.Fatalf("after an idle wait: %q, %v", p, err)
	}

	// A peer that trickles a message keeps it alive: progress resets the bound.
	msg := frameBytes(true, 0, frame.OpBinary, true, make([]byte, 8))
	go func() {
		for i := range msg {
			peer.nc.Write(msg[i : i+1])
			time.Sleep(opts.StallTimeout / 3)
		}
	}()
	if _, p, err := c.Read(ctxFor(t, 10*time.Second)); err != nil || len(p) != 8 {
		t.Fatalf("trickled message: %d bytes, %v", len(p), err)
	}
}

// A peer that never reads cannot hold a writer forever: a write without progress for
// StallTimeout closes the connection.
func TestWriteStallTimeout(t *testing.T) {
	c, _ := serverWithRawClient(t, ConnOptions{StallTimeout: 200 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- c.Write(context.Background(), MessageBinary, make([]byte, 64<<20)) }()
	select {
	case err := <-done:
		if err == nil || !isTimeout(errors.Unwrap(err)) {
			t.Fatalf("Write to a peer that never reads = %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write to a peer that never reads does not return")
	}
	if err := c.Write(context.Background(), MessageText, []byte("x")); err == nil {
		t.Fatal("the connection is still open after a stalled write")
	}
}

// The process's message memory limit is shared: connections that each hold the start of a
// large message cannot make it hold more; the one that would go past it fails with 1013, and the
// memory comes back when the messages go.
func TestMessageMemoryLimit(t *testing.T) {
	old := SetMessageMemoryLimit(1 << 20)
	defer SetMessageMemoryLimit(old)
	held := messageMemory.used.Load()
	var conns []*Conn
	var peers []*rawPeer
	for range 4 {
		c, peer := serverWithRawClient(t, ConnOptions{StallTimeout: -1, CloseTimeout: 100 * time.Millisecond})
		conns, peers = append(conns, c), append(peers, peer)
	}
	errs := make(chan error, len(conns))
	for i, c := range conns {
		go func() {
			_, _, err := c.ReadMessage(context.Background(), nil)
			errs <- err
		}()
		// 10 MiB announced, 400 KiB sent: each holds about 400 KiB.
		hdr := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: 10 << 20}
		var hb [frame.MaxHeaderSize]byte
		peers[i].write(hb[:frame.Put(hb[:], hdr)])
		peers[i].write(make([]byte, 400<<10))
	}
	select {
	case err := <-errs:
		failedWith(t, err, StatusTryAgainLater)
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection failed; %d bytes held against a limit of %d", messageMemory.used.Load()-held, 1<<20)
	}
	if used := messageMemory.used.Load() - held; used > 1<<20 {
		t.Errorf("%d bytes held, over the limit", used)
	}
	for _, c := range conns {
		c.CloseNow()
	}
	for range len(conns) - 1 {
		<-errs
	}
	if used := messageMemory.used.Load() - held; used != 0 {
		t.Errorf("%d bytes still counted after the connections ended", used)
	}
}
