//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// deflateMsg compresses msg as a peer would, with the tail 00 00 ff ff removed (RFC 7692 §7.2.1).
func deflateMsg(t testing.TB, msg []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(msg)
	w.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("flate output %x lacks the sync tail", out)
	}
	return out[:len(out)-4]
}

// inflateMsg inflates a payload received from a Conn (RFC 7692 §7.2.2), with no context.
func inflateMsg(t testing.TB, payload []byte) []byte {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

var noContext = deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}

func compressedPeer(t testing.TB, client bool, opts ConnOptions, cfg deflate.Config) (*Conn, *rawPeer) {
	a, b := tcpPair(t)
	p := noContext
	return newConn(a, connConfig{client: client, opts: opts, deflate: &p, compression: cfg}), &rawPeer{t: t, nc: b, client: !client}
}

// RFC 7692 §6.1: a compressed message has RSV1 on its first frame only; control frames and
// messages under the threshold, or marked Uncompressed, go out plain.
func TestCompressedFrames_RFC7692_6(t *testing.T) {
	c, peer := compressedPeer(t, true, ConnOptions{}, deflate.Config{Threshold: 64})
	ctx := context.Background()
	text := []byte(strings.Repeat("compress me, compress me! ", 40))

	c.Write(ctx, MessageText, text)
	h, p := peer.readFrame()
	if h.Rsv != frame.Rsv1 || h.Opcode != frame.OpText || !h.Fin || len(p) >= len(text) {
		t.Fatalf("compressed frame: %+v, %d bytes", h, len(p))
	}
	if got := inflateMsg(t, p); !bytes.Equal(got, text) {
		t.Fatalf("inflated %q", got)
	}

	c.Write(ctx, MessageText, []byte("tiny")) // under the threshold
	if h, p := peer.readFrame(); h.Rsv != 0 || string(p) != "tiny" {
		t.Fatalf("small message: %+v %q", h, p)
	}
	c.Write(ctx, MessageBinary, text, Uncompressed)
	if h, p := peer.readFrame(); h.Rsv != 0 || !bytes.Equal(p, text) || h.Opcode != frame.OpBinary {
		t.Fatalf("Uncompressed message: %+v", h)
	}
	c.writeControl(ctlPing, 0, text[:100], time.Time{}, nil)
	if h, _ := peer.readFrame(); h.Rsv != 0 || h.Opcode != frame.OpPing {
		t.Fatalf("ping: %+v", h)
	}

	// A streamed message: RSV1 on the first frame, continuations plain (§6.1).
	w, _ := c.Writer(ctx, MessageBinary)
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // past the compressor's 64 KiB buffering
	w.Write(big)
	w.Write(big)
	w.Close()
	var all []byte
	for i := 0; ; i++ {
		h, p := peer.readFrame()
		if (i == 0) != (h.Rsv == frame.Rsv1) || (i == 0) != (h.Opcode == frame.OpBinary) {
			t.Fatalf("fragment %d: %+v", i, h)
		}
		all = append(all, p...)
		if h.Fin {
			if i == 0 {
				t.Fatal("streamed message went out in one frame")
			}
			break
		}
	}
	if got := inflateMsg(t, all); !bytes.Equal(got, append(big, big...)) {
		t.Fatalf("streamed message inflated to %d bytes", len(got))
	}
}

// RFC 7692 §6.2: a compressed message is inflated, whole or fragmented, and text is checked
// for UTF-8 after inflation.
func TestReadCompressed_RFC7692_6_2(t *testing.T) {
	c, peer := compressedPeer(t, false, ConnOptions{}, deflate.Config{})
	text := []byte(strings.Repeat("¡hola, κόσμε! ", 500))
	payload := deflateMsg(t, text)
	peer.write(frameBytes(true, frame.Rsv1, frame.OpText, true, payload))
	third := len(payload) / 3
	peer.write(frameBytes(false, frame.Rsv1, frame.OpText, true, payload[:third]))
	peer.send(true, frame.OpPing, []byte("mid"))
	peer.write(frameBytes(false, 0, frame.OpContinuation, true, payload[third:2*third]))
	peer.write(frameBytes(true, 0, frame.OpContinuation, true, payload[2*third:]))
	peer.write(frameBytes(true, 0, frame.OpText, true, []byte("plain"))) // uncompressed message
	for i, want := range [][]byte{text, text, []byte("plain")} {
		typ, got, err := c.Read(context.Background())
		if err != nil || typ != MessageText || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %v, %d bytes, %v", i, typ, len(got), err)
		}
	}
	// The streaming reader too.
	peer.write(frameBytes(true, frame.Rsv1, frame.OpBinary, true, payload))
	_, r, err := c.Reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("Reader: %d bytes, %v", len(got), err)
	}
}

func TestReadCompressedFailures_RFC7692(t *testing.T) {
	zeros := deflateMsg(t, make([]byte, 1<<20)) // a ~1 KiB message that inflates to 1 MiB
	badUTF8 := deflateMsg(t, []byte("valid, then \xed\xa0\x80 a surrogate"))
	for _, tc := range []struct {
		name  string
		input []byte
		want  StatusCode
	}{
		{"8.1 bomb over the read limit", frameBytes(true, frame.Rsv1, frame.OpBinary, true, zeros), StatusMessageTooBig},
		{"6.1 RSV1 on a continuation", append(frameBytes(false, frame.Rsv1, frame.OpText, true, zeros[:10]), frameBytes(true, frame.Rsv1, frame.OpContinuation, true, zeros[10:])...), StatusProtocolError},
		{"6.1 RSV1 on a control frame", frameBytes(true, frame.Rsv1, frame.OpPing, true, nil), StatusProtocolError},
		{"corrupt deflate data", frameBytes(true, frame.Rsv1, frame.OpBinary, true, []byte{0xff, 0xff, 0xff, 0xff}), StatusInvalidFramePayloadData},
		{"inflated text not UTF-8", frameBytes(true, frame.Rsv1, frame.OpText, true, badUTF8), StatusInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := compressedPeer(t, false, ConnOptions{ReadLimit: 64 << 10}, deflate.Config{})
			peer.write(tc.input)
			errc := readErr(c)
			peer.expectClose(tc.want)
			failedWith(t, <-errc, tc.want)
		})
	}
}

// Compressed echo over every window size and context takeover setting, with fragmented and
// whole messages, between two Conns.
func TestCompressedEcho(t *testing.T) {
	ctx := context.Background()
	for _, takeover := range []bool{true, false} {
		for bits := 9; bits <= 15; bits++ {
			t.Run(fmt.Sprintf("takeover=%v/bits=%d", takeover, bits), func(t *testing.T) {
				p := deflate.Params{ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover, ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}
				a, b := tcpPair(t)
				server := newConn(a, connConfig{deflate: &p})
				client := newConn(b, connConfig{client: true, deflate: &p})
				go func() {
					for {
						typ, msg, err := server.Read(ctx)
						if err != nil || server.Write(ctx, typ, msg) != nil {
							return
						}
					}
				}()
				for i, n := range []int{0, 200, 5000, 70000, 300000} {
					msg := []byte(strings.Repeat(fmt.Sprintf("message %d of size %d; ", i, n), n/20+1)[:n])
					if i%2 == 0 {
						client.Write(ctx, MessageText, msg)
					} else {
						w, _ := client.Writer(ctx, MessageText)
						w.Write(msg[:n/2])
						w.Write(msg[n/2:])
						w.Close()
					}
					_, got, err := client.Read(ctx)
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(got), err)
					}
				}
				client.CloseNow()
			})
		}
	}
}

// echoServer serves an echo of every message at ws://.../ with opts.
func echoServer(t testing.TB, opts *AcceptOptions) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, msg) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// RFC 7692 §5, §7: Dial offers and Accept answers every parameter combination; the agreed
// parameters show in Extensions and compressed messages echo intact.
func TestNegotiatedCompression_RFC7692_7(t *testing.T) {
	for _, tc := range []struct {
		name           string
		server, client CompressionOptions
		want           string
	}{
		{"defaults", CompressionOptions{}, CompressionOptions{}, "permessage-deflate"},
		{"server no context takeover", CompressionOptions{NoContextTakeover: true}, CompressionOptions{}, "server_no_context_takeover"},
		{"client asks server no context takeover", CompressionOptions{}, CompressionOptions{PeerNoContextTakeover: true}, "server_no_context_takeover"},
		{"client no context takeover", CompressionOptions{}, CompressionOptions{NoContextTakeover: true}, "client_no_context_takeover"},
		{"server limits client window", CompressionOptions{PeerWindowBits: 10}, CompressionOptions{}, "client_max_window_bits=10"},
		{"client limits server window", CompressionOptions{}, CompressionOptions{PeerWindowBits: 9}, "server_max_window_bits=9"},
		{"client small window", CompressionOptions{}, CompressionOptions{WindowBits: 11}, "client_max_window_bits=11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := echoServer(t, &AcceptOptions{Compression: &tc.server})
			ctx := context.Background()
			c, _, err := Dial(ctx, url, &DialOptions{Compression: &tc.client})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if !strings.Contains(c.Extensions(), tc.want) || !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
				t.Fatalf("Extensions() = %q, want it to contain %q", c.Extensions(), tc.want)
			}
			for _, n := range []int{10, 1000, 100000} {
				msg := []byte(strings.Repeat("abcdefgh", n/8+1)[:n])
				if err := c.Write(ctx, MessageText, msg); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes: %d, %v", n, len(got), err)
				}
			}
			if err := c.Close(StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Without CompressionOptions on either side nothing is negotiated.
func TestCompressionOffByDefault(t *testing.T) {
	for _, tc := range []struct {
		server *CompressionOptions
		client *CompressionOptions
	}{{nil, &CompressionOptions{}}, {&CompressionOptions{}, nil}} {
		url := echoServer(t, &AcceptOptions{Compression: tc.server})
		c, _, err := Dial(context.Background(), url, &DialOptions{Compression: tc.client})
		if err != nil {
			t.Fatal(err)
		}
		if c.Extensions() != "" || c.ext != &plain {
			t.Fatalf("Extensions() = %q", c.Extensions())
		}
		c.CloseNow()
	}
}

// RFC 7692 §7.1.2.2: a client refuses a server that answers with a larger window than offered.
func TestDialRefusesBadDeflateAnswer(t *testing.T) {
	ln := rawHandshakeServer(t, "permessage-deflate; client_max_window_bits=12")
	_, _, err := Dial(context.Background(), "ws://"+ln, &DialOptions{Compression: &CompressionOptions{WindowBits: 10}})
	if err == nil || !strings.Contains(err.Error(), "permessage-deflate") {
		t.Fatalf("Dial = %v, want a refusal of the deflate answer", err)
	}
}

// rawHandshakeServer answers one handshake with a valid 101 carrying the given extensions value.
func rawHandshakeServer(t testing.TB, extensions string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
			AcceptKey(req.Header.Get("Sec-WebSocket-Key")), extensions)
		io.Copy(io.Discard, nc)
	}()
	return ln.Addr().String()
}
