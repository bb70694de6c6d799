//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// A red team's attacks on an established connection, one test each; see also hostile_test.go
// and bench/hostile (the figures). Tests named TestDefect... fail on the code they were
// written against: each describes the defect it shows.

// nonSocket hides the socket under a net.Conn, as a *tls.Conn does: wsx then reads and writes
// through the net.Conn rather than through syscall.RawConn. CloseWrite stays, as on *tls.Conn.
type nonSocket struct{ net.Conn }

func (c nonSocket) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// serverOver returns a server Conn over a (possibly wrapped) TCP connection and a raw client.
func serverOver(t testing.TB, socket bool, opts ConnOptions) (*Conn, *rawPeer) {
	a, b := tcpPair(t)
	var nc net.Conn = a
	if !socket {
		nc = nonSocket{a}
	}
	return newConn(nc, connConfig{opts: opts}), &rawPeer{t: t, nc: b, client: true}
}

var transports = []transport{{"socket", true}, {"non-socket (TLS)", false}}

// A transport is a kind of connection a Conn runs on: a socket, read and written through
// syscall.RawConn, or any other net.Conn.
type transport struct {
	name   string
	socket bool
}

// serverOn returns a server Conn with opts on one end of a TCP pair, on the socket or on a
// net.Conn that hides it as tr says, and the other end; both ends' kernel buffers are set to
// bufSize, so that large writes wait for the reader.
func serverOn(t *testing.T, tr transport, opts ConnOptions, bufSize int) (*Conn, net.Conn) {
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(bufSize)
	b.(*net.TCPConn).SetReadBuffer(bufSize)
	var nc net.Conn = a
	if !tr.socket {
		nc = nonSocket{a}
	}
	return newConn(nc, connConfig{opts: opts}), b
}

// A bound lasts as long as what it bounds. The stall bound armed while a frame arrives in
// pieces (a control frame, or a large data frame read straight into the caller's buffer) ends
// with the frame: a read that then waits for the next message, as a read loop does, is bounded
// by its context alone, on a socket and on a transport that is not one (a *tls.Conn: every
// wss:// connection). On the latter, a Ping in pieces used to fail the healthy idle connection
// with 1008 StallTimeout later.
func TestStallBoundEndsWithFrame(t *testing.T) {
	large := frameBytes(true, 0, frame.OpBinary, true, make([]byte, 64<<10))
	for _, tr := range transports {
		for _, tc := range []struct {
			name  string
			input []byte
			cut   int
		}{
			{"Ping", frameBytes(true, 0, frame.OpPing, true, []byte("split")), 3}, // the header, cut short
			{"large message", large, 8 << 10},
		} {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				opts := ConnOptions{StallTimeout: 200 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}
				c, peer := serverOver(t, tr.socket, opts)
				go func() {
					peer.nc.Write(tc.input[:tc.cut])
					time.Sleep(50 * time.Millisecond)
					peer.nc.Write(tc.input[tc.cut:])
				}()
				buf := make([]byte, 0, 128<<10)
				ctx, cancel := context.WithTimeout(context.Background(), 4*opts.StallTimeout)
				defer cancel()
				_, msg, err := c.ReadMessage(ctx, buf)
				if len(tc.input) == len(large) {
					if err != nil || len(msg) != 64<<10 {
						t.Fatalf("the message in two pieces: %d bytes, %v", len(msg), err)
					}
					_, _, err = c.ReadMessage(ctx, buf)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("an idle connection after a frame in two pieces: read = %v; want the context's deadline", err)
				}
				if len(tc.input) != len(large) {
					if h, p := peer.readFrame(); h.Opcode != frame.OpPong || string(p) != "split" {
						t.Fatalf("answer to the Ping: %v %q", h.Opcode, p)
					}
				}
			})
		}
	}
}

// A call's deadline ends with the call: after a Write whose context's deadline has passed,
// Pongs and the closing handshake still go out. On a socket the write deadline used to stay,
// so that every later Pong was dropped and Close failed.
func TestCallBoundEndsWithCall(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, peer := serverOver(t, tr.socket, ConnOptions{CloseTimeout: time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err := c.Write(ctx, MessageText, []byte("hi"))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			peer.readFrame()
			time.Sleep(100 * time.Millisecond) // past the Write's deadline
			peer.send(true, frame.OpPing, []byte("p"))
			go c.Read(context.Background())
			if h, p := peer.readFrame(); h.Opcode != frame.OpPong || string(p) != "p" {
				t.Fatalf("answer to the Ping: %v %q", h.Opcode, p)
			}
			go func() {
				p := peer.expectClose(StatusNormalClosure)
				peer.send(true, frame.OpClose, p)
			}()
			if err := c.Close(StatusNormalClosure, ""); err != nil {
				t.Fatalf("Close = %v", err)
			}
		})
	}
}

// StallTimeout closes a write that the peer does not let progress, never one that progresses:
// a large write to a peer that reads slowly but steadily goes out whole, however long it takes,
// on a socket (whose large frames go out through net.Conn's vectored write) and on a transport
// that is not one. Both used to be cut off StallTimeout after the write began.
func TestStallBoundFollowsWriteProgress(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, b := serverOn(t, tr, ConnOptions{StallTimeout: 500 * time.Millisecond}, 32<<10)
			const size = 3 << 20
			got := make(chan int64, 1)
			go func() {
				// A slow reader: 32 KiB every 10 ms (a piece of stallPiece bytes in 80 ms), never
				// a pause near StallTimeout; the whole write takes 2 StallTimeouts.
				var n int64
				buf := make([]byte, 32<<10)
				for n < size {
					k, err := b.Read(buf)
					n += int64(k)
					if err != nil {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				got <- n
			}()
			start := time.Now()
			err := c.Write(ctxFor(t, 30*time.Second), MessageBinary, make([]byte, size))
			if err != nil {
				t.Errorf("Write to a slow but steady reader failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			}
			b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n := <-got; err == nil && n < size+10 {
				t.Errorf("the reader got %d bytes of %d", n, size+10)
			}
		})
	}
}

// Every byte wsx holds of a message counts against the message memory limit: the messages
// Close reads while it waits for the peer's Close (queueUntilClose, §7.1.2) count until the
// application reads them; those the limit has no room for are skipped, holding nothing, the
// reads get an error that says so in their place, and the closing handshake completes. They
// used to be held outside the limit, up to the read limit per connection: a peer answering
// Close with messages made the process hold ReadLimit bytes (32 MiB by default, from 32 KiB
// compressed) per closing connection, whatever SetMessageMemoryLimit said.
func TestCloseQueueCountsAgainstMessageMemory(t *testing.T) {
	const budget = 1 << 20
	old := SetMessageMemoryLimit(budget)
	defer SetMessageMemoryLimit(old)
	c, peer := serverWithRawClient(t, ConnOptions{ReadLimit: 8 << 20, CloseTimeout: 5 * time.Second})
	go func() {
		payload := peer.expectClose(StatusNormalClosure)
		for range 6 {
			peer.nc.Write(frameBytes(true, 0, frame.OpBinary, true, make([]byte, 900<<10)))
		}
		peer.nc.Write(frameBytes(true, 0, frame.OpClose, true, payload))
	}()
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close = %v; want the handshake completed", err)
	}
	queued := 0
	if c.r.readState != nil { // none: Close kept no message
		for _, m := range c.r.queued {
			queued += cap(m.data)
		}
	}
	if used := messageMemory.used.Load(); queued > budget || int64(queued) != used {
		t.Errorf("Close holds %d bytes of the peer's messages for the application, %d counted (limit %d)", queued, used, budget)
	}
	if _, msg, err := c.Read(ctxFor(t, time.Second)); err != nil || len(msg) != 900<<10 {
		t.Fatalf("first read after Close: %d bytes, %v", len(msg), err)
	}
	if _, _, err := c.Read(ctxFor(t, time.Second)); err != errCloseDropped {
		t.Fatalf("second read after Close: %v; want the messages dropped", err)
	}
	if _, _, err := c.Read(ctxFor(t, time.Second)); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("third read after Close: %v; want the peer's Close", err)
	}
	if used := messageMemory.used.Load(); used != 0 {
		t.Errorf("%d bytes still counted after the messages were read", used)
	}
}

// Every byte wsx holds of a message counts against the message memory limit, or is refused
// with 1013: a ReadMessage cut short by its context keeps what it had received in a copy
// (heldMessage.prepend) for the next read, and when the limit has no room for the copy, the
// connection fails with 1013 (StatusTryAgainLater). wsx used to hold the copy anyway,
// uncounted: with a caller's buffer large enough for the message (nothing counted while it
// arrives), N connections whose peers stall past the callers' read timeouts made the process
// hold N x ReadLimit over the limit.
// heldOf returns what c holds of a message for ReadMessage, and what of it is counted against
// the message memory limit; a connection whose read side has ended holds nothing.
func heldOf(c *Conn) (int, int64) {
	if c.r.readState == nil {
		return 0, 0
	}
	return c.r.held.n, c.r.held.charged
}

func TestInterruptedReadCountsAgainstMessageMemory(t *testing.T) {
	const budget = 1 << 20
	old := SetMessageMemoryLimit(budget)
	defer SetMessageMemoryLimit(old)
	for _, room := range []bool{true, false} {
		c, peer := serverWithRawClient(t, ConnOptions{StallTimeout: -1})
		size := 3 << 20
		if room {
			size = 3 << 10
		}
		hdr := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: int64(size)}
		var hb [frame.MaxHeaderSize]byte
		peer.write(hb[:frame.Put(hb[:], hdr)])
		go peer.nc.Write(make([]byte, size*2/3)) // two thirds of it, then silence
		buf := make([]byte, 0, 4<<20)
		var err error
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, _, err = c.ReadMessage(ctx, buf[:0])
			cancel()
			if held, _ := heldOf(c); !errors.Is(err, context.DeadlineExceeded) || held >= size*2/3 {
				break // failed, or holding what arrived
			}
		}
		if held, charged := heldOf(c); held > budget || int64(held) > charged {
			t.Errorf("after the read timed out wsx holds %d bytes of the message, %d of it counted against the limit (%d)",
				held, charged, budget)
		}
		if room {
			if err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a small interrupted message: %v, want the context's deadline", err)
			}
			go peer.nc.Write(make([]byte, size-size*2/3))
			if _, msg, err := c.ReadMessage(ctxFor(t, 5*time.Second), buf[:0]); err != nil || len(msg) != size {
				t.Errorf("the rest of the message: %d bytes, %v", len(msg), err)
			}
		} else {
			failedWith(t, err, StatusTryAgainLater)
			peer.expectClose(StatusTryAgainLater)
		}
		c.CloseNow()
	}
	if used := messageMemory.used.Load(); used != 0 {
		t.Errorf("%d bytes still counted", used)
	}
}

// A connection read and written with a context that outlives it (a server's base context,
// signal.NotifyContext's) can be collected once it is closed and dropped: closing it stops
// watching every context. deadline.begin's context.AfterFunc used to be stopped only when a
// call brought another context, so that every such connection (58 KB with compression's
// state) stayed reachable from the context until it was done: a long-running server leaked
// all of them.
func TestClosedConnReleasesContexts(t *testing.T) {
	serverCtx, cancel := context.WithCancel(context.Background()) // lives as long as the server
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{{"context.Background", context.Background()}, {"a server's context", serverCtx}} {
		const conns = 20
		var freed atomic.Int32
		for range conns {
			a, b := tcpPair(t)
			p := noContext
			server := newConn(a, connConfig{deflate: &p})
			client := newConn(b, connConfig{client: true, deflate: &p})
			runtime.AddCleanup(server, func(n *atomic.Int32) { n.Add(1) }, &freed)
			go client.Write(tc.ctx, MessageText, bytes.Repeat([]byte("hello "), 100))
			if _, _, err := server.Read(tc.ctx); err != nil {
				t.Fatal(err)
			}
			if err := server.Write(tc.ctx, MessageText, []byte("bye")); err != nil {
				t.Fatal(err)
			}
			server.CloseNow()
			client.CloseNow()
		}
		for i := 0; i < 50 && freed.Load() < conns; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		if n := freed.Load(); n < conns/2 {
			t.Errorf("used with %s: %d of %d closed and dropped connections were collected", tc.name, n, conns)
		}
	}
}

// A write cut off by StallTimeout says so, whatever the context: not context.DeadlineExceeded
// (the caller's deadline, a minute away, has not passed), but an error that names the stall and
// is a timeout (os.ErrDeadlineExceeded). ctxError used to take every deadline error for the
// context's.
func TestWriteStallIsNotContextDeadline(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, peer := serverOver(t, tr.socket, ConnOptions{StallTimeout: 200 * time.Millisecond})
			peer.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
			ctx := ctxFor(t, time.Minute)
			err := c.Write(ctx, MessageBinary, make([]byte, 16<<20))
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Write = %v (context: %v)", err, ctx.Err())
			}
			if errors.Is(err, context.DeadlineExceeded) || !isStall(err) {
				t.Errorf("a write stalled by the peer reports %q; want the stall, not the context's deadline", err)
			}
			if strings.Count(err.Error(), "wsx: ") != 1 {
				t.Errorf("error %q: want one \"wsx: \" prefix", err)
			}
		})
	}
}

// Guards: attacks that wsx holds today.

// §5.2, §10.4: a frame announcing 2^62 bytes fails at its header against the read limit; with
// no limit, what wsx holds follows what arrives, never what the header announces.
func TestAttackHugeLength_5_2(t *testing.T) {
	hdr := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: 1 << 62}
	var hb [frame.MaxHeaderSize]byte
	head := hb[:frame.Put(hb[:], hdr)]

	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.write(head)
	_, _, err := c.Read(ctxFor(t, 5*time.Second))
	failedWith(t, err, StatusMessageTooBig)
	peer.expectClose(StatusMessageTooBig)

	if raceEnabled {
		return // the race detector allocates on its own account
	}
	c, peer = serverWithRawClient(t, ConnOptions{ReadLimit: -1})
	peer.write(head)
	go func() {
		peer.nc.Write(make([]byte, 1<<20))
		peer.nc.(*net.TCPConn).CloseWrite()
	}()
	runtime.GC()
	before := totalAllocated()
	_, _, err = c.ReadMessage(ctxFor(t, 5*time.Second), nil)
	if allocated := totalAllocated() - before; allocated > 4<<20 {
		t.Errorf("reading 1 MiB of a frame announcing 2^62 bytes allocated %d bytes", allocated)
	}
	if CloseStatus(err) != StatusAbnormalClosure {
		t.Errorf("a message cut short by the peer's FIN: %v, want status 1006", err)
	}
}

// §10.4: a million one-byte fragments: the connection fails with 1008 at the fragment after
// MaxFragments (empty fragments count too), having held no more than the bytes received.
func TestAttackMillionFragments_10_4(t *testing.T) {
	for _, size := range []int{1, 0} {
		c, peer := serverWithRawClient(t, ConnOptions{})
		go func() {
			var b bytes.Buffer
			b.Write(frameBytes(false, 0, frame.OpBinary, true, make([]byte, size)))
			for i := 1; i < 1_000_000; i++ {
				b.Write(frameBytes(false, 0, frame.OpContinuation, true, make([]byte, size)))
				if b.Len() > 64<<10 {
					if _, err := peer.nc.Write(b.Bytes()); err != nil {
						return // the connection failed
					}
					b.Reset()
				}
			}
		}()
		_, msg, err := c.Read(ctxFor(t, 20*time.Second))
		failedWith(t, err, StatusPolicyViolation)
		if msg != nil {
			t.Errorf("a failed message returned %d bytes", len(msg))
		}
		peer.expectClose(StatusPolicyViolation)
	}
}

// §5.5.2: a flood of Pings, each answered in order, without the connection holding more as it
// goes; a data message behind them arrives intact.
func TestAttackPingFlood_5_5_2(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	const pings = 20_000
	go func() {
		var b bytes.Buffer
		for i := range pings {
			b.Write(frameBytes(true, 0, frame.OpPing, true, []byte{byte(i >> 8), byte(i)}))
			if b.Len() > 32<<10 {
				peer.nc.Write(b.Bytes())
				b.Reset()
			}
		}
		b.Write(frameBytes(true, 0, frame.OpText, true, []byte("after the flood")))
		peer.nc.Write(b.Bytes())
	}()
	got := make(chan error, 1)
	go func() {
		_, p, err := c.Read(ctxFor(t, 30*time.Second))
		if err == nil && string(p) != "after the flood" {
			err = errors.New("wrong message: " + string(p))
		}
		got <- err
	}()
	for i := range pings {
		h, p := peer.readFrame()
		if h.Opcode != frame.OpPong || !bytes.Equal(p, []byte{byte(i >> 8), byte(i)}) {
			t.Fatalf("answer %d: %v %x", i, h.Opcode, p)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// §5.5.2, §5.5.3: a peer that sends Pings and never reads gets the connection closed
// StallTimeout after it stopped taking our bytes, however many Pongs wsx tries to send it.
// Each Pong that cannot go out within CloseTimeout is dropped (nothing of it written), and the
// next used to start a new wait of its own: 10,000 Pings held the reader for about 10,000 x
// CloseTimeout. The transport is a net.Pipe, which takes a write whole or not at all, as a
// stream whose flow-control window is shut does; on TCP the peer's kernel takes small Pongs
// in, packing them, as if it read them.
func TestNeverReadingPeerClosedAfterStallTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(a, connConfig{opts: ConnOptions{CloseTimeout: 100 * time.Millisecond, StallTimeout: time.Second}})
	defer c.CloseNow()
	go b.Write(bytes.Repeat(frameBytes(true, 0, frame.OpPing, true, nil), 10_000))
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background())
		done <- err
	}()
	awaitStall(t, c, done, 8*time.Second, "a reader sent Pings by a peer that never reads")
}

// awaitStall waits up to within for done to report the stall that closed c.
func awaitStall(t *testing.T, c *Conn, done <-chan error, within time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !isStall(err) {
			t.Errorf("%s ended with %v; want the stall (StallTimeout) that closed the connection", what, err)
		}
	case <-time.After(within):
		c.CloseNow()
		<-done
		t.Fatalf("%s does not end", what)
	}
}

// isStall reports whether err is the error of a write StallTimeout cut off.
func isStall(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) && strings.Contains(err.Error(), "StallTimeout")
}

// §8.1, RFC 7692 §6.2: invalid UTF-8 inside a compressed text message fails at once with 1007;
// invalid compressed data fails with 1007; RSV1 on a continuation frame with 1002.
func TestAttackCompressedInvalidData(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  StatusCode
	}{
		{"invalid UTF-8, compressed", frameBytes(true, frame.Rsv1, frame.OpText, true, deflateMsg(t, []byte("ok \xff"))), StatusInvalidFramePayloadData},
		{"reserved block type", frameBytes(true, frame.Rsv1, frame.OpBinary, true, []byte{0x07, 0x00}), StatusInvalidFramePayloadData},
		{"stored block with a bad length", frameBytes(true, frame.Rsv1, frame.OpBinary, true, []byte{0x00, 0x05, 0x00, 0x00, 0x00}), StatusInvalidFramePayloadData},
		{"RSV1 on a continuation", append(frameBytes(false, frame.Rsv1, frame.OpBinary, true, deflateMsg(t, []byte("a"))),
			frameBytes(true, frame.Rsv1, frame.OpContinuation, true, deflateMsg(t, []byte("b")))...), StatusProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := compressedPeer(t, false, ConnOptions{}, deflate.Config{})
			peer.write(tc.input)
			_, _, err := c.Read(ctxFor(t, 5*time.Second))
			failedWith(t, err, tc.want)
			peer.expectClose(tc.want)
		})
	}
}

// §5.5.1: after its Close a peer sends nothing more; what it sends anyway is not delivered, and
// the closing handshake completes.
func TestAttackPeerSendsAfterClose_5_5_1(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	var b bytes.Buffer
	b.Write(frameBytes(true, 0, frame.OpClose, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}))
	b.Write(frameBytes(true, 0, frame.OpText, true, []byte("after the close")))
	peer.write(b.Bytes())
	_, msg, err := c.Read(ctxFor(t, 5*time.Second))
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != "bye" {
		t.Fatalf("Read = %q, %v; want the peer's Close 1000 bye", msg, err)
	}
	peer.expectClose(StatusNormalClosure)
	if _, _, err := c.Read(ctxFor(t, time.Second)); !errors.As(err, &ce) {
		t.Errorf("the next Read = %v; want the Close again", err)
	}
}

// A peer that never answers our Close: Close returns after CloseTimeout with an error and the
// connection is closed, on both sides of the connection.
func TestAttackPeerNeverAnswersClose(t *testing.T) {
	opts := ConnOptions{CloseTimeout: 200 * time.Millisecond}
	for _, client := range []bool{false, true} {
		var c *Conn
		var peer *rawPeer
		if client {
			c, peer = clientWithRawServer(t, opts)
		} else {
			c, peer = serverWithRawClient(t, opts)
		}
		done := make(chan error, 1)
		go func() { done <- c.Close(StatusNormalClosure, "") }()
		peer.expectClose(StatusNormalClosure)
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("client=%v: Close without the peer's answer returned nil", client)
			}
		case <-time.After(10 * opts.CloseTimeout):
			t.Fatalf("client=%v: Close waits past CloseTimeout for a peer that never answers", client)
		}
		peer.expectEOF()
	}
}

// §7.1.1: a server that answers our Close but never closes TCP: the client closes it after
// CloseTimeout and reports a completed handshake.
func TestAttackServerNeverClosesTCP_7_1_1(t *testing.T) {
	c, peer := clientWithRawServer(t, ConnOptions{CloseTimeout: 200 * time.Millisecond})
	go func() {
		p := peer.expectClose(StatusNormalClosure)
		peer.send(true, frame.OpClose, p)
	}()
	start := time.Now()
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if d := time.Since(start); d > 10*200*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	peer.expectEOF()
}

// Half-closed TCP: a peer that shuts its sending side without a Close frame ends the read side
// with 1006, in the middle of a message too; the connection can still send, and Close sends
// its Close frame and ends the connection without waiting for an answer that cannot come.
func TestAttackHalfClosedPeer_7_1_5(t *testing.T) {
	for _, midMessage := range []bool{false, true} {
		c, peer := serverWithRawClient(t, ConnOptions{CloseTimeout: 5 * time.Second})
		if midMessage {
			peer.write(frameBytes(false, 0, frame.OpText, true, []byte("half a")))
		}
		peer.nc.(*net.TCPConn).CloseWrite()
		_, _, err := c.Read(ctxFor(t, 5*time.Second))
		if CloseStatus(err) != StatusAbnormalClosure || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("mid-message=%v: Read after the peer's FIN = %v; want 1006, unexpected EOF", midMessage, err)
		}
		if err := c.Write(ctxFor(t, 5*time.Second), MessageText, []byte("still here")); err != nil {
			t.Fatalf("Write to a half-closed peer: %v", err)
		}
		if h, p := peer.readFrame(); string(p) != "still here" {
			t.Fatalf("peer read %v %q", h.Opcode, p)
		}
		start := time.Now()
		if err := c.Close(StatusNormalClosure, ""); err == nil {
			t.Error("Close after the peer's FIN reported a completed handshake")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close waited %v for an answer that cannot come", d)
		}
		peer.expectClose(StatusNormalClosure)
		peer.expectEOF()
	}
}

// A peer that never reads cannot hold a writer forever with context.Background: a streamed
// message, a compressed one, and Close and Ping behind them all return.
func TestAttackPeerNeverReads(t *testing.T) {
	opts := ConnOptions{StallTimeout: 200 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}
	big := make([]byte, 4<<20)
	for _, tc := range []struct {
		name  string
		write func(c *Conn) error
	}{
		{"Writer", func(c *Conn) error {
			w, err := c.Writer(context.Background(), MessageBinary)
			if err != nil {
				return err
			}
			for range 16 {
				if _, err := w.Write(big[:1<<20]); err != nil {
					return err
				}
			}
			return w.Close()
		}},
		{"compressed Write", func(c *Conn) error {
			return c.Write(context.Background(), MessageBinary, big)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			a.(*net.TCPConn).SetWriteBuffer(16 << 10)
			b.(*net.TCPConn).SetReadBuffer(4 << 10)
			p := noContext
			c := newConn(a, connConfig{opts: opts, deflate: &p, compression: deflate.Config{Level: 1}})
			if tc.name == "compressed Write" {
				// Data that compresses badly, so that the peer's buffers fill.
				for i := range big {
					big[i] = byte(i*7919>>3) ^ byte(i>>11)
				}
			}
			errs := make(chan error, 3)
			go func() { errs <- tc.write(c) }()
			time.Sleep(50 * time.Millisecond)
			go func() { errs <- c.Close(StatusNormalClosure, "") }()
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				errs <- c.Ping(ctx)
			}()
			for range 3 {
				select {
				case <-errs:
				case <-time.After(10 * time.Second):
					c.CloseNow()
					t.Fatal("a call on a connection whose peer never reads does not return")
				}
			}
		})
	}
}

// A peer that pipelines thousands of messages and never reads the echoes: replies held for
// coalescing (coalesce.go, 64 KiB at most) go out, the echo's writes stall, and StallTimeout
// closes the connection: the echo loop ends, holding nothing, and learns why (coalesce.go
// promises that later calls report it). It used to learn only "use of closed connection"
// (net.ErrClosed alone, what a connection this side closed reports): the held replies' flush
// stalled and closed the connection, and writeData and ioError checked "closed" before the
// write error that says why.
func TestPipeliningPeerNeverReadingLearnsWhy(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{StallTimeout: 300 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	c.nc.(*net.TCPConn).SetWriteBuffer(16 << 10)
	peer.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	go peer.nc.Write(bytes.Repeat(frameBytes(true, 0, frame.OpBinary, true, make([]byte, 100)), 20_000))
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 0, 4096)
		for {
			typ, msg, err := c.ReadMessage(context.Background(), buf[:0])
			if err != nil {
				done <- err
				return
			}
			if err := c.Write(context.Background(), typ, msg); err != nil {
				done <- err
				return
			}
		}
	}()
	awaitStall(t, c, done, 10*time.Second, "an echo loop whose peer pipelines and never reads")
	c.w.frameLock.lock(context.Background()) // a flush on its timer may still run
	c.mu.Lock()
	if st := c.w.sendState; st != nil && st.held != nil && cap(*st.held) > holdBufferSize {
		t.Errorf("%d bytes held for coalescing", cap(*st.held))
	}
	c.mu.Unlock()
	c.w.frameLock.unlock()
}
