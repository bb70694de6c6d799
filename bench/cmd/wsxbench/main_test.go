package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/bench/load"
)

// TestMain lets the test binary serve as the runner's child process, as wsxbench does.
func TestMain(m *testing.M) {
	if serveFromEnv() {
		return
	}
	os.Exit(m.Run())
}

// TestRunEndToEnd runs the whole runner briefly: child server processes, every kind of
// scenario, the report. It checks that each run measured something and that the report has
// a row per scenario with a ratio to wsx; the figures themselves are not judged.
func TestRunEndToEnd(t *testing.T) {
	var scens []load.Scenario
	for _, n := range []string{"echo16", "pipe1k", "idle10k", "connect"} {
		s, _ := load.Find(n)
		scens = append(scens, s)
	}
	cfg := config{libs: []string{"wsx", "gorilla"}, scenarios: scens, d: 100 * time.Millisecond,
		warmup: 50 * time.Millisecond, reps: 1, idleConns: 50, serverCPU: -1, maxNoise: 1, tries: 1}
	res := run(&cfg)
	for k, ss := range res {
		for _, sm := range ss {
			if sm.err != nil {
				t.Errorf("%s/%s: %v", k.scenario, k.lib, sm.err)
			}
			if s, _ := load.Find(k.scenario); s.Kind != load.KindIdle && (sm.cpuPerOp <= 0 || sm.rate <= 0) {
				t.Errorf("%s/%s: %+v", k.scenario, k.lib, sm)
			}
		}
	}
	if len(res) != len(scens)*len(cfg.libs) {
		t.Errorf("%d results, want %d", len(res), len(scens)*len(cfg.libs))
	}
	var out bytes.Buffer
	printReport(&out, &cfg, res, time.Second)
	for _, s := range scens {
		row := "| " + s.Desc + " | "
		i := strings.Index(out.String(), row)
		if i < 0 {
			t.Errorf("no row %q in\n%s", row, out.String())
			continue
		}
		line, _, _ := strings.Cut(out.String()[i:], "\n")
		if !strings.Contains(line, "(×") {
			t.Errorf("row without a ratio to wsx: %s", line)
		}
	}
	if n := strings.Count(out.String(), "Server cost, lower is better"); n != 1 {
		t.Errorf("the cost table's title %d times", n)
	}
	for _, want := range []string{"Run-to-run spread", "Where wsx stands", "- 100 conns x 16 B request/response: wsx ", "best peer gorilla "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Errors:") {
		t.Errorf("report lists errors:\n%s", out.String())
	}
}

func TestGroupThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 27158: "27,158", -1234567: "-1,234,567"} {
		if got := groupThousands(n); got != want {
			t.Errorf("groupThousands(%d) = %q, want %q", n, got, want)
		}
	}
}
