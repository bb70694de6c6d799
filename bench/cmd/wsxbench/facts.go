package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/bench/servers"
)

// The facts are what a reader would otherwise write by hand under the tables (who is ahead,
// by how much, whether that is more than the runs' own spread), computed from the same
// cells, so that the text cannot drift from the figures.

// peer reports whether lib is another WebSocket library: not wsx, not one of its variants,
// not the floor.
func peer(lib string) bool {
	l, _ := servers.Get(lib)
	return lib != "wsx" && l.Variant == "" && !l.Floor
}

// best returns the peer with the lowest headline figure in scenario s, among those for which
// keep is true; "" if none ran.
func best(cfg *config, cells map[key]cell, s load.Scenario, keep func(*servers.Lib) bool) (string, cell) {
	var name string
	var bc cell
	for _, lib := range cfg.libs {
		l, _ := servers.Get(lib)
		c := cells[key{s.Name, lib}]
		if !peer(lib) || !c.ok || !keep(l) {
			continue
		}
		if name == "" || figure(s, c.cpuPerOp, c.perConn) < figure(s, bc.cpuPerOp, bc.perConn) {
			name, bc = lib, c
		}
	}
	return name, bc
}

// versus says how wsx's figure a compares with b: the ratio, and whether the difference is
// larger than the larger spread of the two.
func versus(a, b cell, s load.Scenario) string {
	fa, fb := figure(s, a.cpuPerOp, a.perConn), figure(s, b.cpuPerOp, b.perConn)
	r := fa / fb
	noise := math.Max(a.spread, b.spread)
	switch {
	case math.Abs(r-1) <= noise:
		return fmt.Sprintf("×%.2f, within the spread (%s)", r, fmtPct(noise))
	case r > 1:
		return fmt.Sprintf("×%.2f: wsx behind by more than the spread (%s)", r, fmtPct(noise))
	}
	return fmt.Sprintf("×%.2f: wsx ahead by more than the spread (%s)", r, fmtPct(noise))
}

func printFacts(w io.Writer, cfg *config, cells map[key]cell) {
	fmt.Fprintln(w, "Where wsx stands (computed from the tables above; ×r is wsx's figure divided by the other's, below 1 wsx is cheaper):")
	fmt.Fprintln(w)
	all := func(*servers.Lib) bool { return true }
	for _, s := range cfg.scenarios {
		x := cells[key{s.Name, "wsx"}]
		if !x.ok {
			continue
		}
		isIdle := s.Kind == load.KindIdle
		var parts []string
		if name, c := best(cfg, cells, s, all); name != "" {
			parts = append(parts, fmt.Sprintf("best peer %s %s: %s", name, fmtCost(figure(s, c.cpuPerOp, c.perConn), isIdle), versus(x, c, s)))
		}
		if isIdle {
			if name, c := best(cfg, cells, s, func(l *servers.Lib) bool { return !l.EventLoop }); name != "" {
				parts = append(parts, fmt.Sprintf("best peer with a goroutine per connection %s %s: %s",
					name, fmtCost(c.perConn, true), versus(x, c, s)))
			}
		}
		for _, lib := range cfg.libs {
			l, _ := servers.Get(lib)
			c := cells[key{s.Name, lib}]
			if !c.ok || peer(lib) || lib == "wsx" {
				continue
			}
			what := l.Variant + " (" + lib + ")"
			if l.Floor {
				what = "the floor (" + lib + ")"
			}
			parts = append(parts, fmt.Sprintf("%s %s: %s", what, fmtCost(figure(s, c.cpuPerOp, c.perConn), isIdle), versus(x, c, s)))
		}
		unit := "µs"
		if isIdle {
			unit = "B"
		}
		fmt.Fprintf(w, "- %s: wsx %s %s (spread %s); %s.\n", s.Desc, fmtCost(figure(s, x.cpuPerOp, x.perConn), isIdle), unit,
			fmtPct(x.spread), strings.Join(parts, "; "))
	}
	// Allocations: per message across the echo scenarios, per handshake for connect.
	var most float64
	var echoes int
	for _, s := range cfg.scenarios {
		if c := cells[key{s.Name, "wsx"}]; c.ok && s.Kind == load.KindEcho {
			most, echoes = math.Max(most, c.allocs), echoes+1
		}
	}
	if echoes > 0 {
		fmt.Fprintf(w, "- Heap allocations of the wsx server: at most %.2f per message over the %d message scenarios", most, echoes)
		for _, s := range cfg.scenarios {
			if c := cells[key{s.Name, "wsx"}]; c.ok && s.Kind == load.KindConnect {
				fmt.Fprintf(w, "; %.2f per handshake", c.allocs)
				name, fewest := "", 0.0
				for _, lib := range cfg.libs {
					if pc := cells[key{s.Name, lib}]; peer(lib) && pc.ok && (name == "" || pc.allocs < fewest) {
						name, fewest = lib, pc.allocs
					}
				}
				if name != "" {
					fmt.Fprintf(w, " (the fewest of the peers: %s %.2f)", name, fewest)
				}
			}
		}
		fmt.Fprintln(w, ".")
	}
	fmt.Fprintln(w)
}
