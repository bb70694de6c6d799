//go:build !js

package event

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/engine/enginetest"
	"github.com/wsx-go/wsx/internal/frame"
)

// TestZeroAllocs: in steady state an echoed message costs no allocation, on the server's path
// (worker, engine, handler, Write) nor on the raw client's: messages that arrive whole or in
// pieces, output that waits for the socket, compressed messages. Over TLS, crypto/tls itself
// allocates once each time it reads a record (the atLeastReader of Conn.readFromUntil, go1.26),
// on the server and on the client: the server hands it records whole, so that it never reads
// twice for one.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector (scripts/test.sh runs this without it)")
	}
	deflate := "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover"
	for _, tc := range []struct {
		name    string
		size    int
		deflate bool
		tls     bool
		want    float64
	}{
		{"16 B", 16, false, false, 0},
		{"1 KiB", 1 << 10, false, false, 0},
		{"256 KiB, in pieces, output queued", 256 << 10, false, false, 0},
		{"4 MiB, assembled from pooled buffers", 4 << 20, false, false, 0},
		{"4 KiB compressed", 4 << 10, true, false, 0},
		{"1 KiB over TLS", 1 << 10, false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{OnMessage: echo}
			if tc.deflate {
				srv.Options = &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{Threshold: -1}}
			}
			var scfg, ccfg *tls.Config
			if tc.tls {
				scfg, ccfg = testTLS(t)
				srv.TLSConfig = scfg
			}
			addr := strings.TrimPrefix(strings.TrimSuffix(serve(t, srv), "/"), "ws://")
			var nc net.Conn
			var err error
			if nc, err = net.Dial("tcp", addr); err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if tc.tls {
				ccfg.ServerName = "example.com"
				nc = tls.Client(nc, ccfg)
			}
			c := handshake(t, nc, tc.deflate, deflate)
			payload := strings.Repeat("echo me, ", tc.size/9+1)[:tc.size]
			var msg []byte
			if tc.deflate {
				msg = enginetest.Frame(true, frame.Rsv1, frame.OpText, true, enginetest.Compress(payload))
			} else {
				msg = enginetest.Frame(true, 0, frame.OpText, true, payload)
			}
			buf := make([]byte, 2*tc.size+64)
			roundTrip := func() {
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				if err := readFrame(c, buf); err != nil {
					t.Fatal(err)
				}
			}
			for range 20 {
				roundTrip()
			}
			if allocs := testing.AllocsPerRun(200, roundTrip); allocs > tc.want {
				t.Errorf("%.2f allocations per echoed message, want %v", allocs, tc.want)
			}
		})
	}
}

// handshake performs the opening handshake on nc by hand.
func handshake(t *testing.T, nc net.Conn, deflate bool, offer string) io.ReadWriter {
	t.Helper()
	req := "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += offer + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read the response byte by byte up to its end, so that nothing after it is taken.
	var head []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := nc.Read(b); err != nil {
			t.Fatal(err)
		}
		head = append(head, b[0])
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101 ") || deflate != strings.Contains(string(head), "permessage-deflate") {
		t.Fatalf("response %q", head)
	}
	return nc
}

// readFrame reads one unmasked frame of the server into buf.
func readFrame(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return err
	}
	n := int(buf[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint16(buf))
	case 127:
		if _, err := io.ReadFull(r, buf[:8]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint64(buf))
	}
	_, err := io.ReadFull(r, buf[:n])
	return err
}

// A buffer is a pooled power of two up to 16 MiB; one for a message being assembled, which
// the message memory budget is charged for by capacity, is exactly what is asked above 1 MiB
// unless that is a power of two (the message growing by doubling).
func TestBufferSizes(t *testing.T) {
	for _, tc := range []struct{ ask, want, message int }{
		{1, 512, 512},
		{1000, 1024, 1024},
		{1 << 20, 1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20, 1<<20 + 1},
		{2 << 20, 2 << 20, 2 << 20},
		{9 << 20, 16 << 20, 9 << 20},
		{16 << 20, 16 << 20, 16 << 20},
		{32 << 20, 32 << 20, 32 << 20},
	} {
		for _, get := range []struct {
			name string
			f    func(int) []byte
			want int
		}{{"getBuffer", getBuffer, tc.want}, {"messageBuffer", messageBuffer, tc.message}} {
			b := get.f(tc.ask)
			if get.name == "getBuffer" && bufferSize(tc.ask) != get.want {
				t.Errorf("bufferSize(%d) = %d, want %d", tc.ask, bufferSize(tc.ask), get.want)
			}
			if len(b) != 0 || cap(b) != get.want {
				t.Errorf("%s(%d): len %d, cap %d; want 0, %d", get.name, tc.ask, len(b), cap(b), get.want)
			}
			putBuffer(b)
		}
	}
}
