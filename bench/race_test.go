//go:build race

package bench

// raceEnabled: the race detector slows a 16 MiB echo past the smoke test's bounds.
const raceEnabled = true
