package deflate

import (
	"math/bits"
	"slices"
)

// hcode is a Huffman code ready to be written: its bits are reversed
// because DEFLATE packs codes starting with their most significant bit into
// an LSB-first bit stream (RFC 1951 §3.1.1).
type hcode struct {
	code uint16
	len  uint8
}

// huffBuilder holds the scratch space for building codes.
type huffBuilder struct {
	sorted [288]uint64 // freq<<16 | symbol
	depth  [288]uint32
}

// buildLengths sets lens to the code lengths of a Huffman code for freq in
// which no code is longer than limit. Symbols with zero frequency get length
// 0. The result is always a complete code (Kraft sum exactly 1) so that
// every decoder accepts it: a single used symbol gets a 1-bit code next to a
// second, unused 1-bit code.
func (b *huffBuilder) buildLengths(freq []uint32, limit uint32, lens []uint8) {
	clear(lens)
	for shift := uint(0); ; shift++ {
		s := b.sorted[:0]
		for sym, f := range freq {
			if f != 0 {
				s = append(s, uint64(max(f>>shift, 1))<<16|uint64(sym))
			}
		}
		switch len(s) {
		case 0:
			return
		case 1:
			sym := int(s[0] & 0xffff)
			lens[sym] = 1
			lens[1-min(sym, 1)] = 1 // symbol 1 if sym is 0, else symbol 0
			return
		}
		slices.Sort(s)
		a := b.depth[:len(s)]
		for i, v := range s {
			a[i] = uint32(v >> 16)
		}
		minimumRedundancy(a)
		// a is non-increasing: a[0] is the longest code. When it is too
		// long, flatten the frequencies and try again; this converges to a
		// balanced code, at most 9 bits for 286 symbols.
		if a[0] <= limit {
			for i, v := range s {
				lens[v&0xffff] = uint8(a[i])
			}
			return
		}
	}
}

// minimumRedundancy replaces the weights in a, sorted in non-decreasing
// order, by the lengths of an optimal prefix code for them, in place and in
// linear time (Moffat and Katajainen, "In-Place Calculation of
// Minimum-Redundancy Codes", 1995). len(a) must be at least 2.
func minimumRedundancy(a []uint32) {
	n := len(a)
	// First pass, left to right: combine the two smallest items; internal
	// nodes store their parent's index once consumed.
	a[0] += a[1]
	root, leaf := 0, 2
	for next := 1; next < n-1; next++ {
		if leaf >= n || a[root] < a[leaf] {
			a[next] = a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] = a[leaf]
			leaf++
		}
		if leaf >= n || (root < next && a[root] < a[leaf]) {
			a[next] += a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] += a[leaf]
			leaf++
		}
	}
	// Second pass, right to left: depths of internal nodes.
	a[n-2] = 0
	for next := n - 3; next >= 0; next-- {
		a[next] = a[a[next]] + 1
	}
	// Third pass, right to left: depths of leaves.
	avail, used, depth := 1, 0, uint32(0)
	root, next := n-2, n-1
	for avail > 0 {
		for root >= 0 && a[root] == depth {
			used++
			root--
		}
		for avail > used {
			a[next] = depth
			next--
			avail--
		}
		avail, depth, used = 2*used, depth+1, 0
	}
}

// assignCodes sets codes to the canonical Huffman code for lens
// (RFC 1951 §3.2.2).
func assignCodes(lens []uint8, codes []hcode) {
	var count, next [maxBits + 1]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	code := uint16(0)
	for l := 1; l <= maxBits; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for sym, l := range lens {
		if l == 0 {
			codes[sym] = hcode{}
			continue
		}
		codes[sym] = hcode{code: bits.Reverse16(next[l]) >> (16 - l), len: l}
		next[l]++
	}
}

// bitWriter packs bits LSB-first and appends whole bytes to out.
type bitWriter struct {
	bits  uint64
	nbits uint
	out   []byte
}

// write appends the n low bits of b; n <= 16 and b has no higher bits set.
func (w *bitWriter) write(b uint64, n uint) {
	w.bits |= b << w.nbits
	w.nbits += n
	if w.nbits >= 48 {
		v := w.bits
		w.out = append(w.out, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40))
		w.bits >>= 48
		w.nbits -= 48
	}
}

// align pads with zero bits to a byte boundary and appends every pending
// byte, as a stored block header or the end of a message requires.
func (w *bitWriter) align() {
	for w.nbits > 0 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.nbits -= min(w.nbits, 8)
	}
	w.bits = 0
}
