package stream

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// h2Stream is one HTTP/2 stream of a real net/http server and client: the server's side as
// a Conn, the client's as the request body it writes and the response body it reads.
type h2Stream struct {
	srv  *Conn
	send *io.PipeWriter
	recv io.ReadCloser
}

// newH2Stream opens an HTTP/2 stream (TLS, ALPN h2) whose handler turns into a Conn. The
// handler stays until the test ends.
func newH2Stream(t *testing.T) *h2Stream {
	t.Helper()
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	var handlers sync.WaitGroup
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		if r.ProtoMajor != 2 {
			t.Errorf("request over %s, want HTTP/2", r.Proto)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, err := NewHandler(w, r)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
		<-release
		c.Close()
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, ts.URL, pr)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("response over %s, want HTTP/2", resp.Proto)
	}
	s := &h2Stream{srv: <-conns, send: pw, recv: resp.Body}
	t.Cleanup(func() {
		close(release)
		handlers.Wait()
		pw.Close()
		resp.Body.Close()
		ts.Close()
	})
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// readFull reads len(want) bytes from r and compares them with want.
func readFull(t *testing.T, r io.Reader, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// An expired read deadline ends the wait, not the stream: the data that comes later is read
// by the next Read, as on a socket. net/http's own read deadline would close the body for good.
func TestReadDeadlineLeavesStreamUsable(t *testing.T) {
	s := newH2Stream(t)
	buf := make([]byte, 64)
	for i, d := range []time.Duration{20 * time.Millisecond, -time.Second, time.Millisecond} {
		s.srv.SetReadDeadline(time.Now().Add(d))
		if n, err := s.srv.Read(buf); !isTimeout(err) || n != 0 {
			t.Fatalf("round %d: Read = %d, %v; want a timeout", i, n, err)
		}
		msg := []byte{'m', byte('0' + i)}
		if _, err := s.send.Write(msg); err != nil {
			t.Fatal(err)
		}
		s.srv.SetReadDeadline(time.Time{})
		readFull(t, s.srv, msg)
	}
}

// Moving the read deadline into the past ends a Read that is waiting (this is how a
// cancelled context reaches a read); the stream stays usable.
func TestReadInterruptedWhileWaiting(t *testing.T) {
	s := newH2Stream(t)
	errc := make(chan error, 1)
	go func() {
		_, err := s.srv.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read wait
	s.srv.SetReadDeadline(time.Unix(1, 0))
	if err := <-errc; !isTimeout(err) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	s.srv.SetReadDeadline(time.Time{})
	s.send.Write([]byte("after"))
	readFull(t, s.srv, []byte("after"))
}

// Data of every size goes through both ways intact, across the pump's small and large
// buffers.
func TestEcho(t *testing.T) {
	s := newH2Stream(t)
	msg := make([]byte, 1<<20+3)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() {
		s.send.Write(msg)
	}()
	go func() {
		buf := make([]byte, 1000)
		for total := 0; total < len(msg); {
			n, err := s.srv.Read(buf)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.srv.Write(buf[:n]); err != nil {
				t.Error(err)
				return
			}
			total += n
		}
	}()
	readFull(t, s.recv, msg)
}

// The peer's end of stream reads as io.EOF after its data.
func TestPeerEndOfStream(t *testing.T) {
	s := newH2Stream(t)
	s.send.Write([]byte("last"))
	s.send.Close()
	readFull(t, s.srv, []byte("last"))
	if n, err := s.srv.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read = %d, %v; want io.EOF", n, err)
	}
}

// A write deadline that passes while no Write runs does not touch the stream (net/http's own
// would reset it); the next Write fails without writing, and once the deadline moves, writes
// work again.
func TestWriteDeadlinePassingIdle(t *testing.T) {
	s := newH2Stream(t)
	if _, err := s.srv.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	readFull(t, s.recv, []byte("one"))
	s.srv.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	time.Sleep(30 * time.Millisecond)
	if n, err := s.srv.Write([]byte("lost")); !isTimeout(err) || n != 0 {
		t.Fatalf("Write after the deadline = %d, %v; want 0 and a timeout", n, err)
	}
	s.srv.SetWriteDeadline(time.Time{})
	if _, err := s.srv.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	readFull(t, s.recv, []byte("two"))
	s.send.Write([]byte("alive"))
	readFull(t, s.srv, []byte("alive"))
}

// A Write blocked by flow control (the client reads nothing) returns when its deadline
// passes, set while it is blocked: in the future (the timer acts) or in the past (at once).
// The stream is reset: the client's read fails.
func TestWriteDeadlineAbortsBlockedWrite(t *testing.T) {
	for _, d := range []time.Duration{50 * time.Millisecond, -time.Second} {
		s := newH2Stream(t)
		big := make([]byte, 32<<20) // more than the client's flow-control windows
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, err := s.srv.Write(big)
			done <- result{n, err}
		}()
		readFull(t, s.recv, big[:1]) // the Write is under way
		s.srv.SetWriteDeadline(time.Now().Add(d))
		r := <-done
		if !isTimeout(r.err) || r.n == len(big) {
			t.Fatalf("deadline in %v: Write = %d, %v; want less than all and a timeout", d, r.n, r.err)
		}
		if _, err := io.Copy(io.Discard, s.recv); err == nil {
			t.Fatalf("deadline in %v: the client read the whole stream; want a reset", d)
		}
		if _, err := s.srv.Write([]byte("x")); err == nil {
			t.Fatalf("deadline in %v: Write after an aborted one succeeded", d)
		}
	}
}

// Close ends a waiting Read with net.ErrClosed (and the pump with it: leakcheck).
func TestCloseEndsRead(t *testing.T) {
	s := newH2Stream(t)
	errc := make(chan error, 1)
	go func() {
		_, err := s.srv.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.srv.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read = %v, want net.ErrClosed", err)
	}
	if _, err := s.srv.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := s.srv.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v, want net.ErrClosed", err)
	}
}

// The server's side of an HTTP/2 request cannot end its half on its own: net/http does it
// when the handler returns.
func TestHandlerCloseWrite(t *testing.T) {
	s := newH2Stream(t)
	if err := s.srv.CloseWrite(); err == nil {
		t.Fatal("CloseWrite succeeded on a net/http handler's stream")
	}
	if s.srv.LocalAddr() == nil || s.srv.RemoteAddr() == nil || s.srv.RemoteAddr().String() == "" {
		t.Fatalf("addresses %v, %v", s.srv.LocalAddr(), s.srv.RemoteAddr())
	}
	if _, ok := s.srv.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", s.srv.RemoteAddr())
	}
}

// memStream is a Stream in memory, for measuring the Conn alone.
type memStream struct {
	in   chan []byte
	done chan struct{}
	once sync.Once
}

func (m *memStream) Read(p []byte) (int, error) {
	select {
	case b := <-m.in:
		return copy(p, b), nil
	case <-m.done:
		return 0, io.EOF
	}
}
func (m *memStream) Write(p []byte) (int, error) { return len(p), nil }
func (m *memStream) CloseWrite() error           { return nil }
func (m *memStream) Abort()                      {}
func (m *memStream) Close() error {
	m.once.Do(func() { close(m.done) })
	return nil
}

// Reads and writes under a deadline per call, as a WebSocket connection makes them with a
// context that has a deadline, allocate nothing.
func TestZeroAllocs(t *testing.T) {
	m := &memStream{in: make(chan []byte), done: make(chan struct{})}
	c := New(m, nil, nil)
	defer c.Close()
	msg := []byte("hello, stream")
	buf := make([]byte, 64)
	feed(m, msg)
	allocs := testing.AllocsPerRun(1000, func() {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if n, err := c.Read(buf); err != nil || n != len(msg) {
			t.Fatalf("Read = %d, %v", n, err)
		}
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read and write, want 0", allocs)
	}
}

// feed starts a goroutine that hands msg to m's reads until m is closed.
func feed(m *memStream, msg []byte) {
	go func() {
		for {
			select {
			case m.in <- msg:
			case <-m.done:
				return
			}
		}
	}()
}

// The cost of reading through the pump, against reading the stream directly: the pump adds
// one goroutine handoff per read (BenchmarkReadThroughPump minus BenchmarkReadDirect).
func BenchmarkReadThroughPump(b *testing.B) {
	m := &memStream{in: make(chan []byte), done: make(chan struct{})}
	c := New(m, nil, nil)
	defer c.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	feed(m, msg)
	b.ReportAllocs()
	for b.Loop() {
		c.Read(buf)
	}
}

func BenchmarkReadDirect(b *testing.B) {
	m := &memStream{in: make(chan []byte), done: make(chan struct{})}
	defer m.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	feed(m, msg)
	b.ReportAllocs()
	for b.Loop() {
		m.Read(buf)
	}
}
