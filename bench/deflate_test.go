package bench

import (
	"bytes"
	"fmt"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/internal/deflate"
)

// BenchmarkDeflate is the compressor comparison behind the README's permessage-deflate table,
// both sides in one run: wsx's own encoder (internal/deflate) at level 1, wsx's default,
// against klauspost/compress's NewWriterWindow, the one Go encoder that can keep a window
// below 32 KiB (RFC 7692 §7.1.2). Both compress the benchmark's JSON-like text one message at
// a time with a 16 KiB window and no context takeover, as in the deflate4k scenario; MB/s
// counts uncompressed bytes, ratio is compressed/uncompressed without the 00 00 ff ff that a
// message drops (RFC 7692 §7.2.1).
//
//	go test -run XXX -bench Deflate -count 5 .
func BenchmarkDeflate(b *testing.B) {
	for _, impl := range []struct {
		name string
		new  func() func(msg []byte) int // returns a compressor, which returns the payload size
	}{
		{"wsx", func() func([]byte) int {
			c := deflate.NewCompressor(deflate.DefaultWindowBits, false, deflate.BestSpeed)
			var out []byte
			return func(msg []byte) int {
				out = c.AppendMessage(out[:0], msg)
				return len(out)
			}
		}},
		{"klauspost", func() func([]byte) int {
			var out bytes.Buffer
			w, err := kflate.NewWriterWindow(&out, 1<<deflate.DefaultWindowBits)
			if err != nil {
				panic(err)
			}
			return func(msg []byte) int {
				out.Reset()
				w.Reset(&out)
				w.Write(msg)
				w.Flush()
				return out.Len() - 4
			}
		}},
	} {
		for _, n := range []int{1 << 10, 4 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%dKiB", impl.name, n>>10), func(b *testing.B) {
				msg := load.Scenario{Size: n, Text: true}.Payload()
				compress := impl.new()
				size := compress(msg)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					compress(msg)
				}
				b.ReportMetric(float64(size)/float64(len(msg)), "ratio")
			})
		}
	}
}
