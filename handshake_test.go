//go:build !js

package wsx

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/handshake"
)

// TestAcceptKey_4_2_2 checks the worked example of §4.2.2 step 5.4 and
// values computed independently (`printf %s KEY258EAFA5-E914-47DA-95CA-C5AB0DC85B11
// | openssl sha1 -binary | base64`).
func TestAcceptKey_4_2_2(t *testing.T) {
	tests := []struct{ key, want string }{
		{"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, // §1.3, §4.2.2
		{"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
		{"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},
	}
	for _, tt := range tests {
		if got := AcceptKey(tt.key); got != tt.want {
			t.Errorf("AcceptKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestNewKey_4_1 checks that keys are the base64 of 16 bytes (§4.1 item 7),
// are accepted by the server-side check, and differ between calls.
func TestNewKey_4_1(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := NewKey()
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 16 {
			t.Fatalf("NewKey() = %q: decodes to %d bytes, %v; want 16 bytes", k, len(b), err)
		}
		if !handshake.ValidKey(k) {
			t.Fatalf("handshake.ValidKey(NewKey() = %q) = false", k)
		}
		if seen[k] {
			t.Fatalf("NewKey() returned %q twice", k)
		}
		seen[k] = true
	}
}

func ExampleAcceptKey() {
	// The key of the example handshake in RFC 6455 §1.3.
	fmt.Println(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

func ExampleNewKey() {
	key := NewKey()
	nonce, _ := base64.StdEncoding.DecodeString(key)
	fmt.Println(len(key), len(nonce))
	// Output: 24 16
}

func BenchmarkAcceptKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		AcceptKey("dGhlIHNhbXBsZSBub25jZQ==")
	}
}

// Without a deadline on ctx, a silent peer holds a handshake for DefaultHandshakeTimeout only.
func TestDefaultHandshakeTimeout(t *testing.T) {
	defer func(d time.Duration) { handshakeTimeout = d }(handshakeTimeout)
	handshakeTimeout = 100 * time.Millisecond

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept() // a server that never answers
		accepted <- nc
	}()
	start := time.Now()
	_, _, err = Dial(context.Background(), "ws://"+ln.Addr().String(), nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Dial to a silent server = %v after %v", err, time.Since(start))
	}
	if nc := <-accepted; nc != nil {
		nc.Close()
	}

	a, _ := tcpPair(t) // a client that never sends its request
	if _, err := AcceptConn(context.Background(), a, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcceptConn from a silent client = %v", err)
	}
}
