package deflate

import "math/bits"

// Table sizes, in bits resolved by one lookup. Longer codes, which are
// rare by construction (a symbol needs a frequency under 2^-bits to get
// one), are finished canonically a bit at a time.
const (
	litTableBits  = 9
	distTableBits = 8
	clTableBits   = maxCLBits // code length codes always fit
)

// A table entry tells what a code means, so that one lookup decodes a
// literal, or a length or distance with its base and number of extra bits:
//
//	bits 0-3   code length (0: no code of at most tableBits bits here)
//	bits 4-7   extra bits that follow the code
//	bits 8-10  kind: entEnd, entBase or entInvalid; none for a literal
//	bits 16-31 literal byte, base length or base distance, code length symbol
const (
	entLenMask = 0xf
	entEnd     = 1 << 8  // end of block
	entBase    = 1 << 9  // a length or distance: base + extra bits
	entInvalid = 1 << 10 // literal/length 286-287 or distance 30-31 (RFC 1951 §3.2.6)
	entKinds   = entEnd | entBase | entInvalid
)

// Symbol meanings without code lengths, for building tables.
var (
	litEntries  [288]uint32
	distEntries [32]uint32
	clEntries   [numCodeLen]uint32
)

// huffDecoder decodes one canonical Huffman code (RFC 1951 §3.2.2).
type huffDecoder struct {
	table  []uint32 // 2^tbits entries
	tbits  uint
	count  [maxBits + 1]uint16 // codes of each length
	symbol [288]uint16         // symbols in canonical order
	// Canonical decoding state after tbits bits: first code and index of
	// length tbits+1.
	first, index int
	entries      []uint32
}

// Fixed Huffman decoders (RFC 1951 §3.2.6), built once.
var fixedLitDec, fixedDistDec huffDecoder

// initDecoders builds the tables above; the init of tables.go calls it
// once the fixed code lengths are set.
func initDecoders() {
	for i := range litEntries {
		switch {
		case i < endBlock:
			litEntries[i] = uint32(i) << 16
		case i == endBlock:
			litEntries[i] = entEnd
		case i < numLitLen:
			s := i - 257
			litEntries[i] = uint32(lengthBase[s])<<16 | uint32(lengthExtra[s])<<4 | entBase
		default:
			litEntries[i] = entInvalid
		}
	}
	for i := range distEntries {
		if i < numDist {
			distEntries[i] = uint32(distBase[i])<<16 | uint32(distExtra[i])<<4 | entBase
		} else {
			distEntries[i] = entInvalid
		}
	}
	for i := range clEntries {
		clEntries[i] = uint32(i) << 16
	}
	fixedLitDec.init(fixedLitLen[:], litTableBits, litEntries[:])
	fixedDistDec.init(fixedDistLen[:], distTableBits, distEntries[:])
}

// init builds the decoder for the code lengths lens, with a table of
// 2^tbits entries and entries giving the meaning of each symbol. It fails
// on an over-subscribed code; an incomplete one is accepted (a code that is
// not assigned fails when decoded), as with a single distance code.
func (h *huffDecoder) init(lens []uint8, tbits uint, entries []uint32) bool {
	clear(h.count[:])
	for _, l := range lens {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false
		}
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lens {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	if cap(h.table) < 1<<tbits {
		h.table = make([]uint32, 1<<tbits) // once per pooled decoder
	}
	h.table = h.table[:1<<tbits]
	h.tbits, h.entries = tbits, entries
	// Fill the table one code length at a time: the entries of codes up to
	// l-1 bits, indexed by their bit-reversed codes, repeat with bit l-1
	// either way, then the codes of l bits go in the unused slots. Slots of
	// no code (an incomplete code) stay 0.
	t := h.table
	t[0] = 0
	code, index := 0, 0
	for l := uint(1); l <= tbits; l++ {
		copy(t[1<<(l-1):1<<l], t[:1<<(l-1)])
		for end := index + int(h.count[l]); index < end; index++ {
			t[bits.Reverse16(uint16(code))>>(16-l)] = entries[h.symbol[index]] | uint32(l)
			code++
		}
		code <<= 1
	}
	// Canonical decoding of longer codes resumes from here.
	h.first, h.index = code, index
	return true
}

// decode returns the table entry for the code that starts the nb low bits
// of b, with its code length; n == 0 means that nb bits are not enough and
// n < 0 that the bits match no code.
func (h *huffDecoder) decode(b uint64, nb uint) (e uint32, n int) {
	if e := h.table[b&uint64(len(h.table)-1)]; e != 0 {
		if l := uint(e & entLenMask); l <= nb {
			return e, int(l)
		}
		return 0, 0
	}
	return h.slow(b, nb)
}

// slow decodes a code longer than the table resolves, one bit at a time
// from the canonical code (as in zlib's puff.c), starting after the first
// tbits bits, which are a prefix of no shorter code.
func (h *huffDecoder) slow(b uint64, nb uint) (e uint32, n int) {
	code := int(bits.Reverse16(uint16(b))>>(16-h.tbits)) << 1
	first, index := h.first, h.index
	for l := h.tbits + 1; l <= maxBits; l++ {
		if l > nb {
			return 0, 0
		}
		code |= int(b>>(l-1)) & 1
		cnt := int(h.count[l])
		if code-first < cnt {
			return h.entries[h.symbol[index+code-first]] | uint32(l)&entLenMask, int(l)
		}
		index += cnt
		first = (first + cnt) << 1
		code <<= 1
	}
	return 0, -1
}
