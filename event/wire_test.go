//go:build !js

package event

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// The tests run every case against both drivers: the epoll workers, and the goroutine per
// connection that serves listeners without a descriptor (and every listener off Linux).
var drivers = []struct {
	name   string
	listen func(t *testing.T) net.Listener
}{
	{"epoll", listenTCP},
	{"goroutines", func(t *testing.T) net.Listener { return noFD{listenTCP(t)} }},
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// noFD hides a listener's descriptor, as a listener that is not a socket would.
type noFD struct{ net.Listener }

func forEachDriver(t *testing.T, f func(t *testing.T, listen func(t *testing.T) net.Listener)) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) { f(t, d.listen) })
	}
}

// recorder writes down what a server's handlers see, in the engine table's notation:
// "|text:Hello", "|ping:p", "|pong:p", "|close:1000:bye" (the peer's Close), "|fail:1002" (we
// failed the connection), "|more" (the peer went away without a Close), "|closed" (closed
// here).
type recorder struct {
	mu     sync.Mutex
	b      strings.Builder
	closed chan error
}

func newRecorder() *recorder { return &recorder{closed: make(chan error, 16)} }

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	fmt.Fprintf(&r.b, format, args...)
	r.mu.Unlock()
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

// server returns a Server with opts whose handlers record into r; onMessage, when set, runs
// after the recording.
func (r *recorder) server(opts *wsx.AcceptOptions, onMessage func(c *Conn, typ wsx.MessageType, msg []byte)) *Server {
	if opts == nil {
		opts = &wsx.AcceptOptions{}
	}
	opts.OnPing = func(p []byte) { r.add("|ping:%s", p) }
	opts.OnPong = func(p []byte) { r.add("|pong:%s", p) }
	return &Server{
		Options: opts,
		OnMessage: func(c *Conn, typ wsx.MessageType, msg []byte) {
			r.add("|%v:%s", typ, msg)
			if onMessage != nil {
				onMessage(c, typ, msg)
			}
		},
		OnClose: func(c *Conn, err error) {
			var ce *wsx.CloseError
			var pe *wsx.ProtocolError
			switch {
			case errors.As(err, &ce) && ce.Code == wsx.StatusAbnormalClosure:
				r.add("|more")
			case errors.As(err, &ce):
				r.add("|close:%d:%s", ce.Code, ce.Reason)
			case errors.As(err, &pe):
				r.add("|fail:%d", pe.Code)
			default:
				r.add("|closed")
			}
			r.closed <- err
		},
	}
}

// waitClosed returns the error OnClose was called with.
func (r *recorder) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("OnClose was not called; so far: %q", r.String())
		return nil
	}
}

// rawClient opens a connection to the server at url and performs the opening handshake
// itself, with extra header lines; it returns the connection after the 101 response.
func rawClient(t *testing.T, url string, extra ...string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s", resp.Status)
	}
	return &rawConn{Conn: nc, br: br, Header: resp.Header}
}

// rawConn is the client end of a connection, speaking frames by hand.
type rawConn struct {
	net.Conn
	br     *bufio.Reader
	Header http.Header // the 101 response's
}

// send writes a masked frame.
func (c *rawConn) send(fin bool, op frame.Opcode, payload []byte) error {
	h := frame.Header{Fin: fin, Opcode: op, Masked: true, Key: [4]byte{7, 7, 7, 7}, Length: int64(len(payload))}
	b := make([]byte, frame.MaxHeaderSize+len(payload))
	n := frame.Put(b, h)
	copy(b[n:], payload)
	frame.Mask(h.Key, 0, b[n:n+len(payload)])
	_, err := c.Write(b[:n+len(payload)])
	return err
}

// next reads the next frame from the server.
func (c *rawConn) next() (frame.Header, []byte, error) {
	var hdr []byte
	for {
		b, err := c.br.Peek(len(hdr) + 1)
		if err != nil {
			return frame.Header{}, nil, err
		}
		h, n, err := frame.Parse(b)
		if err == frame.ErrShortHeader {
			hdr = b
			continue
		}
		if err != nil {
			return h, nil, err
		}
		c.br.Discard(n)
		if h.Masked {
			return h, nil, errors.New("masked frame from the server (§5.1)")
		}
		p := make([]byte, h.Length)
		_, err = io.ReadFull(c.br, p)
		return h, p, err
	}
}

// frames reads frames until the end of the stream and writes them down: "|pong:p",
// "|close:1002", "|text:hi". The end must come without an error (no reset).
func (c *rawConn) frames(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for {
		h, p, err := c.next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Errorf("reading frames after %q: %v", b.String(), err)
			return b.String()
		}
		switch h.Opcode {
		case frame.OpPong:
			fmt.Fprintf(&b, "|pong:%s", p)
		case frame.OpClose:
			code, _, _ := frame.ParseClose(p)
			fmt.Fprintf(&b, "|close:%d", code)
		default:
			fmt.Fprintf(&b, "|%v:%s", h.Opcode, p)
		}
	}
}

// closeCode reads frames until a Close and returns its code and reason.
func (c *rawConn) closeCode(t *testing.T) (uint16, string) {
	t.Helper()
	for {
		h, p, err := c.next()
		if err != nil {
			t.Fatalf("waiting for a Close frame: %v", err)
		}
		if h.Opcode == frame.OpClose {
			code, reason, err := frame.ParseClose(p)
			if err != nil {
				t.Fatal(err)
			}
			return code, string(reason)
		}
	}
}
