//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipe returns the two ends of a Pipe and closes them when the test ends.
func pipe(t *testing.T, dialOpts *DialOptions, acceptOpts *AcceptOptions) (client, server *Conn) {
	t.Helper()
	client, server, err := Pipe(dialOpts, acceptOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CloseNow()
		server.CloseNow()
	})
	return client, server
}

// Messages go both ways, and the closing handshake started by either end completes (§7.1.2).
func TestPipe(t *testing.T) {
	ctx := context.Background()
	client, server := pipe(t, nil, nil)
	if client.RemoteAddr().String() != "server" || server.RemoteAddr().String() != "client" {
		t.Errorf("addresses: client's peer %v, server's peer %v", client.RemoteAddr(), server.RemoteAddr())
	}
	for _, tc := range []struct {
		from, to *Conn
		typ      MessageType
		msg      string
	}{
		{client, server, MessageText, "hello ✓"},
		{server, client, MessageBinary, "\x00\xff binary"},
		{client, server, MessageBinary, strings.Repeat("large ", 100_000)}, // past the 64 KiB buffer
	} {
		errc := make(chan error, 1)
		go func() { errc <- tc.from.Write(ctx, tc.typ, []byte(tc.msg)) }()
		typ, got, err := tc.to.Read(ctx)
		if err != nil || typ != tc.typ || string(got) != tc.msg {
			t.Fatalf("read %v %d bytes, %v; want %v %d bytes", typ, len(got), err, tc.typ, len(tc.msg))
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := server.Read(ctx)
		readErr <- err
	}()
	if err := client.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client Close: %v", err)
	}
	if err := <-readErr; CloseStatus(err) != StatusNormalClosure || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("server read %v, want the client's 1000 \"bye\"", err)
	}
}

// Both ends closing at the same moment: each writes its Close frame before reading the
// other's, which the buffered in-memory connection allows (net.Pipe would deadlock).
func TestPipeSimultaneousClose(t *testing.T) {
	client, server := pipe(t, nil, nil)
	var wg sync.WaitGroup
	var cerr, serr error
	wg.Go(func() { cerr = client.Close(StatusNormalClosure, "") })
	wg.Go(func() { serr = server.Close(StatusGoingAway, "") })
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("Close: client %v, server %v; want both handshakes complete", cerr, serr)
	}
}

// Every option is negotiated by the real handshake: subprotocols, permessage-deflate with its
// parameters, and the limits.
func TestPipeOptions(t *testing.T) {
	ctx := context.Background()
	client, server := pipe(t,
		&DialOptions{
			Subprotocols: []string{"chat.v2", "chat.v1"},
			Compression:  &CompressionOptions{NoContextTakeover: true},
			Header:       http.Header{"Authorization": {"Bearer t"}},
		},
		&AcceptOptions{
			Subprotocols: []string{"chat.v1"},
			Compression:  &CompressionOptions{WindowBits: 10},
			ConnOptions:  ConnOptions{ReadLimit: 1000},
		})
	if client.Subprotocol() != "chat.v1" || server.Subprotocol() != "chat.v1" {
		t.Errorf("subprotocol %q (client) %q (server), want chat.v1", client.Subprotocol(), server.Subprotocol())
	}
	const ext = "permessage-deflate; client_no_context_takeover"
	if client.Extensions() != ext || server.Extensions() != ext {
		t.Errorf("extensions %q (client) %q (server), want %q", client.Extensions(), server.Extensions(), ext)
	}
	// Compressed both ways.
	text := []byte(strings.Repeat("compressible ", 100))
	go client.Write(ctx, MessageText, text[:600])
	if _, got, err := server.Read(ctx); err != nil || !bytes.Equal(got, text[:600]) {
		t.Fatalf("server read %d bytes, %v", len(got), err)
	}
	go server.Write(ctx, MessageText, text)
	if _, got, err := client.Read(ctx); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("client read %d bytes, %v", len(got), err)
	}
	// The server's read limit (after decompression, §10.4): 1009 both ways.
	go client.Write(ctx, MessageText, text)
	if _, _, err := server.Read(ctx); err == nil || !strings.Contains(err.Error(), "1009") {
		t.Fatalf("server read of %d bytes over a 1000-byte limit: %v, want a failure with 1009", len(text), err)
	}
	if _, _, err := client.Read(ctx); CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("client read %v, want the server's 1009", err)
	}
}

// A read whose context expires leaves the connection usable, over the pipe's deadlines as
// over a socket's.
func TestPipeContextTimeout(t *testing.T) {
	client, server := pipe(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := server.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with nothing to read: %v, want context.DeadlineExceeded", err)
	}
	go client.Write(context.Background(), MessageText, []byte("after the timeout"))
	if _, got, err := server.Read(context.Background()); err != nil || string(got) != "after the timeout" {
		t.Fatalf("Read after a timeout: %q, %v", got, err)
	}
}

// A refused or impossible handshake returns an error and no Conn, without waiting for the
// handshake timeout.
func TestPipeHandshakeFails(t *testing.T) {
	var shut Group
	shut.Shutdown(context.Background())
	for _, tc := range []struct {
		name     string
		dialOpts *DialOptions
		accept   *AcceptOptions
		want     string
	}{
		{"origin refused (§10.2)", &DialOptions{Origin: "https://elsewhere.example"}, nil, "Origin"},
		{"origin allowed by pattern", &DialOptions{Origin: "https://app.example"}, &AcceptOptions{OriginPatterns: []string{"app.example"}}, ""},
		{"server shutting down", nil, &AcceptOptions{Group: &shut}, "shutting down"},
		{"client options contradict the handshake", &DialOptions{Header: http.Header{"Upgrade": {"h2c"}}}, nil, "must not set Upgrade"},
		{"server options break the response", nil, &AcceptOptions{ResponseHeader: http.Header{"X": {"\x00"}}}, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server, err := Pipe(tc.dialOpts, tc.accept)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				client.CloseNow()
				server.CloseNow()
				return
			}
			if err == nil || client != nil || server != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pipe = %v, %v, %v; want no Conn and an error mentioning %q", client, server, err, tc.want)
			}
			t.Log(err)
		})
	}
}
