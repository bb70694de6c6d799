package bench

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsx-go/wsx/internal/frame"
)

// BenchmarkMask compares unmasking (§5.3), the one pass over a large payload that a server
// makes in user space: wsx's frame.Mask against gobwas's ws.Cipher, the best peer on large
// messages; both use AVX2 where the CPU has it. MB/s counts payload bytes.
//
//	go test -run XXX -bench Mask -count 5 .
func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, impl := range []struct {
		name string
		mask func(p []byte)
	}{
		{"wsx", func(p []byte) { frame.Mask(key, 0, p) }},
		{"gobwas", func(p []byte) { ws.Cipher(p, key, 0) }},
	} {
		for _, n := range []int{16, 1 << 10, 64 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%s/%d", impl.name, n), func(b *testing.B) {
				p := make([]byte, n)
				b.SetBytes(int64(n))
				for b.Loop() {
					impl.mask(p)
				}
			})
		}
	}
}
