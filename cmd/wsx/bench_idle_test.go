package main

import (
	"context"
	"strings"
	"testing"
)

// TestBenchIdle: wsx bench --idle holds its connections and reports the server's memory per
// connection, which it can read for a server of this machine (here, this very process).
func TestBenchIdle(t *testing.T) {
	s := startServe(t, "--event")
	r := runWSX(t, context.Background(), nil, "bench", "--idle", "-c", "50", "-d", "100ms", s.url)
	for _, w := range []string{"50 idle connections, held for 100ms", "connected 50/50", "bytes per connection"} {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s\n%s", r.code, w, r.stdout, r.stderr)
		}
	}
}
