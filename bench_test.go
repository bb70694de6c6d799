//go:build !js

package wsx

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// memConn is an in-memory net.Conn: reads replay stream forever, writes are discarded. It
// measures the connection's own cost, without system calls.
type memConn struct {
	stream []byte
	pos    int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.pos == len(m.stream) {
		m.pos = 0
	}
	n := copy(p, m.stream[m.pos:])
	m.pos += n
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

var benchSizes = []int{16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// replayConn returns a Conn (server or client) whose peer sends message after message of
// size n: masked frames for a server to read, unmasked for a client.
func replayConn(client bool, n int) *Conn {
	msg := frameBytes(true, 0, frame.OpBinary, !client, make([]byte, n))
	return newConn(&memConn{stream: msg}, connConfig{client: client})
}

func BenchmarkRead(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, n := range benchSizes {
			b.Run(side+"/"+sizeName(n), func(b *testing.B) {
				c := replayConn(side == "client", n)
				buf := make([]byte, 0, n)
				ctx := context.Background()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					_, p, err := c.ReadMessage(ctx, buf[:0])
					if err != nil || len(p) != n {
						b.Fatal(len(p), err)
					}
				}
			})
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, n := range benchSizes {
			b.Run(side+"/"+sizeName(n), func(b *testing.B) {
				c := newConn(&memConn{}, connConfig{client: side == "client"})
				msg := make([]byte, n)
				ctx := context.Background()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Write(ctx, MessageBinary, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEchoTCP is a server echoing a client's messages over loopback TCP.
func BenchmarkEchoTCP(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			server, client := connPair(b, ConnOptions{})
			ctx := context.Background()
			go func() {
				buf := make([]byte, 0, n)
				for {
					typ, p, err := server.ReadMessage(ctx, buf[:0])
					if err != nil || server.Write(ctx, typ, p) != nil {
						return
					}
				}
			}()
			msg := make([]byte, n)
			buf := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := client.Write(ctx, MessageBinary, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := client.ReadMessage(ctx, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			client.CloseNow()
		})
	}
}

// The steady-state read and write paths allocate nothing, with a background context and with
// one long-lived cancellable context alike.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; scripts/test.sh runs this without -race")
	}
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), long} {
		for _, client := range []bool{false, true} {
			for _, n := range []int{16, 4 << 10, 100 << 10} {
				r := replayConn(client, n)
				buf := make([]byte, 0, n)
				if a := testing.AllocsPerRun(20, func() {
					if _, _, err := r.ReadMessage(ctx, buf[:0]); err != nil {
						t.Fatal(err)
					}
				}); a != 0 {
					t.Errorf("ReadMessage (client=%v, %d B): %v allocs per message", client, n, a)
				}
				w := newConn(&memConn{}, connConfig{client: client})
				msg := make([]byte, n)
				if a := testing.AllocsPerRun(20, func() {
					if err := w.Write(ctx, MessageText, msg); err != nil {
						t.Fatal(err)
					}
				}); a != 0 {
					t.Errorf("Write (client=%v, %d B): %v allocs per message", client, n, a)
				}
				if a := testing.AllocsPerRun(20, func() {
					wr, _ := w.Writer(ctx, MessageBinary)
					wr.Write(msg)
					wr.Close()
				}); a != 0 {
					t.Errorf("Writer (client=%v, %d B): %v allocs per message", client, n, a)
				}
			}
		}
	}
}

// compressedText is JSON-like text, as 4 KiB messages compress in practice.
var compressedText = []byte(strings.Repeat(`{"id":12345,"user":"wsx","tags":["fast","strict"],"ok":true,"score":0.97},`, 60)[:4096])

func BenchmarkCompressed(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		p := deflate.Params{ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		name := map[bool]string{true: "takeover", false: "no-takeover"}[takeover]
		b.Run("write/"+name, func(b *testing.B) {
			c := newConn(&memConn{}, connConfig{deflate: &p})
			b.SetBytes(int64(len(compressedText)))
			b.ReportAllocs()
			for b.Loop() {
				c.Write(context.Background(), MessageText, compressedText)
			}
		})
		if takeover {
			continue // a replayed message needs a fresh context each time
		}
		b.Run("read/"+name, func(b *testing.B) {
			stream := frameBytes(true, frame.Rsv1, frame.OpText, true, deflateMsg(b, compressedText))
			c := newConn(&memConn{stream: stream}, connConfig{deflate: &p})
			buf := make([]byte, 0, 8192)
			b.SetBytes(int64(len(compressedText)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.ReadMessage(context.Background(), buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Compressed messages are read and written without allocations too, once pools are warm.
func TestZeroAllocsCompressed(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; run without -race")
	}
	p := noContext
	stream := frameBytes(true, frame.Rsv1, frame.OpText, true, deflateMsg(t, compressedText))
	r := newConn(&memConn{stream: stream}, connConfig{deflate: &p})
	w := newConn(&memConn{}, connConfig{deflate: &p})
	buf := make([]byte, 0, 8192)
	read := func() {
		if _, got, err := r.ReadMessage(context.Background(), buf[:0]); err != nil || len(got) != len(compressedText) {
			t.Fatal(len(got), err)
		}
	}
	write := func() { w.Write(context.Background(), MessageText, compressedText) }
	read()
	write()
	if a := testing.AllocsPerRun(50, read); a != 0 {
		t.Errorf("compressed ReadMessage: %v allocs per message", a)
	}
	if a := testing.AllocsPerRun(50, write); a != 0 {
		t.Errorf("compressed Write: %v allocs per message", a)
	}
}
