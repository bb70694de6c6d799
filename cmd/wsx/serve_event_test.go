package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
)

// TestServeEvent: wsx serve --event echoes every length encoding (§5.2) with
// permessage-deflate, holds browsers to the same-origin policy (§10.2) like the other mode,
// and closes its clients with 1001 when it stops.
func TestServeEvent(t *testing.T) {
	s := startServe(t, "--event")
	c := dialTest(t, s.url, &wsx.DialOptions{Compression: &wsx.CompressionOptions{}})
	if !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
		t.Errorf("extensions %q", c.Extensions())
	}
	for _, n := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
		roundTrip(t, c, wsx.MessageBinary, make([]byte, n))
	}
	roundTrip(t, c, wsx.MessageText, []byte(strings.Repeat("ü€", 1000)))
	_, resp, err := wsx.Dial(context.Background(), s.url, &wsx.DialOptions{Origin: "https://elsewhere.example"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin page: %v, want 403", err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background())
		readErr <- err
	}()
	s.stop(t)
	if err := <-readErr; wsx.CloseStatus(err) != wsx.StatusGoingAway {
		t.Errorf("client read %v, want 1001 (going away)", err)
	}
}

func TestServeEventUsage(t *testing.T) {
	r := runWSX(t, context.Background(), nil, "serve", "--event", "--broadcast")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--event serves the echo only") {
		t.Errorf("exit %d: %q", r.code, r.stderr)
	}
}
