package main

import (
	"context"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/bench/servers"
)

// serves reports whether l has a server for s: an echo server, or a fan-out server for the
// fan-out scenarios.
func serves(l *servers.Lib, s load.Scenario) bool {
	if s.Kind == load.KindFanout {
		return l.Fanout != nil
	}
	return l.Serve != nil
}

// verify checks, before a run, that the server answers the scenario correctly.
func verify(ctx context.Context, d *load.Dialer, s load.Scenario) error {
	if s.Kind == load.KindFanout {
		// Every library here compresses a message of 512 bytes or more (gws's threshold).
		return load.VerifyFanout(ctx, d, s, 512)
	}
	return load.Verify(ctx, d, s)
}

// runFanout measures a fan-out scenario: cost and rate per delivered message.
func runFanout(ctx context.Context, cfg *config, d *load.Dialer, s load.Scenario, mark func()) (load.Result, error) {
	f := load.Fanout{Dialer: d, Subscribers: s.Conns, Window: s.InFlight, Burst: s.Burst, Frame: s.PublisherFrame()}
	return f.Run(ctx, cfg.warmup, cfg.d, mark)
}
