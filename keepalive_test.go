//go:build !js

package wsx

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

func TestKeepAliveAnswered(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	go readErr(server)
	go readErr(client)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := server.KeepAlive(ctx, 10*time.Millisecond, time.Second); err != nil {
		t.Fatalf("KeepAlive = %v", err)
	}
	// The connection is still good afterwards.
	if err := server.Write(context.Background(), MessageText, []byte("alive")); err != nil {
		t.Fatal(err)
	}
}

func TestKeepAliveClosesSilentPeer(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	go readErr(c)
	err := c.KeepAlive(context.Background(), 10*time.Millisecond, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no pong") {
		t.Fatalf("KeepAlive = %v", err)
	}
	if h, _ := peer.readFrame(); h.Opcode != frame.OpPing {
		t.Fatalf("first frame %v, want a ping", h.Opcode)
	}
	peer.expectEOF()
}

func TestKeepAliveEndsWithConnection(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	go readErr(server)
	done := make(chan error, 1)
	go func() { done <- server.KeepAlive(context.Background(), time.Hour, time.Second) }()
	client.CloseNow()
	if err := <-done; err != nil {
		t.Fatalf("KeepAlive = %v", err)
	}
}

func TestGroupShutdown(t *testing.T) {
	var g Group
	var clientErrs []<-chan error
	for range 3 {
		server, client := connPair(t, ConnOptions{})
		if !g.add(server) {
			t.Fatal("add refused")
		}
		go readErr(server)
		clientErrs = append(clientErrs, readErr(client))
	}
	if g.Len() != 3 {
		t.Fatalf("Len = %d", g.Len())
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	for _, ch := range clientErrs {
		if err := <-ch; CloseStatus(err) != StatusGoingAway {
			t.Fatalf("client read = %v, want 1001", err)
		}
	}
	if g.Len() != 0 {
		t.Fatalf("Len after Shutdown = %d", g.Len())
	}
	server, _ := connPair(t, ConnOptions{})
	if g.add(server) {
		t.Fatal("add after Shutdown accepted")
	}
}

// Shutdown gives up on peers that do not answer when its context ends.
func TestGroupShutdownDeadline(t *testing.T) {
	var g Group
	c, peer := serverWithRawClient(t, ConnOptions{})
	g.add(c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v", err)
	}
	peer.expectClose(StatusGoingAway)
	peer.expectEOF()
}
