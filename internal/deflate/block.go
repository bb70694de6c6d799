package deflate

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// flushBlock writes the buffered tokens as one DEFLATE block with BFINAL=0,
// choosing the smallest of a dynamic Huffman, fixed Huffman or stored block
// (RFC 1951 §3.2.3). raw is the input the tokens encode.
func (e *encState) flushBlock(raw []byte) {
	if e.ntok == 0 {
		return
	}
	e.litFreq[endBlock] = 1
	var extra int // extra bits of lengths and distances, the same for every block type
	for i, f := range e.litFreq[257:] {
		extra += int(f) * int(lengthExtra[i])
	}
	for i, f := range e.distFreq {
		extra += int(f) * int(distExtra[i])
	}

	fixedBits := 3 + extra + codeBits(e.litFreq[:], fixedLitLen[:]) + codeBits(e.distFreq[:], fixedDistLen[:])
	// Stored: a 3-bit header, padding, LEN and NLEN per 65535 bytes.
	storedBits := (len(raw)/65535+1)*(3+7+32) + 8*len(raw)
	if e.ntok < 128 {
		// A dynamic header (tens of bytes) cannot pay for itself: skip
		// building it, which dominates the cost of small messages.
		if storedBits < fixedBits {
			e.writeStored(raw)
		} else {
			e.writeFixed(raw)
		}
		e.resetBlock()
		return
	}

	// Dynamic code: the previous one (pooled state: from an earlier block,
	// message or connection) when it codes every symbol used and comes
	// close to the entropy, as a fresh code would; else a fresh one.
	entropy := entropyBits(e.litFreq[:]) + entropyBits(e.distFreq[:])
	dataBits := -1
	if e.dyn.valid {
		if l, d := codeBits(e.litFreq[:], e.litLens[:]), codeBits(e.distFreq[:], e.distLens[:]); l >= 0 && d >= 0 &&
			(l+d)*1024 <= entropy*(e.dyn.rate+32) {
			dataBits = l + d
		}
	}
	if dataBits < 0 {
		e.buildDynamic()
		dataBits = codeBits(e.litFreq[:], e.litLens[:]) + codeBits(e.distFreq[:], e.distLens[:])
		e.dyn.rate = dataBits * 1024 / max(entropy, 1)
	}
	dynBits := 3 + e.dyn.headerBits + dataBits + extra

	switch {
	case storedBits < dynBits && storedBits < fixedBits:
		e.writeStored(raw)
	case fixedBits <= dynBits:
		e.writeFixed(raw)
	default:
		e.bw.write(2<<1, 3) // BFINAL=0, BTYPE=10
		e.bw.write(uint64(e.dyn.nlit-257), 5)
		e.bw.write(uint64(e.dyn.ndist-1), 5)
		e.bw.write(uint64(e.dyn.ncl-4), 4)
		for _, sym := range codeLenOrder[:e.dyn.ncl] {
			e.bw.write(uint64(e.clLens[sym]), 3)
		}
		for _, v := range e.clSeq[:e.dyn.nseq] {
			sym := v & 31
			c := e.clCodes[sym]
			e.bw.write(uint64(c.code), uint(c.len))
			switch sym {
			case 16:
				e.bw.write(uint64(v>>5), 2)
			case 17:
				e.bw.write(uint64(v>>5), 3)
			case 18:
				e.bw.write(uint64(v>>5), 7)
			}
		}
		e.writeTokens(raw, &e.litCodes, &e.distCodes)
	}
	e.resetBlock()
}

// buildDynamic builds a Huffman code for the current frequencies and the
// code length sequence that describes it (RFC 1951 §3.2.7), in e.dyn and
// the code tables.
func (e *encState) buildDynamic() {
	e.huff.buildLengths(e.litFreq[:], maxBits, e.litLens[:])
	e.huff.buildLengths(e.distFreq[:], maxBits, e.distLens[:])
	if allZero(e.distFreq[:]) {
		// No back-reference: send a complete two-code distance alphabet
		// anyway, which every decoder accepts.
		e.distLens[0], e.distLens[1] = 1, 1
	}
	nlit, ndist := numLitLen, numDist
	for e.litLens[nlit-1] == 0 {
		nlit--
	}
	for e.distLens[ndist-1] == 0 {
		ndist--
	}
	nseq := e.codeLengthSequence(nlit, ndist)
	e.huff.buildLengths(e.clFreq[:], maxCLBits, e.clLens[:])
	ncl := numCodeLen
	for ncl > 4 && e.clLens[codeLenOrder[ncl-1]] == 0 {
		ncl--
	}
	h := 5 + 5 + 4 + 3*ncl
	for i, f := range e.clFreq {
		h += int(f) * int(e.clLens[i])
	}
	h += 2*int(e.clFreq[16]) + 3*int(e.clFreq[17]) + 7*int(e.clFreq[18])
	assignCodes(e.clLens[:], e.clCodes[:])
	assignCodes(e.litLens[:], e.litCodes[:numLitLen])
	assignCodes(e.distLens[:], e.distCodes[:])
	e.dyn = dynCode{valid: true, nlit: nlit, ndist: ndist, ncl: ncl, nseq: nseq, headerBits: h}
}

// codeBits returns the bits that symbols with frequencies freq take with
// code lengths lens, or -1 if a symbol used has no code.
func codeBits(freq []uint32, lens []uint8) int {
	n := 0
	for i, f := range freq {
		l := lens[i]
		if l == 0 && f != 0 {
			return -1
		}
		n += int(f) * int(l)
	}
	return n
}

// log2Frac[i] is log2(1+i/256) in 1/256 bits.
var log2Frac [256]uint16

// entropyBits returns the Shannon bound of the bits that symbols with
// frequencies freq need, to within about a percent: what a fresh Huffman
// code would cost, minus its small redundancy.
func entropyBits(freq []uint32) int {
	total := uint32(0)
	for _, f := range freq {
		total += f
	}
	if total == 0 {
		return 0
	}
	lt := log2Fixed(total)
	n := 0
	for _, f := range freq {
		if f != 0 {
			n += int(f) * int(lt-log2Fixed(f))
		}
	}
	return n >> 8
}

// log2Fixed returns log2(x) in 1/256 bits, x >= 1.
func log2Fixed(x uint32) uint32 {
	l := uint32(bits.Len32(x) - 1)
	var m uint32
	if l >= 8 {
		m = x >> (l - 8) & 255
	} else {
		m = x << (8 - l) & 255
	}
	return l<<8 + uint32(log2Frac[m])
}

func (e *encState) resetBlock() {
	e.ntok = 0
	clear(e.litFreq[:])
	clear(e.distFreq[:])
}

// writeFixed writes the tokens as a fixed Huffman block (RFC 1951 §3.2.6).
func (e *encState) writeFixed(raw []byte) {
	e.bw.write(1<<1, 3) // BFINAL=0, BTYPE=01
	e.writeTokens(raw, &fixedLitCodes, &fixedDistCodes)
}

// codeLengthSequence run-length encodes the code lengths of the first nlit
// literal/length and ndist distance symbols with the code length alphabet
// (RFC 1951 §3.2.7) into e.clSeq, counting symbols in e.clFreq. Runs may
// cross from one alphabet into the other, as the RFC allows.
func (e *encState) codeLengthSequence(nlit, ndist int) int {
	clear(e.clFreq[:])
	var lens [numLitLen + numDist]uint8
	copy(lens[:], e.litLens[:nlit])
	copy(lens[nlit:], e.distLens[:ndist])
	all := lens[:nlit+ndist]
	n := 0
	emit := func(sym, extra int) {
		e.clSeq[n] = uint16(sym | extra<<5)
		e.clFreq[sym]++
		n++
	}
	for i := 0; i < len(all); {
		l := all[i]
		run := 1
		for i+run < len(all) && all[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				emit(18, r-11)
				run -= r
			}
			if run >= 3 {
				emit(17, run-3)
				run = 0
			}
		} else {
			emit(int(l), 0)
			run--
			for run >= 3 {
				r := min(run, 6)
				emit(16, r-3)
				run -= r
			}
		}
		for ; run > 0; run-- {
			emit(int(l), 0)
		}
	}
	return n
}

// writeTokens writes the buffered tokens, which encode raw, and the
// end-of-block code with the codes lit and dist. The bits go out 8
// bytes at a time into room reserved first: at most 15 bits per literal and
// 48 per back-reference.
func (e *encState) writeTokens(raw []byte, lit *[288]hcode, dist *[numDist]hcode) {
	w := &e.bw
	n := len(w.out)
	out := slices.Grow(w.out, 2*len(raw)+6*e.ntok+16)
	out = out[:cap(out)]
	bits, nb := w.bits, w.nbits
	p := 0
	for _, t := range e.tokens[:e.ntok] {
		if t < matchFlag {
			for _, b := range raw[p : p+int(t)] {
				c := lit[b]
				bits |= uint64(c.code) << nb
				nb += uint(c.len)
				if nb >= 48 {
					binary.LittleEndian.PutUint64(out[n:], bits)
					n += 6
					bits >>= 48
					nb -= 48
				}
			}
			p += int(t)
			continue
		}
		if nb >= 16 {
			binary.LittleEndian.PutUint64(out[n:], bits)
			n += int(nb >> 3)
			bits >>= nb &^ 7
			nb &= 7
		}
		ln := int(t>>15&0xff) + 3
		p += ln
		lc := lengthCode[ln-3]
		c := lit[257+int(lc)]
		bits |= uint64(c.code) << nb
		nb += uint(c.len)
		bits |= uint64(ln-int(lengthBase[lc])) << nb
		nb += uint(lengthExtra[lc])
		ds := t >> 23 & 31
		c = dist[ds]
		bits |= uint64(c.code) << nb
		nb += uint(c.len)
		bits |= uint64(int(t&0x7fff)+1-int(distBase[ds])) << nb
		nb += uint(distExtra[ds])
	}
	c := lit[endBlock]
	bits |= uint64(c.code) << nb
	nb += uint(c.len)
	binary.LittleEndian.PutUint64(out[n:], bits)
	n += int(nb >> 3)
	bits >>= nb &^ 7
	nb &= 7
	w.out, w.bits, w.nbits = out[:n], bits, nb
}

// writeStored writes raw as stored blocks of at most 65535 bytes
// (RFC 1951 §3.2.4).
func (e *encState) writeStored(raw []byte) {
	for {
		n := min(len(raw), 65535)
		e.bw.write(0, 3) // BFINAL=0, BTYPE=00
		e.bw.align()
		e.bw.out = append(e.bw.out, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		e.bw.out = append(e.bw.out, raw[:n]...)
		raw = raw[n:]
		if len(raw) == 0 {
			return
		}
	}
}

func allZero(s []uint32) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}
