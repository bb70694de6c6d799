package main

import (
	"context"
	"encoding/json"
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
	// A row holds exactly the values from its low edge up to, not including, its high one:
	// 1µs alone in 1µs-2µs, 500µs to 999µs in 500µs-1ms, 1ms alone in 1ms-2ms.
	want := map[string]string{"1µs-2µs": "▏ 0.1%", "500µs-1ms": strings.Repeat("█", 40) + " 50.0%", "1ms-2ms": "▏ 0.1%"}
	for line := range strings.Lines(out.String()) {
		f := strings.Fields(line)
		if w, ok := want[f[0]+f[1]+f[2]]; ok {
			if got := strings.Join(f[3:], " "); got != w {
				t.Errorf("row %s: %q, want %q", f[0]+f[1]+f[2], got, w)
			}
			delete(want, f[0]+f[1]+f[2])
		}
	}
	if len(want) > 0 {
		t.Errorf("histogram lacks the rows %v:\n%s", want, out.String())
	}
}

// A sample lands in the row whose edges hold it, even when its bucket straddles an edge:
// 20.64ms is in 20ms-50ms, not 10ms-20ms.
func TestHistogramRowEdges(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20640 * time.Microsecond: "20ms - 50ms",
		19999 * time.Microsecond: "10ms - 20ms",
		20 * time.Millisecond:    "20ms - 50ms",
		0:                        "1ns - 2ns",
		999:                      "500ns - 1µs",
	} {
		var h histogram
		h.record(d)
		var out strings.Builder
		h.print(&out)
		if f := strings.Fields(out.String()); len(f) < 3 || strings.Join(f[:3], " ") != want || strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%v:\n%s\nwant the row %q", d, out.String(), want)
		}
	}
	if got := [10]time.Duration(series125[:10]); got != [10]time.Duration{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		t.Fatalf("series125 starts %v", got)
	}
	if last := series125[len(series125)-1]; last != 5e18 { // the last step below math.MaxInt64
		t.Fatalf("series125 ends at %v", last)
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

// --rate: messages leave on a schedule, R a second for D seconds are R x D messages, and
// --progress prints a line a second.
func TestBenchRate(t *testing.T) {
	s := startServe(t)
	r := runWSX(t, context.Background(), nil, "bench", "-c", "2", "--rate", "200", "-n", "120", "--text", "--progress", s.url)
	if r.code != exitOK || !strings.Contains(r.stdout, "200 msg/s in total, at most 1024 in flight each") || !strings.Contains(r.stdout, "240 sent, 240 received, 0 lost") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, " msg/s  mean ") || !strings.Contains(r.stderr, "  sent ") || !strings.Contains(r.stderr, "  errors 0") {
		t.Errorf("no progress line: %q", r.stderr)
	}
	for _, n := range []string{"1", "3"} {
		r = runWSX(t, context.Background(), nil, "bench", "-c", n, "--rate", "600", "-d", "500ms", s.url)
		if r.code != exitOK || !strings.Contains(r.stdout, " 300 sent, 300 received, 0 lost") {
			t.Fatalf("--rate 600 -d 500ms -c %s: exit %d:\n%s\n%s", n, r.code, r.stdout, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, ": 3 connections, ") {
		t.Errorf("header: %s", r.stdout)
	}
}

// --json prints the results as one object; --subprotocol and --compression reach the server.
func TestBenchJSON(t *testing.T) {
	s := startServe(t, "-s", "bench.v1")
	r := runWSX(t, context.Background(), nil, "bench", "-c", "1", "-n", "20", "--size", "1KiB", "--text", "--compression",
		"--subprotocol", "bench.v1", "--json", s.url)
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v:\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	var inHist int64
	for _, row := range res.Histogram {
		inHist += row.Count
	}
	if res.Conns != 1 || res.Connected != 1 || res.Size != 1024 || res.Type != "text" || !res.Compression ||
		res.Messages.Sent != 20 || res.Messages.Received != 20 || res.Messages.Lost != 0 || len(res.Errors) != 0 ||
		res.LatencyUS == nil || res.LatencyUS.P50 <= 0 || res.LatencyUS.Max < res.LatencyUS.P50 || inHist != 20 ||
		res.Throughput.MsgsPerS <= 0 || res.HandshakeUS == nil || res.HandshakeUS.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	waitForLog(t, s, `"subprotocol":"bench.v1","extensions":"permessage-deflate`)
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
	if r.code != exitFail || !strings.Contains(r.stdout, "connected 0/2") || strings.Contains(r.stdout, "handshake") ||
		!strings.Contains(r.stderr, "2 connections failed; the first: ") || strings.Contains(r.stderr, "wsx: ") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runWSX(t, context.Background(), nil, "bench", "-c", "1", "ws://"+addr+"/")
	if r.code != exitFail || !strings.Contains(r.stdout, ": 1 connection, ") || !strings.Contains(r.stderr, "1 connection failed") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	for _, args := range [][]string{{"-c", "0", url}, {"--inflight", "0", url}, {"-d", "0s", url}, {"--size", "2GiB", url}, {"http:/x"}, {}} {
		if r := runWSX(t, context.Background(), nil, append([]string{"bench"}, args...)...); r.code != exitUsage {
			t.Errorf("bench %q: exit %d, want 2", args, r.code)
		}
	}
}
