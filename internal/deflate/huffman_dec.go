package deflate

import "math/bits"

// fastBits is the number of bits resolved by one table lookup; longer codes,
// which are rare by construction, are decoded canonically a bit at a time.
const fastBits = 9

// huffDecoder decodes one canonical Huffman code (RFC 1951 §3.2.2).
type huffDecoder struct {
	// fast[next fastBits bits] = symbol<<4 | code length, or 0 when the
	// code is longer than fastBits (or not assigned).
	fast   [1 << fastBits]uint16
	count  [maxBits + 1]uint16 // codes of each length
	symbol [288]uint16         // symbols in canonical order
}

// init builds the decoder for the code lengths lens. It fails on an
// over-subscribed code; an incomplete one is accepted (a code that is not
// assigned fails when decoded), as with a single distance code.
func (h *huffDecoder) init(lens []uint8) bool {
	clear(h.count[:])
	for _, l := range lens {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	var offs, next [maxBits + 2]uint16
	code := uint16(0)
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false
		}
		offs[l+1] = offs[l] + h.count[l]
		code = (code + h.count[l-1]) << 1
		next[l] = code
	}
	clear(h.fast[:])
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		h.symbol[offs[l]] = uint16(sym)
		offs[l]++
		c := next[l]
		next[l]++
		if l > fastBits {
			continue
		}
		r := bits.Reverse16(c) >> (16 - l)
		for i := int(r); i < 1<<fastBits; i += 1 << l {
			h.fast[i] = uint16(sym)<<4 | uint16(l)
		}
	}
	return true
}

// decode returns the symbol whose code starts the nb low bits of b and the
// code's length; n == 0 means that nb bits are not enough and n < 0 that
// the bits match no code.
func (h *huffDecoder) decode(b uint64, nb uint) (sym, n int) {
	if e := h.fast[b&(1<<fastBits-1)]; e != 0 {
		if l := uint(e & 15); l <= nb {
			return int(e >> 4), int(l)
		}
		return 0, 0
	}
	// Canonical decoding, one bit at a time (as in zlib's puff.c).
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		if uint(l) > nb {
			return 0, 0
		}
		code |= int(b>>(l-1)) & 1
		cnt := int(h.count[l])
		if code-first < cnt {
			return int(h.symbol[index+code-first]), l
		}
		index += cnt
		first = (first + cnt) << 1
		code <<= 1
	}
	return 0, -1
}
