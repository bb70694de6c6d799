//go:build race

package hostile

// raceEnabled: the race detector multiplies the memory a process maps (its shadow memory), so
// RSS bounds mean nothing under it; scripts/test.sh runs bench's tests without it too.
const raceEnabled = true
