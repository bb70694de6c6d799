package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
)

// tcpEcho is a TCP server that sends back what it receives, until the test ends.
func tcpEcho(t *testing.T) string {
	return rawServer(t, func(c net.Conn) { io.Copy(c, c) })
}

// readBinary reads n bytes of binary messages from c.
func readBinary(t *testing.T, c *wsx.Conn, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		typ, msg, err := c.Read(context.Background())
		if err != nil || typ != wsx.MessageBinary {
			t.Fatalf("after %d bytes: %v message, %v", len(got), typ, err)
		}
		got = append(got, msg...)
	}
	return got
}

// ws:// LISTEN to a tcp:// TARGET: messages become bytes on a TCP connection of the
// connection's own, and its bytes come back as binary messages; the end of the TCP
// connection closes the WebSocket with 1000.
func TestBridgeWebSocketToTCP(t *testing.T) {
	b := startServer(t, "bridge", "ws://127.0.0.1:0", "tcp://"+tcpEcho(t))
	c := dialTest(t, b.url+"any/path", nil)
	ctx := context.Background()
	payload := append(bytes.Repeat([]byte("bytes\x00\xff\n"), 6250), strings.Repeat("text é\n", 1250)...) // larger than one read
	c.Write(ctx, wsx.MessageBinary, payload[:50000])
	c.Write(ctx, wsx.MessageText, payload[50000:60000]) // text too: its bytes go as they are
	if got := readBinary(t, c, 60000); !bytes.Equal(got, payload[:60000]) {
		t.Fatalf("got %d bytes back, not the ones sent", len(got))
	}
	c.Close(wsx.StatusNormalClosure, "")
	waitForLog(t, b, `"bytes_to_tcp":60000,"bytes_to_websocket":60000,"status":1000`)

	// A target that cannot be reached: 1014 (bad gateway).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	b = startServer(t, "bridge", "ws://127.0.0.1:0", "tcp://"+closed)
	c = dialTest(t, b.url, nil)
	if _, _, err := c.Read(ctx); wsx.CloseStatus(err) != wsx.StatusBadGateway {
		t.Fatalf("unreachable target: %v, want 1014", err)
	}
}

// tcp:// LISTEN to a ws:// TARGET, here wsx serve's echo: the bytes of a TCP connection go
// as binary messages and come back; its end closes the WebSocket with 1000.
func TestBridgeTCPToWebSocket(t *testing.T) {
	s := startServe(t)
	b := startServer(t, "bridge", "tcp://127.0.0.1:0", s.url+"tunnel", "-H", "X-Via: bridge")
	addr := strings.TrimPrefix(b.url, "tcp://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	msg := []byte("ping\x00pong\n")
	c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %q, %v", got, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if _, err := c.Read(got); !errors.Is(err, io.EOF) {
		t.Fatalf("after our end: %v, want EOF", err)
	}
	waitForLog(t, s, `"msg":"closed"`)
	if !strings.Contains(s.logs.String(), `"path":"/tunnel"`) || !strings.Contains(s.logs.String(), `"status":1000`) {
		t.Fatalf("serve's log:\n%s", s.logs.String())
	}
}

func TestBridgeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"},
		{"ws://127.0.0.1:1", "ws://127.0.0.1:2"},
		{"ws://127.0.0.1:1"},
		{"udp://127.0.0.1:1", "tcp://127.0.0.1:2"},
		{"127.0.0.1:1", "tcp://127.0.0.1:2"},
		{"wss://127.0.0.1:1", "tcp://127.0.0.1:2"},
		{"ws://127.0.0.1:99999", "tcp://127.0.0.1:2"},
		{"tcp://127.0.0.1", "ws://127.0.0.1:2"},
	} {
		r := runWSX(t, context.Background(), nil, append([]string{"bridge"}, args...)...)
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("bridge %q: %+v, want a one-line usage error", args, r)
		}
	}
}
