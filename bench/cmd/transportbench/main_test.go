package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary act as the server process too.
func TestMain(m *testing.M) {
	if os.Getenv(envServe) != "" {
		if err := serve(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A short run over every transport: the servers answer, the echoes are checked, and the
// figures come out positive.
func TestShortRun(t *testing.T) {
	cfg := config{idle: 20, conns: 2, size: 16, d: 100 * time.Millisecond, reps: 1}
	for _, tr := range transports {
		if _, err := idleBytes(cfg, tr); err != nil {
			t.Errorf("%s idle: %v", tr.name, err)
		}
		us, err := echoCPU(cfg, tr)
		if err != nil || us <= 0 {
			t.Errorf("%s echo: %v µs, %v", tr.name, us, err)
		}
	}
}
