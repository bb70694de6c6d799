package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
)

func TestHistogramBuckets(t *testing.T) {
	for v := uint64(0); v < 1<<40; v = v*9/8 + 1 {
		i := bucketOf(v)
		low, high := bucketLow(i), bucketLow(i+1)
		if v < low || v >= high {
			t.Fatalf("%d in bucket %d = [%d, %d)", v, i, low, high)
		}
		if high-low > max(1, low/16) {
			t.Fatalf("bucket %d = [%d, %d) is wider than 1/16", i, low, high)
		}
	}
	if n := bucketOf(1<<63) + 1; n > len(histogram{}.counts) {
		t.Fatalf("the largest duration needs %d buckets", n)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b histogram
	for i := 1; i <= 1000; i++ {
		h := &a
		if i%3 == 0 {
			h = &b // merging must give the same result as one histogram
		}
		h.record(time.Duration(i) * time.Microsecond)
	}
	a.merge(&b)
	if a.count != 1000 || a.min != time.Microsecond || a.max != time.Millisecond || a.mean() != 500500*time.Nanosecond {
		t.Fatalf("count %d min %v max %v mean %v", a.count, a.min, a.max, a.mean())
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Microsecond, 0.9: 900 * time.Microsecond, 0.99: 990 * time.Microsecond, 1: time.Millisecond} {
		got := a.quantile(q)
		if diff := got - want; diff < -want/16 || diff > want/16 {
			t.Errorf("quantile(%v) = %v, want %v within 1/16", q, got, want)
		}
	}
	var out strings.Builder
	a.print(&out)
	// 1µs falls in the bucket [992ns, 1.024µs), counted from 992ns: in the row 500ns-1µs.
	if !strings.Contains(out.String(), "  500ns - 1µs     ▏") || !strings.Contains(out.String(), "    1µs - 2µs     ▏") ||
		!strings.Contains(out.String(), "  500µs - 1ms     ████████████████████████████████████████  49.") {
		t.Errorf("histogram:\n%s", out.String())
	}
}

func TestSeries125(t *testing.T) {
	var got []time.Duration
	for s := time.Duration(1); s <= 1000; s = next125(s) {
		got = append(got, s)
	}
	if want := []time.Duration{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}; len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	if step125(730) != 500 || step125(1000) != 1000 || step125(1) != 1 {
		t.Fatalf("step125: %v %v %v", step125(730), step125(1000), step125(1))
	}
}

func TestBenchAgainstServe(t *testing.T) {
	s := startServe(t)
	r := runWSX(t, context.Background(), nil, "bench", "-c", "3", "-n", "50", "--size", "100", "--inflight", "4", s.url)
	for _, w := range []string{"3 connections, 100B binary messages, 4 in flight each, 50 messages each", "connected 3/3",
		"150 sent, 150 received, 0 lost, 0 not echoed right, 0 connection errors", "latency     min ", "p99.9 "} {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s\n%s", r.code, w, r.stdout, r.stderr)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr without --progress: %q", r.stderr)
	}
}

// --rate: messages leave on a schedule, and --progress prints a line a second.
func TestBenchRate(t *testing.T) {
	s := startServe(t)
	r := runWSX(t, context.Background(), nil, "bench", "-c", "2", "--rate", "200", "-n", "120", "--text", "--progress", s.url)
	if r.code != exitOK || !strings.Contains(r.stdout, "200 msg/s in total, at most 1024 in flight each") || !strings.Contains(r.stdout, "240 sent, 240 received, 0 lost") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "s  sent ") || !strings.Contains(r.stderr, " msg/s  mean latency ") {
		t.Errorf("no progress line: %q", r.stderr)
	}
}

// A server that does not echo is caught, and so is one that cannot be reached.
func TestBenchFailures(t *testing.T) {
	url := wsServer(t, func(c *wsx.Conn, _ *http.Request) {
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			msg[0] ^= 1
			c.Write(context.Background(), typ, msg)
		}
	})
	r := runWSX(t, context.Background(), nil, "bench", "-c", "1", "-n", "10", url)
	if r.code != exitFail || !strings.Contains(r.stdout, "10 received, 0 lost, 10 not echoed right") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r = runWSX(t, context.Background(), nil, "bench", "-c", "2", "ws://"+addr+"/")
	if r.code != exitFail || !strings.Contains(r.stdout, "connected 0/2") || !strings.Contains(r.stderr, "2 connections failed; the first: ") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	for _, args := range [][]string{{"-c", "0", url}, {"--inflight", "0", url}, {"-d", "0s", url}, {"--size", "2GiB", url}, {"http:/x"}, {}} {
		if r := runWSX(t, context.Background(), nil, append([]string{"bench"}, args...)...); r.code != exitUsage {
			t.Errorf("bench %q: exit %d, want 2", args, r.code)
		}
	}
}
