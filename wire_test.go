//go:build !js

package wsx_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/wiretest"
)

// The wire-level rules of RFC 6455 §5-§8 over HTTP/1.1: the table that the HTTP/2 and HTTP/3
// transports play too (internal/wiretest).
func TestWireHTTP1(t *testing.T) {
	wiretest.Run(t, func(t *testing.T, s wiretest.Setup) wiretest.Endpoint {
		if s.Client {
			return dialRawServer(t, s.Options)
		}
		return acceptRawClient(t, s.Options)
	})
}

// readHead reads an HTTP head byte by byte, so that nothing after it is consumed.
func readHead(t *testing.T, r io.Reader) string {
	t.Helper()
	var head []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("reading a head: %v after %q", err, head)
		}
		head = append(head, b[0])
	}
	return string(head)
}

// acceptRawClient returns a server Conn from wsx.Accept and a client that spoke the handshake
// by hand.
func acceptRawClient(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	conns := make(chan *wsx.Conn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{ConnOptions: opts})
		if err != nil {
			t.Error(err)
		}
		conns <- c
	}))
	t.Cleanup(ts.Close)
	nc, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: wsx.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if head := readHead(t, nc); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("response %q", head)
	}
	return wiretest.Endpoint{Conn: <-conns, Peer: nc.(*net.TCPConn)}
}

// dialRawServer returns a client Conn from wsx.Dial and a server that spoke the handshake by
// hand.
func dialRawServer(t *testing.T, opts wsx.ConnOptions) wiretest.Endpoint {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			t.Error(err)
			peers <- nil
			return
		}
		head := readHead(t, nc)
		key := ""
		sc := bufio.NewScanner(strings.NewReader(head))
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "Sec-WebSocket-Key: "); ok {
				key = k
			}
		}
		io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+wsx.AcceptKey(key)+"\r\n\r\n")
		peers <- nc
	}()
	c, _, err := wsx.Dial(context.Background(), "ws://"+ln.Addr().String(), &wsx.DialOptions{ConnOptions: opts})
	peer := <-peers
	if err != nil || peer == nil {
		t.Fatalf("Dial: %v", err)
	}
	return wiretest.Endpoint{Conn: c, Peer: peer.(*net.TCPConn)}
}
