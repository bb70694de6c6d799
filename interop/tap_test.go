package interop

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/wsx-go/wsx/internal/frame"
)

// tap records the bytes a wsx client writes after its opening handshake, so that tests can
// check which frames went out on the wire, not only that the peer understood them.
type tap struct {
	mu   sync.Mutex
	sent []byte
}

// dial is a DialOptions.NetDialContext that wraps the connection in the tap.
func (tp *tap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: nc, tp: tp}, nil
}

type tapConn struct {
	net.Conn
	tp *tap
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.tp.mu.Lock()
	c.tp.sent = append(c.tp.sent, p...)
	c.tp.mu.Unlock()
	return c.Conn.Write(p)
}

// reset forgets what was written so far (the handshake, earlier messages).
func (tp *tap) reset() {
	tp.mu.Lock()
	tp.sent = tp.sent[:0]
	tp.mu.Unlock()
}

// frames parses the frame headers written since the last reset (§5.2).
func (tp *tap) frames(t testing.TB) []frame.Header {
	t.Helper()
	tp.mu.Lock()
	b := append([]byte(nil), tp.sent...)
	tp.mu.Unlock()
	var hs []frame.Header
	for len(b) > 0 {
		h, n, err := frame.Parse(b)
		if err != nil {
			t.Fatalf("wsx wrote bytes that are not a frame: %v", err)
		}
		if int64(len(b)-n) < h.Length {
			t.Fatalf("wsx wrote a frame of %d bytes with only %d following", h.Length, len(b)-n)
		}
		hs = append(hs, h)
		b = b[n+int(h.Length):]
	}
	return hs
}

// checkFragmented checks that hs is one message of type op in more than one frame: op first,
// then continuations, FIN on the last only, every frame masked by the client (§5.3, §5.4).
// Control frames may stand between the fragments.
func checkFragmented(t testing.TB, hs []frame.Header, op frame.Opcode) {
	t.Helper()
	var data []frame.Header
	for _, h := range hs {
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
