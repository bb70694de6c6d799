// Package wiretest is one table of the wire-level rules of RFC 6455 §5-§8 (raw frames a peer
// sends to a wsx Conn, and the messages, replies, close code and error that must come of
// them), and the runner that plays it over any transport: HTTP/1.1 in the wsx module's
// tests, HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) in the transport modules' tests. The same
// bytes in, the same events and close codes out.
package wiretest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// A Case is a script for the raw peer of a wsx Conn and what the Conn must make of it.
type Case struct {
	Name string
	// Client says that the Conn under test is the client (its peer, the server, sends
	// unmasked frames); otherwise it is the server.
	Client bool
	// Options configure the Conn under test.
	Options wsx.ConnOptions
	// Send is what the peer sends, in one write.
	Send []byte
	// Messages are what the Conn's reads return, in order, before they fail.
	Messages []Message
	// Replies are the frames the Conn sends on its own before its Close frame: pongs.
	Replies []Reply
	// Close is the status code of the Close frame the Conn sends (§5.5.1): the peer's own
	// when PeerClosed, else the one it fails the connection with (§7.1.7).
	// wsx.StatusNoStatusReceived stands for a Close frame without a code.
	Close wsx.StatusCode
	// PeerClosed says that the peer closed with a Close frame, which the reads report as a
	// *wsx.CloseError with Close and Reason; otherwise the Conn failed the connection and
	// the reads' error holds Error.
	PeerClosed bool
	Reason     string
	Error      string
	// Pings and Pongs are the payloads the Conn's OnPing and OnPong hooks must see, in order.
	Pings, Pongs []string
	// CloseRead says that the application does not read but hands reading to the Conn
	// (Conn.CloseRead); Messages must be empty.
	CloseRead bool
	// Drained says that the Conn fails the connection while the peer is still sending, and
	// takes what the peer sends after its Close for a moment: the peer's write must return
	// (it would block for ever on a transport with flow control if the Conn stopped reading),
	// but may fail if that moment ends first on a slow machine.
	Drained bool
}

// A Message is one the Conn reads.
type Message struct {
	Type wsx.MessageType
	Data string
}

// A Reply is a control frame the Conn sends by itself.
type Reply struct {
	Opcode  frame.Opcode
	Payload string
}

// Setup says what Conn a Case needs.
type Setup struct {
	Client  bool
	Options wsx.ConnOptions
}

// An Endpoint is a Conn under test, connected over some transport to a raw Peer.
type Endpoint struct {
	Conn *wsx.Conn
	Peer Peer
	// Release, if not nil, is called once the application would be done with Conn: an
	// HTTP/2 handler returns then, which ends the stream.
	Release func()
}

// A Peer is the raw side of the connection: bytes, no WebSocket.
type Peer interface {
	io.ReadWriter
	// CloseWrite ends what the peer sends (the TCP FIN, END_STREAM, QUIC FIN).
	CloseWrite() error
	// Close ends the connection; it makes blocked Reads return.
	Close() error
}

// Run plays every case of Cases over the transport that open sets up.
func Run(t *testing.T, open func(t *testing.T, s Setup) Endpoint) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			var hooks hookLog
			opts := c.Options
			opts.OnPing, opts.OnPong = hooks.ping, hooks.pong
			e := open(t, Setup{Client: c.Client, Options: opts})
			// Whatever goes wrong, nothing waits for more than a while.
			watchdog := time.AfterFunc(20*time.Second, func() {
				t.Errorf("case still running after 20s")
				e.Peer.Close()
				e.Conn.CloseNow()
			})
			defer watchdog.Stop()
			defer e.Conn.CloseNow()
			defer e.Peer.Close()
			play(t, c, e)
			hooks.check(t, c)
		})
	}
}

// hookLog records what the Conn's OnPing and OnPong hooks were given.
type hookLog struct {
	mu           sync.Mutex
	pings, pongs []string
}

func (h *hookLog) ping(p []byte) {
	h.mu.Lock()
	h.pings = append(h.pings, string(p))
	h.mu.Unlock()
}

func (h *hookLog) pong(p []byte) {
	h.mu.Lock()
	h.pongs = append(h.pongs, string(p))
	h.mu.Unlock()
}

func (h *hookLog) check(t *testing.T, c Case) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Equal(h.pings, c.Pings) || !slices.Equal(h.pongs, c.Pongs) {
		t.Errorf("OnPing saw %.40q, OnPong %.40q; want %.40q and %.40q", h.pings, h.pongs, c.Pings, c.Pongs)
	}
}

func play(t *testing.T, c Case, e Endpoint) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		_, err := e.Peer.Write(c.Send)
		sent <- err
	}()
	// The Conn reads while the peer reads what the Conn sends: a client that received the
	// server's Close waits in its read for the server to end the connection (§7.1.1).
	read := make(chan error, 1)
	if c.CloseRead {
		go func() { read <- closeRead(c, e.Conn) }()
	} else {
		go func() { read <- readAll(c, e.Conn) }()
	}

	r := &frameReader{r: e.Peer, client: c.Client}
	for _, want := range c.Replies {
		h, p, err := r.next()
		if err != nil || h.Opcode != want.Opcode || string(p) != want.Payload {
			t.Fatalf("reply: %v %q %v; want %v %q", h.Opcode, p, err, want.Opcode, want.Payload)
		}
	}
	h, p, err := r.next()
	if err != nil || h.Opcode != frame.OpClose {
		t.Fatalf("frame %v %q %v; want a Close frame", h.Opcode, p, err)
	}
	checkClosePayload(t, c, p)
	if err := <-sent; err != nil && !c.Drained {
		t.Errorf("the peer's write: %v", err)
	}
	// The peer ends its side, as a server closes its TCP connection first (§7.1.1); the Conn
	// then ends the connection, and the peer reads nothing more.
	e.Peer.CloseWrite()
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if e.Release != nil {
		e.Release()
	}
	if rest, err := io.ReadAll(e.Peer); len(rest) != 0 {
		t.Errorf("after the Close frame the Conn sent %x (%v); want the end of the stream", rest, err)
	}
}

// readAll reads what c.Messages says the Conn reads, and checks how its reads end.
func readAll(c Case, conn *wsx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, want := range c.Messages {
		typ, data, err := conn.Read(ctx)
		if err != nil || typ != want.Type || string(data) != want.Data || data == nil {
			return fmt.Errorf("message %d: %v %.40q %v; want %v %.40q", i, typ, data, err, want.Type, want.Data)
		}
	}
	_, _, err := conn.Read(ctx)
	if err := checkReadError(c, err); err != nil {
		return err
	}
	if _, _, again := conn.Read(ctx); again != err {
		return fmt.Errorf("second read after the end: %v, want the same %v", again, err)
	}
	return nil
}

// closeRead hands the Conn's reading to it, waits for the connection to end, and checks how
// its reads ended.
func closeRead(c Case, conn *wsx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	<-conn.CloseRead(ctx).Done()
	if ctx.Err() != nil {
		return errors.New("the connection did not end after CloseRead")
	}
	_, _, err := conn.Read(ctx)
	return checkReadError(c, err)
}

// checkReadError checks how the Conn's reads ended.
func checkReadError(c Case, err error) error {
	if c.PeerClosed {
		var ce *wsx.CloseError
		if !errors.As(err, &ce) || ce.Code != c.Close || ce.Reason != c.Reason || ce.Local {
			return fmt.Errorf("read error %v; want the peer's close %v %q", err, c.Close, c.Reason)
		}
		return nil
	}
	var pe *wsx.ProtocolError
	if !errors.As(err, &pe) || pe.Code != c.Close || !strings.Contains(pe.Rule, c.Error) {
		return fmt.Errorf("read error %v; want a *wsx.ProtocolError with status %v mentioning %q", err, c.Close, c.Error)
	}
	if errors.As(err, new(*wsx.CloseError)) {
		return fmt.Errorf("a failure reported as a close: %v", err)
	}
	return nil
}

// checkClosePayload checks the Conn's Close frame: the code it failed with, or the peer's
// code and reason echoed (§5.5.1).
func checkClosePayload(t *testing.T, c Case, p []byte) {
	t.Helper()
	if c.Close == wsx.StatusNoStatusReceived {
		if len(p) != 0 {
			t.Fatalf("Close payload %x; want none", p)
		}
		return
	}
	if len(p) < 2 || wsx.StatusCode(binary.BigEndian.Uint16(p)) != c.Close {
		t.Fatalf("Close payload %x (%q); want status %v", p, p, c.Close)
	}
	if c.PeerClosed && string(p[2:]) != c.Reason {
		t.Fatalf("Close reason %q; want the peer's %q echoed", p[2:], c.Reason)
	}
}

// frameReader reads the frames the Conn under test sends.
type frameReader struct {
	r      io.Reader
	client bool // the Conn is the client: its frames must be masked (§5.1)
	buf    []byte
}

func (f *frameReader) next() (frame.Header, []byte, error) {
	for {
		h, n, err := frame.Parse(f.buf)
		if err == nil && len(f.buf) >= n+int(h.Length) {
			p := bytes.Clone(f.buf[n : n+int(h.Length)])
			f.buf = f.buf[n+int(h.Length):]
			if h.Masked != f.client {
				return h, p, fmt.Errorf("frame masked=%v from the %s (§5.1)", h.Masked, map[bool]string{true: "client", false: "server"}[f.client])
			}
			if h.Masked {
				frame.Mask(h.Key, 0, p)
			}
			return h, p, nil
		}
		if err != nil && err != frame.ErrShortHeader {
			return h, nil, err
		}
		var b [4096]byte
		m, err := f.r.Read(b[:])
		f.buf = append(f.buf, b[:m]...)
		if m == 0 && err != nil {
			return frame.Header{}, nil, err
		}
	}
}

// Frame encodes one frame; masked frames use a fixed key.
func Frame(fin bool, rsv byte, op frame.Opcode, masked bool, payload []byte) []byte {
	return frame.Append(nil, frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: masked, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, payload)
}
