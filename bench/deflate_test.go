package bench

import (
	"bytes"
	"fmt"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/internal/deflate"
)

// The compressor comparison behind the README's permessage-deflate table, both sides in one
// run: wsx's own encoder (internal/deflate) at level 1, wsx's default, against
// klauspost/compress's NewWriterWindow, the one Go encoder that can keep a window below
// 32 KiB (RFC 7692 §7.1.2). Both compress the benchmark's JSON-like text one message at a
// time with a 16 KiB window and no context takeover, as in the deflate4k scenario; MB/s
// counts uncompressed bytes, ratio is compressed/uncompressed.
//
//	go test -run XXX -bench Deflate -count 5 .

var deflateSizes = []int{1 << 10, 4 << 10, 64 << 10}

func BenchmarkDeflateWsx(b *testing.B) {
	for _, n := range deflateSizes {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			msg := load.Scenario{Size: n, Text: true}.Payload()
			c := deflate.NewCompressor(deflate.DefaultWindowBits, false, deflate.BestSpeed)
			out := c.AppendMessage(nil, msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				out = c.AppendMessage(out[:0], msg)
			}
			b.ReportMetric(float64(len(out))/float64(len(msg)), "ratio")
		})
	}
}

func BenchmarkDeflateKlauspost(b *testing.B) {
	for _, n := range deflateSizes {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			msg := load.Scenario{Size: n, Text: true}.Payload()
			var out bytes.Buffer
			w, err := kflate.NewWriterWindow(&out, 1<<deflate.DefaultWindowBits)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				w.Reset(&out)
				w.Write(msg)
				w.Flush()
			}
			// Without the 00 00 ff ff that Flush ends with and a message drops (RFC 7692 §7.2.1).
			b.ReportMetric(float64(out.Len()-4)/float64(len(msg)), "ratio")
		})
	}
}
