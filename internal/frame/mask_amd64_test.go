package frame

import "testing"

// The SSE2 loop, which CPUs without AVX2 run, against the reference too.
func TestMaskSSE2(t *testing.T) {
	t.Logf("this CPU has AVX2: %v", useAVX2)
	defer func(avx2 bool) { useAVX2 = avx2 }(useAVX2)
	useAVX2 = false
	t.Run("reference", TestMaskReference)
	t.Run("random", TestMaskRandomLarge)
	t.Run("split", TestMaskSplit)
}
