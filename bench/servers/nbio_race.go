//go:build race

package servers

// nbio has data races of its own (it marks its hot paths //go:norace), so a -race build of
// the benchmark leaves it out rather than report races that are not ours.
func init() {
	register(&Lib{Name: "nbio", Pending: "left out of -race builds: nbio's own code races"})
}
