package interop

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// tap records the bytes that cross a wsx endpoint's connections, so that tests can check
// which frames went out on the wire, not only that the peer understood them. Wrap a client
// with dial, a server with listener.
type tap struct {
	mu    sync.Mutex
	conns []*tapConn
}

type tapConn struct {
	net.Conn
	tp            *tap
	written, read []byte // guarded by tp.mu
	ws            bool   // an opening handshake went through; guarded by tp.mu
}

// dial is a DialOptions.NetDialContext that taps the connection.
func (tp *tap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return tp.wrap(nc), nil
}

// listener taps every connection l accepts.
func (tp *tap) listener(l net.Listener) net.Listener { return tapListener{l, tp} }

type tapListener struct {
	net.Listener
	tp *tap
}

func (l tapListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.tp.wrap(nc), nil
}

func (tp *tap) wrap(nc net.Conn) *tapConn {
	c := &tapConn{Conn: nc, tp: tp}
	tp.mu.Lock()
	tp.conns = append(tp.conns, c)
	tp.mu.Unlock()
	return c
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.tp.mu.Lock()
	c.written = append(c.written, p...)
	c.sawHandshake(c.written)
	c.tp.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.tp.mu.Lock()
	c.read = append(c.read, p[:n]...)
	c.sawHandshake(c.read)
	c.tp.mu.Unlock()
	return n, err
}

// sawHandshake marks the connection as a WebSocket one when b, the start of what went one
// way, is an opening handshake request.
func (c *tapConn) sawHandshake(b []byte) {
	if !c.ws && bytes.HasPrefix(b, []byte("GET ")) {
		c.ws = bytes.Contains(bytes.ToLower(b), []byte("\r\nupgrade: websocket\r\n"))
	}
}

// reset forgets what was written and read so far (the handshake, earlier messages).
func (tp *tap) reset() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, c := range tp.conns {
		c.written, c.read = c.written[:0], c.read[:0]
	}
}

// tapFrame is a frame seen on the wire, with its payload unmasked.
type tapFrame struct {
	frame.Header
	Payload []byte
}

// frames parses the frames that the endpoint wrote (written) or received (!written) on its
// last WebSocket connection since the last reset, after the opening handshake (§5.2).
func (tp *tap) frames(t testing.TB, written bool) []tapFrame {
	t.Helper()
	var b []byte
	tp.mu.Lock()
	for _, c := range tp.conns {
		if c.ws {
			b = c.read
			if written {
				b = c.written
			}
		}
	}
	b = append([]byte(nil), b...)
	tp.mu.Unlock()
	if bytes.HasPrefix(b, []byte("GET ")) || bytes.HasPrefix(b, []byte("HTTP/")) {
		i := bytes.Index(b, []byte("\r\n\r\n"))
		if i < 0 {
			t.Fatalf("tapped connection holds an incomplete handshake: %q", b)
		}
		b = b[i+4:]
	}
	var fs []tapFrame
	for len(b) > 0 {
		h, n, err := frame.Parse(b)
		if err != nil {
			t.Fatalf("bytes on the wire are not a frame: %v", err)
		}
		if int64(len(b)-n) < h.Length {
			t.Fatalf("a frame of %d bytes has only %d following", h.Length, len(b)-n)
		}
		p := b[n : n+int(h.Length)]
		if h.Masked {
			frame.Mask(h.Key, 0, p)
		}
		fs = append(fs, tapFrame{h, p})
		b = b[n+int(h.Length):]
	}
	return fs
}

// checkFragmented checks that hs is one message of type op in more than one frame: op first,
// then continuations, FIN on the last only, every frame masked by the client (§5.3, §5.4).
// Control frames may stand between the fragments.
func checkFragmented(t testing.TB, fs []tapFrame, op frame.Opcode) {
	t.Helper()
	var data []tapFrame
	for _, h := range fs {
		if !h.Masked {
			t.Errorf("wsx client sent an unmasked frame (§5.3): %+v", h)
		}
		if h.Opcode < frame.OpClose {
			data = append(data, h)
		}
	}
	if len(data) < 2 {
		t.Fatalf("wsx sent the message in %d frame(s), want several", len(data))
	}
	for i, h := range data {
		want := frame.OpContinuation
		if i == 0 {
			want = op
		}
		if h.Opcode != want || h.Fin != (i == len(data)-1) {
			t.Fatalf("fragment %d of %d: opcode %v fin %v, want opcode %v fin %v", i, len(data), h.Opcode, h.Fin, want, i == len(data)-1)
		}
	}
}

// messages reassembles the data messages in fs, inflating the compressed ones (RFC 7692 §6)
// with a decompressor that refuses back-references beyond 2^windowBits bytes: the window
// the sender agreed to stay within (§7.1.2). takeover says whether the sender may refer to
// earlier messages (§7.1.1).
func messages(t testing.TB, fs []tapFrame, windowBits int, takeover bool) []payload {
	t.Helper()
	d := deflate.NewDecompressor(windowBits, takeover)
	var msgs []payload
	var cur payload
	var compressed bool
	var raw []byte
	for _, f := range fs {
		if f.Opcode >= frame.OpClose {
			continue
		}
		if f.Opcode != frame.OpContinuation {
			cur = payload{wsx.MessageText, nil}
			if f.Opcode == frame.OpBinary {
				cur.typ = wsx.MessageBinary
			}
			compressed = f.Rsv&frame.Rsv1 != 0
			raw = raw[:0]
		}
		raw = append(raw, f.Payload...)
		if !f.Fin {
			continue
		}
		cur.data = raw
		if compressed {
			cur.data = nil
			buf := make([]byte, 64<<10)
			src := raw
			for {
				n, nsrc, err := d.Inflate(buf, src, true)
				cur.data = append(cur.data, buf[:n]...)
				src = src[nsrc:]
				if err == io.EOF {
					break
				}
				if err == nil && n == 0 && nsrc == 0 {
					t.Fatalf("message %d: the compressed data ends before its last block", len(msgs))
				}
				if err != nil {
					t.Fatalf("message %d does not inflate within a window of 2^%d bytes: %v", len(msgs), windowBits, err)
				}
			}
		}
		cur.data = bytes.Clone(cur.data)
		msgs = append(msgs, cur)
	}
	return msgs
}
