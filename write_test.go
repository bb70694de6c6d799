//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// §5.1, §5.3: a client masks every frame with a fresh key; a server never masks.
func TestWriteMasking_5_3(t *testing.T) {
	client, server := clientWithRawServer(t, ConnOptions{})
	keys := map[[4]byte]bool{}
	for i := range 20 {
		msg := bytes.Repeat([]byte{byte(i)}, 10+i)
		if err := client.Write(context.Background(), MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		h, p := server.readFrame()
		if !h.Masked || !bytes.Equal(p, msg) || h.Opcode != frame.OpBinary || !h.Fin || h.Rsv != 0 {
			t.Fatalf("client frame %d: %+v %x", i, h, p)
		}
		keys[h.Key] = true
	}
	if len(keys) < 19 {
		t.Errorf("only %d distinct masking keys in 20 frames", len(keys))
	}

	srv, peer := serverWithRawClient(t, ConnOptions{})
	if err := srv.Write(context.Background(), MessageText, []byte("plain")); err != nil {
		t.Fatal(err)
	}
	if h, p := peer.readFrame(); h.Masked || string(p) != "plain" || h.Opcode != frame.OpText {
		t.Fatalf("server frame: %+v %q", h, p)
	}
}

// The client masks in its own buffer: the caller's slice is never modified.
func TestWriteLeavesPayloadAlone_5_3(t *testing.T) {
	client, server := clientWithRawServer(t, ConnOptions{WriteBufferSize: 64})
	msg := bytes.Repeat([]byte("abcdefgh"), 100) // larger than the buffer: masked in pieces
	orig := bytes.Clone(msg)
	go client.Write(context.Background(), MessageBinary, msg)
	if _, p := server.readFrame(); !bytes.Equal(p, orig) {
		t.Fatal("payload garbled")
	}
	if !bytes.Equal(msg, orig) {
		t.Fatal("Write modified the caller's slice")
	}
}

// §5.2: lengths use the 7-bit, 16-bit and 64-bit forms at their boundaries.
func TestWriteLengthEncodings_5_2(t *testing.T) {
	srv, peer := serverWithRawClient(t, ConnOptions{})
	for _, n := range []int{0, 125, 126, 65535, 65536, 200000} {
		go srv.Write(context.Background(), MessageBinary, make([]byte, n))
		want := frame.Size(int64(n), false)
		peer.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		hdr := make([]byte, want)
		if _, err := io.ReadFull(peer.nc, hdr); err != nil {
			t.Fatal(err)
		}
		h, hn, err := frame.Parse(hdr)
		if err != nil || hn != want || h.Length != int64(n) {
			t.Fatalf("length %d: header %x parsed as %+v, %d, %v", n, hdr, h, hn, err)
		}
		if _, err := io.CopyN(io.Discard, peer.nc, int64(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// §5.4: a streamed message goes out as a first frame with the message's opcode, then
// continuation frames, the last with FIN; a ping may go between them.
func TestWriterFragments_5_4(t *testing.T) {
	c, peer := clientWithRawServer(t, ConnOptions{WriteBufferSize: 64})
	w, err := c.Writer(context.Background(), MessageText)
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("é"), 40) // 80 bytes: more than a buffer's worth
	if _, err := w.Write(part); err != nil {
		t.Fatal(err)
	}
	pingDone := make(chan error, 1)
	go func() { pingDone <- c.writeControl(ctlPing, 0, []byte("between"), time.Time{}, nil) }()
	if err := <-pingDone; err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	var ops []frame.Opcode
	for {
		h, p := peer.readFrame()
		ops = append(ops, h.Opcode)
		if h.Opcode == frame.OpPing {
			if string(p) != "between" {
				t.Fatalf("ping payload %q", p)
			}
			continue
		}
		got = append(got, p...)
		if h.Fin {
			break
		}
	}
	if want := append(part, "end"...); !bytes.Equal(got, want) {
		t.Fatalf("reassembled %q, want %q", got, want)
	}
	if ops[0] != frame.OpText {
		t.Fatalf("first frame opcode %v", ops[0])
	}
	sawPing := false
	for _, op := range ops[1:] {
		switch op {
		case frame.OpPing:
			sawPing = true
		case frame.OpContinuation:
		default:
			t.Fatalf("later frame opcode %v in %v", op, ops)
		}
	}
	if !sawPing || len(ops) < 3 {
		t.Fatalf("frames %v: want fragments with a ping between", ops)
	}
}

// Writes from many goroutines never interleave their frames.
func TestConcurrentWrites(t *testing.T) {
	server, client := connPair(t, ConnOptions{WriteBufferSize: 128})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := bytes.Repeat(fmt.Appendf(nil, "[%d:%d]", w, i), 10+i*7)
				var err error
				if i%2 == 0 {
					err = client.Write(context.Background(), MessageText, msg)
				} else {
					var wr io.WriteCloser
					if wr, err = client.Writer(context.Background(), MessageText); err == nil {
						for len(msg) > 0 && err == nil {
							k := min(len(msg), 37)
							_, err = wr.Write(msg[:k])
							msg = msg[k:]
						}
						if cerr := wr.Close(); err == nil {
							err = cerr
						}
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() {
		for range 20 {
			client.writeControl(ctlPing, 0, []byte("p"), time.Time{}, nil)
		}
	}()
	for range writers * each {
		_, p, err := server.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Every message is one token repeated: interleaving would break the pattern.
		tok := p[:bytes.IndexByte(p, ']')+1]
		if !bytes.Equal(p, bytes.Repeat(tok, len(p)/len(tok))) || len(p)%len(tok) != 0 {
			t.Fatalf("garbled message %q", p)
		}
	}
	wg.Wait()
}

// A write that expires while waiting for its turn changes nothing; one that expires in the
// middle of a frame closes the connection.
func TestWriteTimeout(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	// Hold the message lock as a streaming writer would.
	w, err := c.Writer(context.Background(), MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Write(ctx, MessageBinary, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting Write = %v", err)
	}
	w.Close()
	peer.readFrame()
	if err := c.Write(context.Background(), MessageBinary, []byte("still open")); err != nil {
		t.Fatalf("Write after a timed-out wait: %v", err)
	}
	peer.readFrame()

	// Nobody reads the peer's side: a large write fills the socket buffers and expires.
	big := make([]byte, 64<<20)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	err = c.Write(ctx2, MessageBinary, big)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stuck Write = %v, want context.DeadlineExceeded", err)
	}
	if err := c.Write(context.Background(), MessageBinary, []byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after a write expired mid-frame = %v, want net.ErrClosed", err)
	}
}

func TestWriteBadType(t *testing.T) {
	c, _ := serverWithRawClient(t, ConnOptions{})
	if err := c.Write(context.Background(), MessageType(9), nil); err == nil {
		t.Fatal("Write of a control opcode as a message succeeded")
	}
	if _, err := c.Writer(context.Background(), 0); err == nil {
		t.Fatal("Writer of type 0 succeeded")
	}
}

// A peer that refuses a message sends its reason in a Close frame and goes away; our write
// then fails, but the next read still reports the peer's status (§7.1.5), not a bare error.
func TestWriteFailureKeepsPeerClose(t *testing.T) {
	for range 5 {
		c, peer := serverWithRawClient(t, ConnOptions{})
		peer.send(true, frame.OpClose, []byte{0x03, 0xf1}) // 1009
		peer.nc.Close()
		time.Sleep(10 * time.Millisecond)
		big := make([]byte, 8<<20)
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = c.Write(context.Background(), MessageBinary, big)
		}
		if err == nil {
			t.Fatal("writes to a closed peer succeeded")
		}
		if _, _, err := c.Read(context.Background()); CloseStatus(err) != StatusMessageTooBig {
			t.Fatalf("Read after the failed write = %v, want the peer's 1009", err)
		}
	}
}

// A data frame held for coalescing goes out when the reading side waits for the peer, however
// long after a Pong's bound has passed. On a transport that is not a socket (TLS, an HTTP/2 or
// HTTP/3 stream; net.Pipe here) the bound of a control frame used to stay on the connection,
// and the held frame's write failed with it, closing the connection.
func TestHeldFrameAfterPongBound(t *testing.T) {
	a, b := net.Pipe()
	c := newConn(a, connConfig{opts: ConnOptions{CloseTimeout: 50 * time.Millisecond}})
	defer c.CloseNow()
	peer := &rawPeer{t: t, nc: b, client: true}
	defer b.Close()
	go func() {
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if string(msg) == "one" { // "two" is buffered behind it: the echo is held
				c.Write(context.Background(), typ, msg)
			}
		}
	}()
	peer.send(true, frame.OpPing, []byte("p"))
	if h, _ := peer.readFrame(); h.Opcode != frame.OpPong {
		t.Fatalf("answer to a ping: %v", h.Opcode)
	}
	time.Sleep(100 * time.Millisecond) // past the Pong's bound
	peer.write(append(frameBytes(true, 0, frame.OpText, true, []byte("one")), frameBytes(true, 0, frame.OpText, true, []byte("two"))...))
	if h, p := peer.readFrame(); h.Opcode != frame.OpText || string(p) != "one" {
		t.Fatalf("echo: %v %q", h.Opcode, p)
	}
}

// A large server frame goes out as header and payload through writev, the socket taking what it
// has room for at each call: a reader that takes it in small bites gets every byte in order
// (§5.2), while the writes in between resume where the last stopped, mid-header or mid-payload.
func TestWriteLargeFrameInBites_5_2(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, b := serverOn(t, tr, ConnOptions{}, 64<<10)
			msg := make([]byte, 2<<20+3)
			for i := range msg {
				msg[i] = byte(i * 7 / 3)
			}
			done := make(chan error, 1)
			go func() {
				// Two messages back to back: the second's header follows the first's payload.
				err := c.Write(context.Background(), MessageBinary, msg)
				if err == nil {
					err = c.Write(context.Background(), MessageText, []byte("after"))
				}
				done <- err
			}()
			peer := &rawPeer{t: t, nc: smallReads{b}, client: true}
			h, p := peer.readFrame()
			if h.Opcode != frame.OpBinary || !h.Fin || !bytes.Equal(p, msg) {
				t.Fatalf("first frame: %+v, %d bytes, equal %v", h, len(p), bytes.Equal(p, msg))
			}
			if h, p := peer.readFrame(); h.Opcode != frame.OpText || string(p) != "after" {
				t.Fatalf("second frame: %+v %q", h, p)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// smallReads reads a conn in small bites (at most 4093 bytes a read), so that the
// writer's socket keeps running out of room.
type smallReads struct{ net.Conn }

func (c smallReads) Read(p []byte) (int, error) {
	return c.Conn.Read(p[:min(len(p), 4093)])
}

// A server frame larger than the write buffer goes out in one writev system call, header and
// payload together, when the socket has room for it: no pieces (the stall bound is armed only
// while a write waits for room, rawconn_unix.go).
func TestWriteLargeFrameOneSyscall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts system calls through /proc/self/io")
	}
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(4 << 20)
	srv := newConn(a, connConfig{})
	go io.Copy(io.Discard, b)
	msg := make([]byte, 600<<10)
	fewest := 1 << 30
	for range 5 {
		before := writeSyscalls(t)
		if err := srv.Write(context.Background(), MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		fewest = min(fewest, writeSyscalls(t)-before)
		time.Sleep(20 * time.Millisecond) // let the reader drain the socket
	}
	if fewest != 1 {
		t.Fatalf("%d write system calls for a %d-byte message", fewest, len(msg))
	}
}
