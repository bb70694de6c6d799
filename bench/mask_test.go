package bench

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsx-go/wsx/internal/frame"
)

// Unmasking (§5.3) is the one pass over a large payload that a server makes in user space:
// wsx's frame.Mask (8-byte words) against gobwas's ws.Cipher (AVX2 where the CPU has it), the
// best peer on large messages. MB/s counts payload bytes.
//
//	go test -run XXX -bench Mask -count 5 .

var maskSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

func BenchmarkMaskWsx(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range maskSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := make([]byte, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				frame.Mask(key, 0, p)
			}
		})
	}
}

func BenchmarkMaskGobwas(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range maskSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := make([]byte, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				ws.Cipher(p, key, 0)
			}
		})
	}
}
