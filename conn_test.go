//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// connPair returns a server and a client Conn talking to each other, past the handshake.
func connPair(t testing.TB, opts ConnOptions) (server, client *Conn) {
	t.Helper()
	a, b := tcpPair(t)
	server = newConn(a, connConfig{opts: opts})
	client = newConn(b, connConfig{client: true, opts: opts})
	return server, client
}

// rawPeer is the other end of a Conn under test, speaking raw bytes.
type rawPeer struct {
	t      testing.TB
	nc     net.Conn
	client bool // the peer is the client: it masks what it sends
}

// serverWithRawClient returns a server Conn and a raw client to drive it with bytes.
func serverWithRawClient(t testing.TB, opts ConnOptions) (*Conn, *rawPeer) {
	a, b := tcpPair(t)
	return newConn(a, connConfig{opts: opts}), &rawPeer{t: t, nc: b, client: true}
}

// clientWithRawServer returns a client Conn and a raw server to drive it with bytes.
func clientWithRawServer(t testing.TB, opts ConnOptions) (*Conn, *rawPeer) {
	a, b := tcpPair(t)
	return newConn(a, connConfig{client: true, opts: opts}), &rawPeer{t: t, nc: b}
}

// frameBytes encodes one frame, masked with a fixed key when masked is set.
func frameBytes(fin bool, rsv byte, op frame.Opcode, masked bool, payload []byte) []byte {
	return frame.Append(nil, frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: masked, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, payload)
}

// send writes a frame as the peer would (masked when the peer is the client).
func (p *rawPeer) send(fin bool, op frame.Opcode, payload []byte) {
	p.t.Helper()
	p.write(frameBytes(fin, 0, op, p.client, payload))
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("raw peer write: %v", err)
	}
}

// readFrame reads one frame from the Conn under test and returns its header and unmasked payload.
func (p *rawPeer) readFrame() (frame.Header, []byte) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hb [frame.MaxHeaderSize]byte
	n := 0
	for {
		h, hl, err := frame.Parse(hb[:n])
		if err == nil {
			payload := make([]byte, h.Length)
			copy(payload, hb[hl:n])
			if _, err := io.ReadFull(p.nc, payload[n-hl:]); err != nil {
				p.t.Fatalf("raw peer: reading payload: %v", err)
			}
			if h.Masked {
				frame.Mask(h.Key, 0, payload)
			}
			return h, payload
		}
		if err != frame.ErrShortHeader {
			p.t.Fatalf("raw peer: bad header from conn: %v", err)
		}
		// Read byte by byte so that nothing past this frame is consumed.
		if _, err := io.ReadFull(p.nc, hb[n:n+1]); err != nil {
			p.t.Fatalf("raw peer: reading header: %v", err)
		}
		n++
	}
}

// expectClose reads frames until a Close frame and checks its status code.
func (p *rawPeer) expectClose(code StatusCode) []byte {
	p.t.Helper()
	for {
		h, payload := p.readFrame()
		if h.Opcode != frame.OpClose {
			continue
		}
		if p.client == h.Masked {
			p.t.Errorf("close frame masked=%v from a %s", h.Masked, map[bool]string{true: "server", false: "client"}[p.client])
		}
		if code == StatusNoStatusReceived {
			if len(payload) != 0 {
				p.t.Fatalf("close payload = %x, want empty", payload)
			}
			return payload
		}
		if len(payload) < 2 || StatusCode(binary.BigEndian.Uint16(payload)) != code {
			p.t.Fatalf("close payload = %x (%q), want status %v", payload, payload, code)
		}
		return payload
	}
}

// expectEOF checks that the Conn under test closed the TCP connection.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(p.nc)
	if err != nil || len(b) != 0 {
		p.t.Fatalf("after close: read %x, %v; want EOF", b, err)
	}
}

// readErr runs a read on c in the background and returns its error.
func readErr(c *Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			_, _, err := c.Read(ctx)
			if err != nil {
				ch <- err
				return
			}
		}
	}()
	return ch
}

func failedWith(t testing.TB, err error, code StatusCode) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("error = %v, want a failure with status %v", err, code)
	}
}

func TestEcho(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	ctx := context.Background()
	sizes := []int{0, 1, 125, 126, 127, 4095, 4096, 65535, 65536, 70000, 1 << 20}
	go func() {
		for {
			typ, p, err := server.Read(ctx)
			if err != nil {
				return
			}
			if err := server.Write(ctx, typ, p); err != nil {
				return
			}
		}
	}()
	for _, n := range sizes {
		for _, typ := range []MessageType{MessageBinary, MessageText} {
			msg := bytes.Repeat([]byte("wsx!"), n/4+1)[:n]
			if err := client.Write(ctx, typ, msg); err != nil {
				t.Fatal(err)
			}
			gotType, got, err := client.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if gotType != typ || !bytes.Equal(got, msg) {
				t.Fatalf("size %d %v: echoed %v of %d bytes", n, typ, gotType, len(got))
			}
		}
	}
	if err := client.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// newBufferedReader returns a bufio.Reader holding b in its buffer, as a handshake would leave it.
func newBufferedReader(b []byte) *bufio.Reader {
	br := bufio.NewReader(bytes.NewReader(b))
	br.Peek(len(b))
	return br
}
