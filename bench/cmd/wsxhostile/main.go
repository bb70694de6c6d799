// Command wsxhostile attacks a wsx server (net/http with wsx.Accept, permessage-deflate on,
// the README's read loop) as a hostile peer would, over loopback, and prints what the server
// held as a markdown table: the figures of the README's limits section.
//
//	cd bench && go run ./cmd/wsxhostile            # about two minutes
//	go run ./cmd/wsxhostile -conns 500 -only stalled
//
// Each attack runs against a fresh server process, whose heap is sampled every millisecond and
// whose peak RSS is VmHWM; every figure is above the server's own before the attack.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/bench/hostile"
)

func main() {
	hostile.ServeFromEnv()
	conns := flag.Int("conns", 2000, "connections of the stalled attack")
	stall := flag.Duration("stall", 3*time.Second, "the server's StallTimeout in the stalled-message attack (the default is 30s)")
	connStall := flag.Duration("conns-stall", wsx.DefaultStallTimeout, "the server's StallTimeout in the stalled-connections attack")
	bomb := flag.Int64("bomb", 1<<30, "bytes the deflate bomb inflates to")
	only := flag.String("only", "", "comma-separated attacks to run: bomb, stall, stalled, pin (default all)")
	target := flag.String("target", "", "attack the server at `host:port` (with -pid) instead of starting wsx servers")
	pid := flag.Int("pid", 0, "process id of the -target server, whose RSS is measured")
	limit := flag.Int64("target-limit", 64<<20, "the -target server's read limit")
	flag.Parse()
	if *target != "" {
		attackTarget(&hostile.Process{Addr: *target, Pid: *pid}, *limit, *conns, *bomb, *connStall, *only)
		return
	}
	run := func(name string) bool { return *only == "" || strings.Contains(","+*only+",", ","+name+",") }

	start := time.Now()
	fmt.Printf("wsxhostile %s: %s, %d CPUs, %s/%s; server: net/http + wsx.Accept, permessage-deflate, README read loop\n\n",
		start.Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Println("| attack | server setting | on the wire | server held | outcome |")
	fmt.Println("|---|---|---|---|---|")
	fail := func(name string, err error) {
		fmt.Printf("| %s | | | | error: %v |\n", name, err)
	}

	if run("bomb") {
		for _, tc := range []struct {
			limit int64
			loop  string
		}{{64 << 20, ""}, {wsx.DefaultReadLimit, ""}, {64 << 20, "reader"}} {
			name := fmt.Sprintf("deflate bomb, %s inflated", size(*bomb))
			var r hostile.BombResult
			err := withServer(hostile.ServerConfig{ReadLimit: tc.limit, Loop: tc.loop}, func(s *hostile.Server) (err error) {
				r, err = hostile.Bomb(s, *bomb)
				return err
			})
			if err != nil {
				fail(name, err)
				continue
			}
			loop := "ReadMessage"
			if tc.loop == "reader" {
				loop = "Reader"
			}
			fmt.Printf("| %s | ReadLimit %s, %s | %s | peak heap %s (%.2f x the limit), peak RSS %s | Close %d after %v |\n",
				name, size(tc.limit), loop, size(r.Wire), size(int64(r.HeapPeak)), float64(r.HeapPeak)/float64(tc.limit),
				size(int64(r.RSSPeak)), r.Code, r.Took.Round(time.Millisecond))
		}
	}
	if run("stall") {
		for _, limit := range []int64{wsx.DefaultReadLimit, 64 << 20} {
			inflated := limit - 64<<10
			name := "stalled message (first frame inflating to the limit - 64 KiB, then silence)"
			var r hostile.StallResult
			err := withServer(hostile.ServerConfig{ReadLimit: limit, StallTimeout: *stall}, func(s *hostile.Server) (err error) {
				r, err = hostile.Stall(s, inflated, *stall)
				return err
			})
			if err != nil {
				fail(name, err)
				continue
			}
			fmt.Printf("| %s | ReadLimit %s, StallTimeout %v | %s | %s while it stalls (%.0f x the bytes sent); %s after | Close %d after %v |\n",
				name, size(limit), *stall, size(r.Wire), size(int64(r.Held)), float64(r.Held)/float64(r.Wire),
				size(int64(r.HeldAfter)), r.Code, r.After.Round(100*time.Millisecond))
		}
	}
	if run("stalled") {
		n := *conns
		var perConn uint64 // RSS of one stalled connection, from the first row
		for i, tc := range []struct {
			budget, inflated int64
			what             string
		}{
			{0, 1 << 10, "1 KiB each (the per-connection constant)"},
			{0, wsx.DefaultReadLimit - 64<<10, "just under the 32 MiB limit each"},
			{128 << 20, wsx.DefaultReadLimit - 64<<10, "just under the 32 MiB limit each"},
			{128 << 20, 96 << 10, "96 KiB each"},
		} {
			budget := tc.budget
			if budget == 0 {
				budget = wsx.DefaultMessageMemoryLimit
			}
			name := fmt.Sprintf("%d stalled compressed connections, first frame inflating to %s", n, tc.what)
			var r hostile.StalledResult
			err := withServer(hostile.ServerConfig{MessageMemoryLimit: budget, StallTimeout: *connStall}, func(s *hostile.Server) (err error) {
				r, err = hostile.Stalled(s, n, tc.inflated, *connStall)
				return err
			})
			if err != nil {
				fail(name, err)
				continue
			}
			held := fmt.Sprintf("RSS %s, peak %s, peak heap %s, live heap %s (%s per connection); %d holding, %d failed with 1013",
				size(int64(r.RSS)), size(int64(r.RSSPeak)), size(int64(r.HeapPeak)), size(int64(r.Live)),
				size(int64(r.Live)/int64(n)), r.Holding, r.Refused)
			if i == 0 {
				perConn = r.RSS / uint64(n)
				held += fmt.Sprintf("; RSS per connection %s stalled, %s idle before the attack", size(int64(perConn)), size(int64(r.IdlePerConn)))
			} else if perConn > 0 {
				bound := uint64(budget) + uint64(n)*perConn
				held += fmt.Sprintf("; peak RSS = %.2f x (limit + %d x %s)", float64(r.RSSPeak)/float64(bound), n, size(int64(perConn)))
			}
			fmt.Printf("| %s | SetMessageMemoryLimit(%s), StallTimeout %v | %s each | %s | settled after %v; after StallTimeout: RSS %s, ends %v |\n",
				name, size(budget), *connStall, size(int64(len(hostileDeflated(tc.inflated)))), held,
				r.Settled.Round(100*time.Millisecond), size(int64(r.RSSAfter)), r.EndedAfterStall)
		}
	}
	if run("pin") {
		n := 16
		var r hostile.PinResult
		err := withServer(hostile.ServerConfig{MessageMemoryLimit: 64 << 20}, func(s *hostile.Server) (err error) {
			r, err = hostile.Pin(s, n, wsx.DefaultReadLimit-64<<10)
			return err
		})
		name := fmt.Sprintf("%d connections, one whole message just under 32 MiB each, then idle", n)
		if err != nil {
			fail(name, err)
		} else {
			fmt.Printf("| %s | SetMessageMemoryLimit(64 MiB) | %s each | live heap %s once echoed (%s per connection) | the README loop keeps each grown buffer |\n",
				name, size(r.Wire), size(int64(r.Live)), size(int64(r.Live)/int64(n)))
		}
	}
	fmt.Printf("\nReproduce: `cd bench && go run ./cmd/wsxhostile -conns %d -stall %v -conns-stall %v` (%v).\n", *conns, *stall, *connStall, time.Since(start).Round(time.Second))
}

// withServer runs attack against a fresh server process with cfg.
func withServer(cfg hostile.ServerConfig, attack func(*hostile.Server) error) error {
	s, err := hostile.StartServer(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return attack(s)
}

// attackTarget runs the attacks against a server somebody else started (wsx serve), whose
// read limit is limit, and prints what its RSS did.
func attackTarget(s *hostile.Process, limit int64, conns int, bomb int64, stall time.Duration, only string) {
	run := func(name string) bool { return only == "" || strings.Contains(","+only+",", ","+name+",") }
	fmt.Printf("wsxhostile against %s (pid %d), read limit %s, StallTimeout %v\n\n", s.Addr, s.Pid, size(limit), stall)
	fmt.Println("| attack | on the wire | server RSS | outcome |")
	fmt.Println("|---|---|---|---|")
	if run("bomb") {
		r, err := hostile.Bomb(s, bomb)
		fmt.Printf("| deflate bomb, %s inflated | %s | peak +%s (%.2f x the limit) | Close %d after %v %v |\n",
			size(bomb), size(r.Wire), size(int64(r.RSSPeak)), float64(r.RSSPeak)/float64(limit), r.Code, r.Took.Round(time.Millisecond), errText(err))
	}
	if run("stall") {
		r, err := hostile.Stall(s, limit-64<<10, stall)
		fmt.Printf("| stalled message, first frame inflating to the limit - 64 KiB | %s | +%s while it stalls; +%s after | Close %d after %v %v |\n",
			size(r.Wire), size(int64(r.Held)), size(int64(r.HeldAfter)), r.Code, r.After.Round(100*time.Millisecond), errText(err))
	}
	if run("stalled") {
		r, err := hostile.Stalled(s, conns, limit-64<<10, stall)
		fmt.Printf("| %d stalled compressed connections, each inflating to the limit - 64 KiB | %s each | +%s, peak +%s (idle: %s per connection) | after StallTimeout: +%s %v |\n",
			conns, size(int64(len(hostileDeflated(limit-64<<10)))), size(int64(r.RSS)), size(int64(r.RSSPeak)), size(int64(r.IdlePerConn)), size(int64(r.RSSAfter)), errText(err))
	}
	if run("pin") {
		r, err := hostile.Pin(s, conns, 1<<20-64<<10)
		fmt.Printf("| %d connections, one whole message of 960 KiB each, echoed, then idle | %s each | +%s (%s per connection) | %v |\n",
			conns, size(r.Wire), size(int64(r.Live)), size(int64(r.Live)/int64(conns)), errText(err))
	}
}

func errText(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func hostileDeflated(n int64) []byte { return hostile.Deflated(n, 9) }

// size formats a byte count.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func init() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: wsxhostile [flags]\n\nAttacks a wsx server over loopback and prints what it held.")
		flag.PrintDefaults()
	}
}
