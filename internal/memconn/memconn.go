// Package memconn provides a connected pair of in-memory net.Conns that behave like the two
// ends of a TCP connection: each direction has a buffer of its own, so a Write returns once its
// bytes are in the peer's buffer and both ends can write at the same time (net.Pipe, which
// hands bytes over synchronously, deadlocks when they do, as in a WebSocket closing handshake
// where both ends send a Close frame); Write blocks only while the peer's buffer is full.
// Deadlines follow net.Conn's contract, CloseWrite half-closes, and Close makes the peer read
// io.EOF once it has read what was sent.
package memconn

import (
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/wsx-go/wsx/internal/expiry"
)

// Addr is the address of one end of a pair: the name given to Pair.
type Addr string

// Network returns "memconn".
func (Addr) Network() string { return "memconn" }

func (a Addr) String() string { return string(a) }

// Pair returns two connected Conns named a and b, each with size bytes of buffer for what the
// other sends.
func Pair(a, b string, size int) (*Conn, *Conn) {
	ab, ba := newStream(size), newStream(size)
	ca := &Conn{in: ba, out: ab, local: Addr(a), remote: Addr(b), closed: make(chan struct{})}
	cb := &Conn{in: ab, out: ba, local: Addr(b), remote: Addr(a), closed: make(chan struct{})}
	return ca, cb
}

// stream is one direction of a pair: a ring buffer written by one end and read by the other.
type stream struct {
	mu       sync.Mutex
	buf      []byte
	head, n  int           // the buffered bytes are n bytes from buf[head], wrapping around
	eof      bool          // the writing end closed its side: reads drain, then io.EOF
	gone     bool          // the reading end closed: writes fail
	readable chan struct{} // one-slot signal: bytes, or the end, arrived
	writable chan struct{} // one-slot signal: room appeared, or the reader left
}

func newStream(size int) *stream {
	return &stream{
		buf:      make([]byte, size),
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// read takes up to len(p) buffered bytes. It reports io.EOF once the writer has finished and
// the buffer is empty, and (0, nil) when there is nothing yet.
func (s *stream) read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		if s.eof {
			return 0, io.EOF
		}
		return 0, nil
	}
	n := 0
	for n < len(p) && s.n > 0 {
		end := min(s.head+s.n, len(s.buf))
		k := copy(p[n:], s.buf[s.head:end])
		n += k
		s.head = (s.head + k) % len(s.buf)
		s.n -= k
	}
	signal(s.writable)
	if s.n > 0 {
		signal(s.readable) // for another reader waiting
	}
	return n, nil
}

// write adds as much of p as fits and returns how much that was.
func (s *stream) write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return 0, syscall.ECONNRESET
	}
	if s.eof {
		return 0, syscall.EPIPE
	}
	n := 0
	for n < len(p) && s.n < len(s.buf) {
		tail := (s.head + s.n) % len(s.buf)
		end := len(s.buf)
		if tail < s.head {
			end = s.head
		}
		k := copy(s.buf[tail:end], p[n:])
		n += k
		s.n += k
	}
	if n > 0 {
		signal(s.readable)
	}
	if s.n < len(s.buf) {
		signal(s.writable) // for another writer waiting
	}
	return n, nil
}

// finish marks the end of what the writer sends.
func (s *stream) finish() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	signal(s.readable)
}

// leave marks the reader gone: what is buffered is dropped and writes fail.
func (s *stream) leave() {
	s.mu.Lock()
	s.gone, s.n = true, 0
	s.mu.Unlock()
	signal(s.writable)
}

// Conn is one end of a pair. Its methods are safe for concurrent use.
type Conn struct {
	in, out       *stream
	local, remote Addr
	rd, wd        expiry.Timer
	closeOnce     sync.Once
	closed        chan struct{}
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "memconn", Source: c.local, Addr: c.remote, Err: err}
}

// isClosed reports whether Close was called.
func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Read reads what the peer wrote, waiting for it until the read deadline.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.isClosed() {
			return 0, c.opError("read", net.ErrClosed)
		}
		if err := c.rd.Err(); err != nil {
			return 0, c.opError("read", err)
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := c.in.read(p)
		if n > 0 || err != nil {
			return n, err
		}
		select {
		case <-c.in.readable:
		case <-c.rd.Done():
		case <-c.closed:
		}
	}
}

// Write writes p to the peer's buffer, waiting for room until the write deadline. A Write
// that times out may have written part of p: it returns how much.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for {
		if c.isClosed() {
			return written, c.opError("write", net.ErrClosed)
		}
		if err := c.wd.Err(); err != nil {
			return written, c.opError("write", err)
		}
		n, err := c.out.write(p[written:])
		written += n
		if err != nil {
			return written, c.opError("write", err)
		}
		if written == len(p) {
			return written, nil
		}
		select {
		case <-c.out.writable:
		case <-c.wd.Done():
		case <-c.closed:
		}
	}
}

// CloseWrite ends what this end sends: the peer reads io.EOF after the bytes before it.
func (c *Conn) CloseWrite() error {
	if c.isClosed() {
		return c.opError("close", net.ErrClosed)
	}
	c.out.finish()
	return nil
}

// Close closes both directions: blocked calls return, the peer reads io.EOF after what was
// sent, and the peer's writes fail.
func (c *Conn) Close() error {
	err := c.opError("close", net.ErrClosed)
	c.closeOnce.Do(func() {
		close(c.closed)
		c.out.finish()
		c.in.leave()
		c.rd.Close(net.ErrClosed)
		c.wd.Close(net.ErrClosed)
		err = nil
	})
	return err
}

// LocalAddr returns this end's name.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's name.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines. An expired deadline makes calls fail with a
// *net.OpError that is os.ErrDeadlineExceeded.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.Set(t)
	c.wd.Set(t)
	return nil
}

// SetReadDeadline sets the deadline of Read calls, those blocked now included.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rd.Set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write calls, those blocked now included.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wd.Set(t)
	return nil
}
