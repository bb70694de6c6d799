package load

import (
	"math/bits"
	"time"
)

// hist is a latency histogram with 32 linear sub-buckets per power of two of nanoseconds,
// so a quantile is within about 1.6% of the true value, at a fixed 16 KiB per histogram.
type hist struct {
	n      int64
	counts [64 * 32]uint64
}

func bucket(ns int64) int {
	if ns < 64 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 6 // ns>>e is in [32, 64)
	return e*32 + int(ns>>e)
}

// bucketValue returns the midpoint of bucket b.
func bucketValue(b int) int64 {
	if b < 64 {
		return int64(b)
	}
	e := b/32 - 1
	m := int64(b%32 + 32)
	return m<<e + (int64(1)<<e)/2
}

func (h *hist) add(d time.Duration, count int) {
	h.counts[bucket(int64(d))] += uint64(count)
	h.n += int64(count)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0 < q < 1); zero for an empty histogram.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(bucketValue(i))
		}
	}
	return 0
}
