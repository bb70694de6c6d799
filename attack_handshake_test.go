//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// A red team's attacks on the opening handshake and on the API's concurrency: guards.

// Slowloris: a request trickled a byte at a time, every byte in time, never completing: the
// handshake ends at its deadline (DefaultHandshakeTimeout when ctx has none), not at the
// attacker's pleasure.
func TestAttackSlowlorisHandshake_4_2_1(t *testing.T) {
	defer func(d time.Duration) { handshakeTimeout = d }(handshakeTimeout)
	handshakeTimeout = 300 * time.Millisecond
	nc, results := acceptConnOn(t, context.Background(), nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		req := upgradeRequest("", nil) + strings.Repeat("X-Slow: loris\r\n", 50)
		for i := range len(req) {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := io.WriteString(nc, req[i:i+1]); err != nil {
				return
			}
		}
	}()
	res := acceptedOn(t, results)
	if res.conn != nil || !errors.Is(res.err, context.DeadlineExceeded) {
		t.Fatalf("AcceptConn under a slowloris = %v, %v; want the handshake's deadline", res.conn, res.err)
	}
}

// Header floods: a head over 16 KiB, or over 100 fields, is refused with 431 before it is read
// whole (RFC 6585 §5); a Dial whose response head never ends stops at 1 MiB.
func TestAttackHeaderFlood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra string
	}{
		{"many fields", strings.Repeat("X-Flood: 1\r\n", 101)},
		{"one huge field", "X-Flood: " + strings.Repeat("a", 20<<10) + "\r\n"},
		{"endless head", strings.Repeat("X-Flood: endless\r\n", 1<<16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, results := acceptConnOn(t, context.Background(), nil)
			req := strings.TrimSuffix(upgradeRequest("", nil), "\r\n") + tc.extra + "\r\n"
			go io.WriteString(nc, req)
			head := readRawHead(t, nc)
			if !strings.HasPrefix(head, "HTTP/1.1 431 ") {
				t.Fatalf("response %q", head)
			}
			if res := acceptedOn(t, results); res.conn != nil {
				t.Fatal("accepted")
			}
		})
	}

	t.Run("Dial", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\n")
			line := []byte("X-Flood: " + strings.Repeat("a", 1000) + "\r\n")
			for range 4 << 10 { // 4 MiB of head
				if _, err := nc.Write(line); err != nil {
					return
				}
			}
		}()
		c, _, err := Dial(ctxFor(t, 20*time.Second), "ws://"+ln.Addr().String()+"/", nil)
		if c != nil || err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial against an endless response head = %v, %v; want a refusal at its limit", c, err)
		}
	})
}

// HTTP/1.1 pipelining behind an upgrade: whatever follows the request is WebSocket frames, so
// a second HTTP request there fails the connection with 1002 instead of being served.
func TestAttackPipelinedRequestAfterUpgrade(t *testing.T) {
	nc, results := acceptConnOn(t, context.Background(), nil)
	io.WriteString(nc, upgradeRequest("", nil)+"GET /admin HTTP/1.1\r\nHost: server.example.com\r\n\r\n")
	if head := readRawHead(t, nc); head != rfcResponse {
		t.Fatalf("response %q", head)
	}
	res := acceptedOn(t, results)
	if res.err != nil {
		t.Fatal(res.err)
	}
	_, _, err := res.conn.Read(ctxFor(t, 5*time.Second))
	failedWith(t, err, StatusProtocolError)
	peer := &rawPeer{t: t, nc: nc, client: true}
	peer.expectClose(StatusProtocolError)
}

// Concurrency misuse under -race: every call on one connection from many goroutines at once,
// while the peer echoes and then closes. Nothing panics, races or hangs; every call returns.
func TestAttackConcurrentMisuse(t *testing.T) {
	opts := ConnOptions{CloseTimeout: 500 * time.Millisecond, StallTimeout: 2 * time.Second}
	server, client := connPair(t, opts)
	go func() { // the peer echoes until the connection ends
		for {
			typ, p, err := client.Read(context.Background())
			if err != nil {
				return
			}
			client.Write(context.Background(), typ, p)
		}
	}()
	ctx := ctxFor(t, 10*time.Second)
	calls := []func(i int) error{
		func(i int) error { return server.Write(ctx, MessageText, []byte("text")) },
		func(i int) error { return server.Write(ctx, MessageBinary, bytes.Repeat([]byte{byte(i)}, 70000)) },
		func(i int) error {
			w, err := server.Writer(ctx, MessageBinary)
			if err != nil {
				return err
			}
			w.Write([]byte("a"))
			w.Write(make([]byte, 9000))
			return w.Close()
		},
		func(i int) error { _, _, err := server.Read(ctx); return err },
		func(i int) error { _, _, err := server.ReadMessage(ctx, nil); return err },
		func(i int) error {
			_, r, err := server.Reader(ctx)
			if err != nil {
				return err
			}
			r.Read(nil)
			_, err = io.Copy(io.Discard, r)
			return err
		},
		func(i int) error {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			return server.Ping(pctx)
		},
		func(i int) error { server.SetReadLimit(int64(1<<20 + i)); return nil },
		func(i int) error {
			if i%10 == 9 {
				return server.Close(StatusNormalClosure, "misuse")
			}
			return nil
		},
		func(i int) error {
			if i == 39 {
				return server.CloseNow()
			}
			return nil
		},
	}
	var wg sync.WaitGroup
	for i := range 40 {
		for _, call := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call(i)
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		server.CloseNow()
		client.CloseNow()
		t.Fatal("calls on a connection used from every goroutine at once do not all return")
	}
	if err := server.Write(ctx, MessageText, []byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	client.CloseNow()
}

// A frame-level slowloris: a frame header, then its payload, a byte at a time, each just
// within StallTimeout: the message arrives, and a peer that stops for longer is failed (1008).
func TestAttackFrameSlowloris(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{StallTimeout: 300 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	msg := frameBytes(true, 0, frame.OpBinary, true, []byte("slow"))
	go func() {
		for i := range msg {
			peer.nc.Write(msg[i : i+1])
			time.Sleep(100 * time.Millisecond)
		}
		peer.nc.Write(msg[:3]) // the next frame stops part-way
	}()
	if _, p, err := c.Read(ctxFor(t, 10*time.Second)); err != nil || string(p) != "slow" {
		t.Fatalf("trickled message: %q, %v", p, err)
	}
	_, _, err := c.Read(ctxFor(t, 10*time.Second))
	failedWith(t, err, StatusPolicyViolation)
	peer.expectClose(StatusPolicyViolation)
}
