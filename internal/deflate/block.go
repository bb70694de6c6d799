package deflate

import (
	"encoding/binary"
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

	fixedBits := 3 + extra
	for i, f := range e.litFreq {
		fixedBits += int(f) * int(fixedLitLen[i])
	}
	for i, f := range e.distFreq {
		fixedBits += int(f) * int(fixedDistLen[i])
	}
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

	// Dynamic code.
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
	dynBits := 3 + 5 + 5 + 4 + 3*ncl + extra
	for i, f := range e.clFreq {
		dynBits += int(f) * int(e.clLens[i])
	}
	dynBits += 2*int(e.clFreq[16]) + 3*int(e.clFreq[17]) + 7*int(e.clFreq[18])
	for i, f := range e.litFreq {
		dynBits += int(f) * int(e.litLens[i])
	}
	for i, f := range e.distFreq {
		dynBits += int(f) * int(e.distLens[i])
	}

	switch {
	case storedBits < dynBits && storedBits < fixedBits:
		e.writeStored(raw)
	case fixedBits <= dynBits:
		e.writeFixed(raw)
	default:
		e.bw.write(2<<1, 3) // BFINAL=0, BTYPE=10
		e.bw.write(uint64(nlit-257), 5)
		e.bw.write(uint64(ndist-1), 5)
		e.bw.write(uint64(ncl-4), 4)
		for _, sym := range codeLenOrder[:ncl] {
			e.bw.write(uint64(e.clLens[sym]), 3)
		}
		assignCodes(e.clLens[:], e.clCodes[:])
		for _, v := range e.clSeq[:nseq] {
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
		assignCodes(e.litLens[:], e.litCodes[:numLitLen])
		assignCodes(e.distLens[:], e.distCodes[:])
		e.writeTokens(raw)
	}
	e.resetBlock()
}

func (e *encState) resetBlock() {
	e.ntok = 0
	clear(e.litFreq[:])
	clear(e.distFreq[:])
}

// writeFixed writes the tokens as a fixed Huffman block (RFC 1951 §3.2.6).
func (e *encState) writeFixed(raw []byte) {
	e.bw.write(1<<1, 3) // BFINAL=0, BTYPE=01
	e.litCodes, e.distCodes = fixedLitCodes, fixedDistCodes
	e.writeTokens(raw)
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
// end-of-block code with e.litCodes and e.distCodes. The bits go out 8
// bytes at a time into room reserved first: at most 15 bits per literal and
// 48 per back-reference.
func (e *encState) writeTokens(raw []byte) {
	lit, dist := &e.litCodes, &e.distCodes
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
