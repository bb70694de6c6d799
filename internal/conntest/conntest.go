// Package conntest checks that a pair of connected net.Conns keeps net.Conn's contract: data
// arrives whole and in order, concurrent calls are safe, deadlines (past, present and future,
// moved while a call is blocked) fail calls with a timeout that is os.ErrDeadlineExceeded, and
// Close unblocks everything. It is in the spirit of golang.org/x/net/nettest.TestConn, written
// for wsx, which cannot depend on x/net.
package conntest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// MakePipe returns two connected ends and a function that releases what they hold once both
// are closed. Each subtest gets a fresh pair.
type MakePipe func(t *testing.T) (c1, c2 net.Conn, stop func())

// Options describe where an implementation departs from TCP.
type Options struct {
	// WriteTimeoutBreaks says that a Write whose deadline passes part-way may leave the
	// connection unusable (as tls.Conn does), so that the subtests check only that such a write
	// times out, not that the connection goes on.
	WriteTimeoutBreaks bool

	// InFlight bounds what writes can leave between the two ends before a Write blocks
	// (buffers of sockets, of the implementation). Zero means 8 MiB, above what loopback TCP
	// holds.
	InFlight int
}

// Run runs every check, each as a subtest with a fresh pair.
func Run(t *testing.T, makePipe MakePipe, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c1, c2 net.Conn, opts Options)
	}{
		{"BasicIO", basicIO},
		{"PingPong", pingPong},
		{"RacyRead", racyRead},
		{"RacyWrite", racyWrite},
		{"PastDeadline", pastDeadline},
		{"PresentDeadline", presentDeadline},
		{"FutureDeadline", futureDeadline},
		{"MoveReadDeadline", moveReadDeadline},
		{"MoveWriteDeadline", moveWriteDeadline},
		{"CloseUnblocks", closeUnblocks},
		{"ConcurrentDeadlines", concurrentDeadlines},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c1, c2, stop := makePipe(t)
			defer func() {
				// Both ends at once: a closing handshake needs each end to read the other's.
				var wg sync.WaitGroup
				wg.Go(func() { c1.Close() })
				wg.Go(func() { c2.Close() })
				wg.Wait()
				stop()
			}()
			tc.fn(t, c1, c2, opts)
		})
	}
}

// CheckTimeout fails t unless err is what an expired deadline must return: a net.Error whose
// Timeout is true (asserted directly, as net/http does, not through errors.As) and which is
// os.ErrDeadlineExceeded.
func CheckTimeout(t testing.TB, err error) {
	t.Helper()
	ne, ok := err.(net.Error)
	if !ok || !ne.Timeout() {
		t.Errorf("got %T %v, want a net.Error whose Timeout is true", err, err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want an error that is os.ErrDeadlineExceeded", err)
	}
}

// writeChunks copies r to w in writes of random sizes up to 64 KiB.
func writeChunks(w io.Writer, r io.Reader, rnd *rand.Rand) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(r, buf[:1+rnd.IntN(len(buf))])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readChunks copies r to w in reads of random sizes up to 64 KiB, until io.EOF.
func readChunks(w io.Writer, r io.Reader, rnd *rand.Rand) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf[:1+rnd.IntN(len(buf))])
		w.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// stream writes pseudo-random bytes to c until a write fails (the test closed c).
func stream(c net.Conn) {
	rnd := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 8<<10)
	for {
		for i := range buf {
			buf[i] = byte(rnd.Uint32())
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// echo writes back what it reads from c until c fails.
func echo(c net.Conn) {
	buf := make([]byte, 8<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// discard reads from c until c fails.
func discard(c net.Conn) { io.Copy(io.Discard, c) }

// roundTrip clears c's deadlines, writes a message and reads it back from a peer that echoes.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Errorf("SetDeadline(zero): %v", err)
	}
	msg := []byte("round trip through the echoing peer")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("Write after the deadlines were cleared: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("Read after the deadlines were cleared: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read back %q, want %q", got, msg)
	}
}

// basicIO: 1 MiB in writes of random sizes arrives whole and in order, the reader sees io.EOF
// after the writer's Close, and both Close calls succeed.
func basicIO(t *testing.T, c1, c2 net.Conn, _ Options) {
	want := make([]byte, 1<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range want {
		want[i] = byte(rnd.Uint32())
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := writeChunks(c1, bytes.NewReader(want), rand.New(rand.NewPCG(5, 6))); err != nil {
			t.Errorf("c1.Write: %v", err)
		}
		if err := c1.Close(); err != nil {
			t.Errorf("c1.Close: %v", err)
		}
	})
	var got bytes.Buffer
	if err := readChunks(&got, c2, rand.New(rand.NewPCG(7, 8))); err != nil {
		t.Errorf("c2.Read: %v", err)
	}
	if err := c2.Close(); err != nil {
		t.Errorf("c2.Close after io.EOF: %v", err)
	}
	wg.Wait()
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("received %d bytes that differ from the %d sent", got.Len(), len(want))
	}
}

// pingPong: both ends bounce a counter back and forth, each incrementing it, 1000 times; the
// end that reaches the last value closes, the other reads io.EOF and closes.
func pingPong(t *testing.T, c1, c2 net.Conn, _ Options) {
	const last = 1000
	var wg sync.WaitGroup
	player := func(c net.Conn) {
		defer wg.Done()
		buf := make([]byte, 8)
		prev := uint64(0)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				if err != io.EOF {
					t.Errorf("Read: %v", err)
				}
				break
			}
			v := binary.BigEndian.Uint64(buf)
			if prev != 0 && v != prev+2 {
				t.Errorf("read %d after %d, want %d", v, prev, prev+2)
			}
			prev = v
			if v == last {
				break
			}
			binary.BigEndian.PutUint64(buf, v+1)
			if _, err := c.Write(buf); err != nil {
				t.Errorf("Write: %v", err)
				break
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	wg.Add(2)
	go player(c1)
	go player(c2)
	var start [8]byte
	binary.BigEndian.PutUint64(start[:], 1)
	if _, err := c1.Write(start[:]); err != nil {
		t.Errorf("first Write: %v", err)
	}
	wg.Wait()
}

// racyRead: ten goroutines read at once under short read deadlines, reusing their buffers at
// once (the race detector catches an implementation that writes into a buffer after Read
// returned); every error is a timeout.
func racyRead(t *testing.T, c1, c2 net.Conn, _ Options) {
	go stream(c2)
	c1.SetReadDeadline(time.Now().Add(time.Millisecond))
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			b1, b2 := make([]byte, 1024), make([]byte, 1024)
			for range 100 {
				_, err := c1.Read(b1)
				copy(b1, b2)
				if err != nil {
					CheckTimeout(t, err)
					c1.SetReadDeadline(time.Now().Add(time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
}

// racyWrite: ten goroutines write at once under short write deadlines, changing their buffers
// as soon as Write returns; every error is a timeout (or, where a timed-out write breaks the
// connection, what follows from it).
func racyWrite(t *testing.T, c1, c2 net.Conn, opts Options) {
	go discard(c2)
	c1.SetWriteDeadline(time.Now().Add(time.Millisecond))
	var wg sync.WaitGroup
	var broken sync.Once
	brokenErr := error(nil)
	for range 10 {
		wg.Go(func() {
			b1, b2 := make([]byte, 1024), make([]byte, 1024)
			for range 100 {
				_, err := c1.Write(b1)
				copy(b1, b2)
				if err == nil {
					continue
				}
				if opts.WriteTimeoutBreaks && !errors.Is(err, os.ErrDeadlineExceeded) {
					broken.Do(func() { brokenErr = err })
					return
				}
				CheckTimeout(t, err)
				c1.SetWriteDeadline(time.Now().Add(time.Millisecond))
			}
		})
	}
	wg.Wait()
	if brokenErr != nil {
		t.Logf("a timed-out write broke the connection, as Options allow: %v", brokenErr)
	}
}

// pastDeadline: with deadlines in the past, Read and Write fail at once with a timeout and
// transfer nothing; cleared, the connection works.
func pastDeadline(t *testing.T, c1, c2 net.Conn, _ Options) {
	go echo(c2)
	roundTrip(t, c1)
	c1.SetDeadline(time.Unix(1, 0))
	n, err := c1.Write(make([]byte, 1024))
	if n != 0 {
		t.Errorf("Write past its deadline wrote %d bytes", n)
	}
	CheckTimeout(t, err)
	n, err = c1.Read(make([]byte, 1024))
	if n != 0 {
		t.Errorf("Read past its deadline read %d bytes", n)
	}
	CheckTimeout(t, err)
	roundTrip(t, c1)
}

// presentDeadline: a Read and a Write blocked without deadlines return with a timeout when
// deadlines in the past are set from another goroutine, and not before.
func presentDeadline(t *testing.T, c1, c2 net.Conn, _ Options) {
	var isSet bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		isSet = true
		mu.Unlock()
		c1.SetReadDeadline(time.Unix(1, 0))
		c1.SetWriteDeadline(time.Unix(1, 0))
	})
	checkSet := func(what string) {
		mu.Lock()
		defer mu.Unlock()
		if !isSet {
			t.Errorf("%s timed out before a deadline was set", what)
		}
	}
	wg.Go(func() {
		n, err := c1.Read(make([]byte, 1024))
		if n != 0 {
			t.Errorf("Read returned %d bytes, none were sent", n)
		}
		CheckTimeout(t, err)
		checkSet("Read")
	})
	wg.Go(func() {
		var err error
		for err == nil { // until the peer, which does not read, lets the buffers fill
			_, err = c1.Write(make([]byte, 1024))
		}
		CheckTimeout(t, err)
		checkSet("Write")
	})
	wg.Wait()
}

// futureDeadline: blocked calls time out once a deadline set in the future passes; cleared,
// reads work again (and writes too, unless a timed-out write breaks the connection).
func futureDeadline(t *testing.T, c1, c2 net.Conn, opts Options) {
	c1.SetDeadline(time.Now().Add(50 * time.Millisecond))
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := c1.Read(make([]byte, 1024))
		CheckTimeout(t, err)
	})
	wg.Go(func() {
		var err error
		for err == nil {
			_, err = c1.Write(make([]byte, 1024))
		}
		CheckTimeout(t, err)
	})
	wg.Wait()
	if opts.WriteTimeoutBreaks {
		return
	}
	// What the timed-out writes left in the buffers comes back first: read it up to a marker.
	go echo(c2)
	c1.SetDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := c1.Write([]byte{0xff})
		errc <- err
	}()
	buf := make([]byte, 1024)
	for {
		n, err := c1.Read(buf)
		if n > 0 && buf[n-1] == 0xff && bytes.IndexByte(buf[:n], 0xff) == n-1 {
			break
		}
		if err != nil {
			t.Fatalf("Read after a timeout: %v", err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write after a timeout: %v", err)
	}
	roundTrip(t, c1)
}

// moveReadDeadline: a deadline moved later while Read waits keeps it waiting past the first
// deadline, until data comes; one moved earlier makes it return; a new deadline after one
// passed lets reads go on.
func moveReadDeadline(t *testing.T, c1, c2 net.Conn, _ Options) {
	first := time.Now().Add(time.Second)
	c1.SetReadDeadline(first)
	res := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := c1.Read(buf)
		if err == nil && string(buf[:n]) != "late" {
			err = errors.New("read " + string(buf[:n]))
		}
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)             // let Read block
	c1.SetReadDeadline(time.Now().Add(time.Hour)) // later, well before the first passes
	time.Sleep(time.Until(first) + 100*time.Millisecond)
	if _, err := c2.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("Read whose deadline was moved later: %v, want the data sent after the first deadline", err)
	}

	c1.SetReadDeadline(time.Time{})
	go func() {
		_, err := c1.Read(make([]byte, 16))
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c1.SetReadDeadline(time.Now().Add(10 * time.Millisecond)) // a deadline for a blocked Read
	CheckTimeout(t, waitErr(t, res, "Read"))

	c1.SetReadDeadline(time.Now().Add(time.Hour))
	if _, err := c2.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadFull(c1, buf[:5]); err != nil || string(buf[:n]) != "again" {
		t.Fatalf("Read after a new deadline: %q, %v", buf[:n], err)
	}
}

// moveWriteDeadline: a Write blocked on a peer that does not read keeps waiting when its
// deadline moves later, and completes once the peer reads.
func moveWriteDeadline(t *testing.T, c1, c2 net.Conn, opts Options) {
	// Larger than any buffer between the two ends, so that it blocks until c2 reads, and
	// incompressible: a random block longer than deflate's 32 KiB window, repeated.
	block := make([]byte, 64<<10)
	rnd := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < len(block); i += 8 {
		binary.LittleEndian.PutUint64(block[i:], rnd.Uint64())
	}
	inFlight := opts.InFlight
	if inFlight == 0 {
		inFlight = 8 << 20
	}
	big := bytes.Repeat(block, 2*inFlight/len(block)+1)
	first := time.Now().Add(time.Second)
	c1.SetWriteDeadline(first)
	res := make(chan error, 1)
	go func() {
		_, err := c1.Write(big)
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c1.SetWriteDeadline(time.Now().Add(time.Hour))
	time.Sleep(time.Until(first) + 100*time.Millisecond)
	go func() {
		io.CopyN(io.Discard, c2, int64(len(big)))
	}()
	if err := waitErr(t, res, "Write"); err != nil {
		t.Fatalf("Write whose deadline was moved later: %v, want it to complete", err)
	}
}

// closeUnblocks: Close makes a Read and a Write in progress return.
func closeUnblocks(t *testing.T, c1, c2 net.Conn, _ Options) {
	go echo(c2)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1024)
		for {
			if _, err := c1.Read(buf); err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		buf := make([]byte, 1024)
		for {
			if _, err := c1.Write(buf); err != nil {
				return
			}
		}
	})
	time.Sleep(50 * time.Millisecond)
	c1.Close()
	wg.Wait() // hangs, and the test times out, if Close left a call blocked
	if _, err := c1.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c1.Write(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// concurrentDeadlines: deadlines set from many goroutines while reads and writes run.
func concurrentDeadlines(t *testing.T, c1, c2 net.Conn, _ Options) {
	go echo(c2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c1.SetReadDeadline(time.Now().Add(time.Hour))
				c1.SetWriteDeadline(time.Now().Add(time.Hour))
				c1.SetDeadline(time.Time{})
			}
		})
	}
	msg := make([]byte, 4096)
	got := make([]byte, len(msg))
	for i := range 50 {
		msg[0] = byte(i)
		if _, err := c1.Write(msg); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if _, err := io.ReadFull(c1, got); err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo %d differs", i)
		}
	}
	close(stop)
	wg.Wait()
}

// waitErr returns what a blocked call sent on res, failing t if it does not come within a
// minute (a hang, not a slow machine).
func waitErr(t *testing.T, res chan error, what string) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s still blocked a minute after its deadline passed", what)
		return nil
	}
}
