package deflate

import (
	"fmt"
	"runtime"
	"testing"
)

var benchSizes = []struct {
	name string
	data func() []byte
}{
	{"16B", func() []byte { return jsonText(5, 16) }},
	{"1KiB", func() []byte { return jsonText(5, 1<<10) }},
	{"4KiB-text", func() []byte { return jsonText(5, 4<<10) }},
	{"64KiB", func() []byte { return jsonText(5, 64<<10) }},
	{"1MiB", func() []byte { return jsonText(5, 1<<20) }},
}

// BenchmarkCompress compresses one message per iteration at the default
// window, without context takeover (with it, compressing the same message
// again would cost next to nothing); MB/s counts uncompressed bytes.
func BenchmarkCompress(b *testing.B) {
	for _, s := range benchSizes {
		for _, level := range []int{BestSpeed, DefaultCompression} {
			b.Run(fmt.Sprintf("%s/level=%d", s.name, level), func(b *testing.B) {
				msg := s.data()
				c := NewCompressor(DefaultWindowBits, false, level)
				buf := c.AppendMessage(nil, msg)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					buf = c.AppendMessage(buf[:0], msg)
				}
				b.ReportMetric(float64(len(buf))/float64(len(msg)), "ratio")
			})
		}
	}
}

// BenchmarkInflate inflates one message per iteration into a 4 KiB buffer,
// the way a connection reads; MB/s counts inflated bytes.
func BenchmarkInflate(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			msg := s.data()
			payload := NewCompressor(15, false, DefaultCompression).AppendMessage(nil, msg)
			d := NewDecompressor(15, false)
			out := make([]byte, 4096)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				for in := payload; ; {
					_, ns, err := d.Inflate(out, in, true)
					in = in[ns:]
					if err != nil {
						break
					}
				}
			}
		})
	}
}

// BenchmarkIdleMemory reports the heap bytes held per connection (one
// Compressor and one Decompressor) after each has handled a few messages,
// at the defaults (our window 14 bits, peer window 15) with and without
// context takeover.
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 1000
	for _, takeover := range []bool{true, false} {
		b.Run(fmt.Sprintf("takeover=%v", takeover), func(b *testing.B) {
			msgs := [][]byte{jsonText(1, 300), jsonText(2, 4000), jsonText(3, 40000)}
			payloads := make([][]byte, len(msgs))
			for i, m := range msgs {
				payloads[i] = NewCompressor(15, false, DefaultCompression).AppendMessage(nil, m)
			}
			out := make([]byte, 4096)
			var perConn float64
			for b.Loop() {
				type conn struct {
					c *Compressor
					d *Decompressor
				}
				cs := make([]conn, conns)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var buf []byte
				for i := range cs {
					cs[i] = conn{NewCompressor(DefaultWindowBits, takeover, DefaultCompression), NewDecompressor(15, takeover)}
					for j, m := range msgs {
						buf = cs[i].c.AppendMessage(buf[:0], m)
						for in := payloads[j]; ; {
							_, ns, err := cs[i].d.Inflate(out, in, true)
							in = in[ns:]
							if err != nil {
								break
							}
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn = float64(after.HeapAlloc-before.HeapAlloc) / conns
				runtime.KeepAlive(cs)
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}
