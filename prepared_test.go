//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

func mustPrepare(t testing.TB, typ MessageType, data []byte, opts ...WriteOption) *PreparedMessage {
	t.Helper()
	m, err := NewPreparedMessage(typ, data, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// preparedSet is a mix of sizes across the copy threshold and every length encoding (§5.2).
func preparedSet(t testing.TB) (msgs []*PreparedMessage, want [][]byte) {
	for i, n := range []int{0, 5, 125, 126, copyBelow, 70000} {
		data := bytes.Repeat([]byte{'a' + byte(i)}, n)
		typ := MessageBinary
		if i%2 == 0 {
			typ = MessageText
		}
		msgs = append(msgs, mustPrepare(t, typ, data))
		want = append(want, data)
	}
	return msgs, want
}

// §5.1, §5.6: a server sends prepared messages as plain frames, each whole, in order, and a
// PreparedMessage can be sent again and to other connections.
func TestWritePreparedServer_5_1(t *testing.T) {
	msgs, want := preparedSet(t)
	data := mustPrepare(t, MessageText, []byte("héllo"))
	for range 2 {
		srv, peer := serverWithRawClient(t, ConnOptions{})
		go srv.WritePrepared(context.Background(), msgs...)
		for i, w := range want {
			h, p := peer.readFrame()
			op := frame.OpBinary
			if i%2 == 0 {
				op = frame.OpText
			}
			if h.Masked || !h.Fin || h.Rsv != 0 || h.Opcode != op || !bytes.Equal(p, w) {
				t.Fatalf("frame %d: %+v, %d bytes; want %v, %d bytes", i, h, len(p), op, len(w))
			}
		}
		if err := srv.WritePrepared(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if h, p := peer.readFrame(); h.Opcode != frame.OpText || string(p) != "héllo" {
			t.Fatalf("got %+v %q", h, p)
		}
	}
	if err := (&Conn{}).WritePrepared(context.Background()); err != nil {
		t.Fatalf("no messages: %v", err)
	}
}

// §5.3: a client masks each prepared frame with a fresh key, in its own copy: the prepared
// message stays as it was for the next connection.
func TestWritePreparedClientMasks_5_3(t *testing.T) {
	msgs, want := preparedSet(t)
	keys := map[[4]byte]bool{}
	for range 2 {
		c, peer := clientWithRawServer(t, ConnOptions{})
		go c.WritePrepared(context.Background(), msgs...)
		for i, w := range want {
			h, p := peer.readFrame()
			if !h.Masked || !h.Fin || !bytes.Equal(p, w) {
				t.Fatalf("frame %d: %+v, payload %d bytes, want %d", i, h, len(p), len(w))
			}
			keys[h.Key] = true
		}
	}
	if len(keys) < 2*len(want)-1 {
		t.Errorf("%d distinct masking keys in %d frames", len(keys), 2*len(want))
	}
	for i, m := range msgs {
		if !bytes.Equal(m.payload(), want[i]) {
			t.Fatalf("message %d changed by a client write", i)
		}
	}
}

// Prepared messages must not break the rules of Write: nothing after our Close (§5.5.1),
// nothing between the fragments of another message (§5.4), no invalid UTF-8 as text (§8.1),
// and a context that expires before anything went out leaves the connection usable.
func TestWritePreparedRules_5_4_5_5_1(t *testing.T) {
	if _, err := NewPreparedMessage(MessageText, []byte{0xff}); err == nil {
		t.Error("invalid UTF-8 text prepared")
	}
	if _, err := NewPreparedMessage(MessageType(9), nil); err == nil || !strings.HasPrefix(err.Error(), "wsx: ") {
		t.Errorf("bad type: %v", err)
	}
	m := mustPrepare(t, MessageBinary, []byte("prepared"))

	// §5.4: it waits for a fragmented message to end.
	srv, peer := serverWithRawClient(t, ConnOptions{})
	w, err := srv.Writer(context.Background(), MessageText)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("x"), 5000)) // more than a buffer: a first fragment goes out
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.WritePrepared(short, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("during a fragmented message: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.WritePrepared(context.Background(), m) }()
	w.Write([]byte("end"))
	w.Close()
	var got []byte
	for {
		h, p := peer.readFrame()
		if h.Opcode == frame.OpBinary {
			t.Fatal("prepared message between fragments")
		}
		got = append(got, p...)
		if h.Fin {
			break
		}
	}
	if len(got) != 5003 {
		t.Fatalf("fragmented message of %d bytes", len(got))
	}
	if h, p := peer.readFrame(); h.Opcode != frame.OpBinary || string(p) != "prepared" {
		t.Fatalf("after the message: %+v %q", h, p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// An expired context changes nothing.
	cancel()
	if err := srv.WritePrepared(short, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
	if err := srv.WritePrepared(context.Background(), m); err != nil {
		t.Fatalf("after an expired context: %v", err)
	}
	if _, p := peer.readFrame(); string(p) != "prepared" {
		t.Fatalf("got %q", p)
	}

	// §5.5.1: nothing after our Close.
	go srv.Close(StatusNormalClosure, "")
	peer.expectClose(StatusNormalClosure)
	if err := srv.WritePrepared(context.Background(), m); !errors.Is(err, errClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// A write that fails part-way ends the connection, as Write does.
func TestWritePreparedFailure(t *testing.T) {
	srv, peer := serverWithRawClient(t, ConnOptions{})
	big := mustPrepare(t, MessageBinary, make([]byte, 8<<20)) // more than the socket buffers take
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.WritePrepared(ctx, big); err == nil {
		t.Fatal("a write to a peer that does not read went through")
	}
	if err := srv.WritePrepared(context.Background(), mustPrepare(t, MessageBinary, nil)); err == nil {
		t.Fatal("a connection with a broken frame went on writing")
	}
	peer.nc.Close()
}

// RFC 7692 §7.1.1, §7.1.2: without context takeover, a prepared message is compressed once
// per window and level and the same frame goes to every connection that agreed on them; the
// peer inflates it within its window. Messages under the threshold, or prepared as
// Uncompressed, go out plain.
func TestWritePreparedSharedCompression_RFC7692(t *testing.T) {
	// A block of random letters, twice: only a window over 2^9 can refer back to it.
	block := make([]byte, 1500)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = 'a' + byte(rnd.IntN(26))
	}
	text := slices.Concat(bytes.Repeat([]byte("shared frames, compressed once; "), 100), block, block)
	m := mustPrepare(t, MessageText, text)
	small := mustPrepare(t, MessageText, []byte("tiny"))
	plain := mustPrepare(t, MessageBinary, text, Uncompressed)
	for _, client := range []bool{false, true} {
		for _, bits := range []int{15, 15, 9} {
			p := deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}
			a, b := tcpPair(t)
			c := newConn(a, connConfig{client: client, deflate: &p, compression: deflate.Config{Level: 1}})
			peer := &rawPeer{t: t, nc: b, client: !client}
			go c.WritePrepared(context.Background(), m, small, plain)
			h, payload := peer.readFrame()
			if h.Rsv != frame.Rsv1 || h.Opcode != frame.OpText || len(payload) >= len(text)*3/4 {
				t.Fatalf("client=%v bits %d: %+v, %d bytes", client, bits, h, len(payload))
			}
			if got := inflateMsg(t, payload); !bytes.Equal(got, text) {
				t.Fatalf("client=%v bits %d: inflated %d bytes", client, bits, len(got))
			}
			if !inflatesWithin(payload, text, bits) {
				t.Fatalf("bits %d: the payload reaches beyond its window", bits)
			}
			for _, want := range [][]byte{[]byte("tiny"), text} {
				if h, p := peer.readFrame(); h.Rsv != 0 || !bytes.Equal(p, want) {
					t.Fatalf("client=%v: plain frame %+v %d bytes", client, h, len(p))
				}
			}
		}
	}
	n := 0
	for f := m.compressed.Load(); f != nil; f = f.next {
		n++
	}
	if n != 2 {
		t.Fatalf("%d compressed frames for windows 15 and 9", n)
	}
}

// inflatesWithin reports whether payload, one message compressed without context takeover,
// inflates to want with wsx's strict decoder, which refuses back-references beyond a window
// of 2^bits (RFC 7692 §7.1.2).
func inflatesWithin(payload, want []byte, bits int) bool {
	dst := make([]byte, len(want)+1)
	n, _, err := deflate.NewDecompressor(bits, false).Inflate(dst, payload, true)
	return err == io.EOF && bytes.Equal(dst[:n], want)
}

// RFC 7692 §7.1.1: with context takeover, a prepared message goes through the connection's
// own compressor, so that prepared and ordinary messages share one history that the peer
// inflates correctly.
func TestWritePreparedContextTakeover_RFC7692_7_1_1(t *testing.T) {
	p := deflate.Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	a, b := tcpPair(t)
	srv := newConn(a, connConfig{deflate: &p, compression: deflate.Config{}})
	cli := newConn(b, connConfig{client: true, deflate: &p, compression: deflate.Config{}})
	text := bytes.Repeat([]byte("with context takeover the history is the connection's own. "), 20)
	m := mustPrepare(t, MessageText, text)
	ctx := context.Background()
	go func() {
		srv.WritePrepared(ctx, m, m)
		srv.Write(ctx, MessageText, text)
		srv.WritePrepared(ctx, m)
	}()
	for i := range 4 {
		typ, got, err := cli.Read(ctx)
		if err != nil || typ != MessageText || !bytes.Equal(got, text) {
			t.Fatalf("message %d: %v %d bytes, %v", i, typ, len(got), err)
		}
	}
	if m.compressed.Load() != nil {
		t.Fatal("a shared frame was made for a connection with context takeover")
	}
}

// Many connections writing one message at once compress it once per setting and all
// deliver it whole.
func TestWritePreparedConcurrent(t *testing.T) {
	text := bytes.Repeat([]byte("concurrent broadcast "), 50)
	m := mustPrepare(t, MessageText, text)
	p := deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	var wg sync.WaitGroup
	for i := range 8 {
		a, b := tcpPair(t)
		srv := newConn(a, connConfig{deflate: &p, compression: deflate.Config{Level: 1 + i%2}})
		cli := newConn(b, connConfig{client: true, deflate: &p})
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := srv.WritePrepared(context.Background(), m); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 10 {
				if _, got, err := cli.Read(context.Background()); err != nil || !bytes.Equal(got, text) {
					t.Errorf("read %d bytes, %v", len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	for f := m.compressed.Load(); f != nil; f = f.next {
		n++
	}
	if n != 2 {
		t.Fatalf("%d compressed frames for two levels", n)
	}
}

// writeSyscalls returns how many write system calls the process has made (Linux).
func writeSyscalls(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count system calls: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Skip("no syscw in /proc/self/io")
	return 0
}

// A list of prepared messages, small and large, goes to a server-side TCP connection in one
// system call.
func TestWritePreparedOneSyscall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts system calls through /proc/self/io")
	}
	srv, peer := serverWithRawClient(t, ConnOptions{})
	var msgs []*PreparedMessage
	for i := range 50 {
		msgs = append(msgs, mustPrepare(t, MessageBinary, make([]byte, 10+i*100)))
	}
	go io.Copy(io.Discard, peer.nc)
	// The fewest over a few tries: another goroutine of the test binary may write meanwhile.
	fewest := 1 << 30
	for range 5 {
		before := writeSyscalls(t)
		if err := srv.WritePrepared(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		fewest = min(fewest, writeSyscalls(t)-before)
	}
	if fewest != 1 {
		t.Fatalf("%d write system calls for 50 prepared messages", fewest)
	}
}

// Writing prepared messages allocates nothing once pools are warm: plain, shared compressed
// and with context takeover, on both sides, on a real socket.
func TestZeroAllocsPrepared(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; scripts/test.sh runs this without -race")
	}
	msgs := []*PreparedMessage{
		mustPrepare(t, MessageText, compressedText),
		mustPrepare(t, MessageBinary, make([]byte, 64)),
		mustPrepare(t, MessageBinary, make([]byte, 100<<10)),
	}
	shared := deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	takeover := deflate.Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	for _, client := range []bool{false, true} {
		for _, p := range []*deflate.Params{nil, &shared, &takeover} {
			a, b := tcpPair(t)
			c := newConn(a, connConfig{client: client, deflate: p})
			go io.Copy(io.Discard, b)
			write := func() {
				if err := c.WritePrepared(context.Background(), msgs...); err != nil {
					t.Fatal(err)
				}
			}
			write()
			if a := testing.AllocsPerRun(50, write); a != 0 {
				t.Errorf("client=%v deflate=%+v: %v allocs per WritePrepared", client, p, a)
			}
		}
	}
}

func BenchmarkWritePrepared(b *testing.B) {
	for _, n := range []int{64, 1024} {
		m := mustPrepare(b, MessageBinary, make([]byte, n))
		batch := []*PreparedMessage{m, m, m, m, m, m, m, m}
		b.Run(sizeName(n)+"x8", func(b *testing.B) {
			c := newConn(&memConn{}, connConfig{})
			b.ReportAllocs()
			for b.Loop() {
				c.WritePrepared(context.Background(), batch...)
			}
		})
	}
}

// Several large prepared messages go out through one vectored write on a socket (up to
// maxIovecs frames a call), resuming mid-frame each time the socket runs out of room: a reader
// taking 4 KiB bites gets every frame whole and in order (§5.2), on a socket and on a
// transport that is not one.
func TestWritePreparedLargeInBites(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, b := serverOn(t, tr, ConnOptions{}, 64<<10)
			var msgs []*PreparedMessage
			var want [][]byte
			for i := range 5 {
				p := make([]byte, 300<<10+i*1001)
				for j := range p {
					p[j] = byte(i + j*5)
				}
				msgs = append(msgs, mustPrepare(t, MessageBinary, p))
				want = append(want, p)
			}
			done := make(chan error, 1)
			go func() { done <- c.WritePrepared(context.Background(), msgs...) }()
			peer := &rawPeer{t: t, nc: smallReads{b}, client: true}
			for i, p := range want {
				h, got := peer.readFrame()
				if h.Opcode != frame.OpBinary || !h.Fin || !bytes.Equal(got, p) {
					t.Fatalf("frame %d: %+v, %d bytes (want %d), equal %v", i, h, len(got), len(p), bytes.Equal(got, p))
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
