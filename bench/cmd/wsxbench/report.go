package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/bench/servers"
)

// cell is the median of a library's samples in one scenario, or why there is none.
type cell struct {
	ok       bool
	note     string // "pending", "n/a", "error"
	cpuPerOp float64
	rate     float64
	p50, p99 time.Duration
	perConn  float64
	heap     float64
	stack    float64
	allocs   float64
	writes   float64   // write system calls per operation (syscw of /proc/self/io)
	sys      []float64 // system calls per operation, in syscallEvents order; nil if not counted
	instr    float64   // instructions per operation under callgrind; 0 if not counted
	spread   float64   // (max - min) / median of the headline figure over the repetitions
	n        int       // repetitions that succeeded
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// skip tells why lib does not run scenario s ("pending", "n/a"), or "" when it does.
func skip(s load.Scenario, lib string) string {
	l, _ := servers.Get(lib)
	switch {
	case l.Pending != "", s.Deflate && l.DeflatePending != "":
		return "pending"
	case s.Deflate && !l.Deflate, s.Kind == load.KindIdle && l.Floor, l.TLS && s.Kind != load.KindIdle, !serves(l, s):
		return "n/a"
	}
	return ""
}

// figure is the scenario's headline figure of a sample or cell: RSS per connection for idle
// connections, CPU per operation otherwise.
func figure(s load.Scenario, cpuPerOp, perConn float64) float64 {
	if s.Kind == load.KindIdle {
		return perConn
	}
	return cpuPerOp
}

// summarize takes the median of every metric separately over the runs that succeeded, and
// the spread of the headline figure: (max - min) / median.
func summarize(s load.Scenario, lib string, samples []sample, errs *[]string) cell {
	if note := skip(s, lib); note != "" {
		return cell{note: note}
	}
	var cpu, rate, p50, p99, per, heap, stack, allocs, writes, fig, instr []float64
	sys := make([][]float64, len(syscallEvents))
	for _, sm := range samples {
		if sm.err != nil {
			*errs = append(*errs, fmt.Sprintf("%s/%s: %v", s.Name, lib, sm.err))
			continue
		}
		cpu, rate, per = append(cpu, sm.cpuPerOp), append(rate, sm.rate), append(per, sm.perConn)
		heap, stack, allocs = append(heap, sm.heap), append(stack, sm.stack), append(allocs, sm.allocs)
		writes = append(writes, sm.writes)
		p50, p99 = append(p50, float64(sm.p50)), append(p99, float64(sm.p99))
		fig = append(fig, figure(s, sm.cpuPerOp, sm.perConn))
		for i, v := range sm.sys {
			sys[i] = append(sys[i], v)
		}
		if sm.instr > 0 {
			instr = append(instr, sm.instr)
		}
	}
	if len(cpu) == 0 {
		return cell{note: "error"}
	}
	c := cell{ok: true, n: len(fig), cpuPerOp: median(cpu), rate: median(rate), perConn: median(per),
		heap: median(heap), stack: median(stack), allocs: median(allocs), writes: median(writes),
		p50: time.Duration(median(p50)), p99: time.Duration(median(p99))}
	if len(sys[0]) > 0 {
		for _, v := range sys {
			c.sys = append(c.sys, median(v))
		}
	}
	if len(instr) > 0 {
		c.instr = median(instr)
	}
	if m := median(fig); m > 0 {
		c.spread = (slices.Max(fig) - slices.Min(fig)) / m
	}
	return c
}

func printReport(w io.Writer, cfg *config, res map[key][]sample, took time.Duration) {
	var errs []string
	cells := map[key]cell{}
	for _, s := range cfg.scenarios {
		for _, lib := range cfg.libs {
			cells[key{s.Name, lib}] = summarize(s, lib, res[key{s.Name, lib}], &errs)
		}
	}
	fmt.Fprintf(w, "wsxbench, %s: %s; %s; %s.\n", time.Now().Format("2006-01-02"), machine(), runtime.Version(), pinning(cfg))
	var noise []float64
	for _, ss := range res {
		for _, sm := range ss {
			if sm.err == nil && sm.util > 0 {
				noise = append(noise, sm.noise)
			}
		}
	}
	fmt.Fprintf(w, "Median of %d runs of %v each (after %v of warm-up and at least two echoes per connection), libraries interleaved; whole run %v.",
		cfg.reps, cfg.d, cfg.warmup, took.Round(time.Second))
	if len(noise) > 0 && cfg.serverCPU >= 0 {
		fmt.Fprintf(w, " Other processes took %.0f%% of the server's core (median over runs).", 100*median(noise))
	}
	fmt.Fprint(w, "\n")
	if slices.ContainsFunc(cfg.scenarios, func(s load.Scenario) bool { return s.Deflate }) {
		fmt.Fprintf(w, "permessage-deflate without context takeover either way, compression level %d in every "+
			"server that has a setting (coder has none and uses 1).\n", servers.DeflateLevel)
	}
	fmt.Fprint(w, "\n")

	hasWsx := slices.Contains(cfg.libs, "wsx")
	head := func(title, first string) {
		fmt.Fprintf(w, "%s\n\n| %s |", title, first)
		for _, lib := range cfg.libs {
			fmt.Fprintf(w, " %s |", lib)
		}
		fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(cfg.libs)))
	}

	// table prints a table with a row per scenario that keep accepts, a column per library,
	// and a blank line after it; text gives a cell's content, "" for none.
	table := func(title string, keep func(load.Scenario) bool, text func(s load.Scenario, lib string, c cell) string) {
		var rows []load.Scenario
		for _, s := range cfg.scenarios {
			if keep(s) {
				rows = append(rows, s)
			}
		}
		if len(rows) == 0 {
			return
		}
		head(title, "scenario")
		for _, s := range rows {
			fmt.Fprintf(w, "| %s |", s.Desc)
			for _, lib := range cfg.libs {
				c := cells[key{s.Name, lib}]
				t := c.note
				if c.ok {
					t = cmp.Or(text(s, lib, c), "–")
				}
				fmt.Fprintf(w, " %s |", t)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	all := func(load.Scenario) bool { return true }
	busy := func(s load.Scenario) bool { return s.Kind != load.KindIdle }

	table("Server cost, lower is better: CPU µs per echoed message (per handshake for connect, per delivered message for fan-out), "+
		"RSS bytes per idle connection. (×r) is the peer's figure divided by wsx's: above 1, wsx is ahead.", all,
		func(s load.Scenario, lib string, c cell) string {
			v := figure(s, c.cpuPerOp, c.perConn)
			txt := fmtCost(v, s.Kind == load.KindIdle)
			base := cells[key{s.Name, "wsx"}]
			if bv := figure(s, base.cpuPerOp, base.perConn); hasWsx && lib != "wsx" && base.ok && bv > 0 {
				txt += fmt.Sprintf(" (×%.2f)", v/bv)
			}
			return txt
		})
	table(fmt.Sprintf("Run-to-run spread of the figures above: (max − min) / median over the %d repetitions.", cfg.reps), all,
		func(_ load.Scenario, _ string, c cell) string { return fmtPct(c.spread) })
	if hasWsx {
		printFacts(w, cfg, cells)
	}
	table("Fan-out: messages delivered per second of server CPU (1 / CPU per delivery), higher is better; "+
		"(×r) is wsx's figure divided by the best peer's.", func(s load.Scenario) bool { return s.Kind == load.KindFanout },
		func(s load.Scenario, lib string, c cell) string {
			txt := fmtRate(1e6 / c.cpuPerOp)
			if name, bc := best(cfg, cells, s, func(*servers.Lib) bool { return true }); lib == "wsx" && name != "" {
				txt += fmt.Sprintf(" (×%.1f %s)", bc.cpuPerOp/c.cpuPerOp, name)
			}
			return txt
		})
	table("Throughput and latency: messages (or handshakes, or deliveries) per second; round-trip (fan-out: publisher to subscriber) p50 / p99.", busy,
		func(_ load.Scenario, _ string, c cell) string {
			return fmt.Sprintf("%s/s; %s / %s", fmtRate(c.rate), fmtDur(c.p50), fmtDur(c.p99))
		})
	table("Server heap allocations per echoed message (per handshake for connect, per delivered message for fan-out).", busy,
		func(_ load.Scenario, _ string, c cell) string { return fmt.Sprintf("%.2f", c.allocs) })
	table("Server write system calls (write, writev) per echoed message (per handshake for connect, per delivered message "+
		"for fan-out), from syscw of /proc/self/io: a count that other processes disturb far less than CPU time "+
		"(only where a server's coalescing depends on timing).", busy,
		func(_ load.Scenario, _ string, c cell) string { return fmt.Sprintf("%.3f", c.writes) })
	if cfg.syscalls {
		table("System calls of the server per echoed message (per handshake for connect), perf stat over the measured interval: "+
			strings.Join(syscallNames, " / ")+".", busy,
			func(_ load.Scenario, _ string, c cell) string {
				var f []string
				for _, v := range c.sys {
					f = append(f, fmtCount(v))
				}
				return strings.Join(f, " / ")
			})
	}
	if len(cfg.callgrind) > 0 {
		table("Instructions the server executed per echoed message (per handshake for connect), user space only "+
			"(callgrind, counting over the measured interval).", busy,
			func(_ load.Scenario, _ string, c cell) string {
				if c.instr == 0 {
					return ""
				}
				return groupThousands(int64(c.instr + 0.5))
			})
	}
	for _, s := range cfg.scenarios {
		if s.Kind != load.KindIdle {
			continue
		}
		head(fmt.Sprintf("Memory per idle connection (%s), bytes: RSS, and the Go heap and goroutine stacks within it.", s.Name), "bytes per connection")
		for _, row := range []struct {
			name string
			f    func(cell) float64
		}{{"RSS", func(c cell) float64 { return c.perConn }},
			{"Go heap in use", func(c cell) float64 { return c.heap }},
			{"goroutine stacks", func(c cell) float64 { return c.stack }}} {
			fmt.Fprintf(w, "| %s |", row.name)
			for _, lib := range cfg.libs {
				c := cells[key{s.Name, lib}]
				if !c.ok {
					fmt.Fprintf(w, " %s |", c.note)
					continue
				}
				fmt.Fprintf(w, " %s |", groupThousands(int64(row.f(c)+0.5)))
			}
			fmt.Fprintln(w)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for _, e := range errs {
			fmt.Fprintln(w, "- "+e)
		}
	}
}

func fmtCost(v float64, bytes bool) string {
	switch {
	case bytes:
		return groupThousands(int64(v + 0.5))
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtPct(f float64) string {
	if f < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

func fmtCount(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", d.Seconds()*1e3)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", d.Seconds()*1e3)
	}
	return fmt.Sprintf("%.0fµs", d.Seconds()*1e6)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// machine describes the host: CPU model, cores, kernel.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores%s", model, runtime.NumCPU(), kernel)
}

func pinning(cfg *config) string {
	if cfg.serverCPU < 0 {
		return "not pinned"
	}
	return fmt.Sprintf("server pinned to core %d, load generator to core %d", cfg.serverCPU, cfg.loadCPU)
}
