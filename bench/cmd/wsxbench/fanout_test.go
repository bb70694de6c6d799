package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/bench/load"
)

// TestRunFanout runs the fan-out scenarios briefly, with 50 subscribers, through the whole
// runner: child processes with each library's fan-out server, and the report, where the
// libraries without one (and wsx-nats in the echo scenarios) are "n/a". The figures are not
// judged.
func TestRunFanout(t *testing.T) {
	var scens []load.Scenario
	for _, n := range []string{"fan64", "fan1kz", "echo16"} {
		s, _ := load.Find(n)
		if s.Kind == load.KindFanout {
			s.Conns = 50
		}
		scens = append(scens, s)
	}
	cfg := config{libs: []string{"wsx", "gorilla", "gws", "wsx-nats", "coder"}, scenarios: scens, d: 100 * time.Millisecond,
		warmup: 50 * time.Millisecond, reps: 1, idleConns: 50, serverCPU: -1, maxNoise: 1, tries: 1}
	res := run(&cfg)
	for k, ss := range res {
		for _, sm := range ss {
			if sm.err != nil || sm.cpuPerOp <= 0 || sm.rate <= 0 || sm.writes <= 0 {
				t.Errorf("%s/%s: %+v (%v)", k.scenario, k.lib, sm, sm.err)
			}
		}
	}
	if len(res) != 2*4+4 { // fan-out: all but coder; echo: all but wsx-nats
		t.Errorf("%d results, want 12", len(res))
	}
	var out bytes.Buffer
	printReport(&out, &cfg, res, time.Second)
	for _, s := range scens[:2] {
		i := strings.Index(out.String(), "| "+s.Desc+" | ")
		if i < 0 {
			t.Fatalf("no row for %s in\n%s", s.Name, out.String())
		}
		line, _, _ := strings.Cut(out.String()[i:], "\n")
		if strings.Count(line, "(×") != 3 || !strings.HasSuffix(line, " n/a |") {
			t.Errorf("fan-out row: %s", line)
		}
	}
	// Deliveries per CPU-second: wsx's cell names the best peer (gorilla or gws), never the
	// wsx-nats variant.
	_, perCPU, ok := strings.Cut(out.String(), "Fan-out: messages delivered per second of server CPU")
	if !ok {
		t.Fatalf("no deliveries per CPU-second table in\n%s", out.String())
	}
	for _, s := range scens[:2] {
		i := strings.Index(perCPU, "| "+s.Desc+" | ")
		if i < 0 {
			t.Fatalf("no deliveries per CPU-second row for %s", s.Name)
		}
		line, _, _ := strings.Cut(perCPU[i:], "\n")
		if !strings.Contains(line, " gorilla) |") && !strings.Contains(line, " gws) |") {
			t.Errorf("deliveries per CPU-second row: %s", line)
		}
	}
}
