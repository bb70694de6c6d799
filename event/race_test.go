//go:build race && !js

package event

// raceEnabled: under the race detector sync.Pool drops items at random, so allocation counts
// of pooled paths mean nothing; scripts/test.sh runs the allocation tests without it.
const raceEnabled = true
