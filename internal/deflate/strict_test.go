package deflate

import (
	"errors"
	"fmt"
)

// strictInflate is a deliberately simple, independent DEFLATE decoder (in
// the style of zlib's puff.c) used to check what the Compressor emits: it
// decodes the whole stream data after the history hist and fails on any
// back-reference longer than window, even one that an ordinary inflater
// with a 32 KiB window would accept. It returns the new output and the
// largest distance seen. Decoding stops at a block with BFINAL set or at
// the end of the input on a block boundary.
func strictInflate(data, hist []byte, window int) (out []byte, maxDist int, err error) {
	s := &puff{in: data, out: hist}
	start := len(hist)
	for {
		if s.pos >= len(s.in) && s.nb < 3 {
			return s.out[start:], maxDist, nil
		}
		last := s.bits(1)
		typ := s.bits(2)
		switch typ {
		case 0:
			s.nb, s.buf = 0, 0
			if s.pos+4 > len(s.in) {
				return nil, 0, errors.New("short stored header")
			}
			n := int(s.in[s.pos]) | int(s.in[s.pos+1])<<8
			if s.in[s.pos+2] != ^byte(n) || s.in[s.pos+3] != ^byte(n>>8) {
				return nil, 0, errors.New("bad stored length")
			}
			s.pos += 4
			if s.pos+n > len(s.in) {
				return nil, 0, errors.New("short stored block")
			}
			s.out = append(s.out, s.in[s.pos:s.pos+n]...)
			s.pos += n
		case 1, 2:
			var lit, dist puffCode
			if typ == 1 {
				lit.init(fixedLitLen[:])
				dist.init(fixedDistLen[:])
			} else if err := s.dynamic(&lit, &dist); err != nil {
				return nil, 0, err
			}
			for {
				sym := s.decode(&lit)
				if sym < 0 || s.err != nil {
					return nil, 0, errors.New("bad code")
				}
				if sym < 256 {
					s.out = append(s.out, byte(sym))
					continue
				}
				if sym == 256 {
					break
				}
				sym -= 257
				if sym >= 29 {
					return nil, 0, errors.New("bad length symbol")
				}
				n := int(lengthBase[sym]) + s.bits(uint(lengthExtra[sym]))
				ds := s.decode(&dist)
				if ds < 0 || ds >= 30 {
					return nil, 0, errors.New("bad distance symbol")
				}
				d := int(distBase[ds]) + s.bits(uint(distExtra[ds]))
				if d > window {
					return nil, 0, fmt.Errorf("distance %d beyond the %d-byte window at output %d", d, window, len(s.out)-start)
				}
				if d > len(s.out) {
					return nil, 0, errors.New("distance before the start")
				}
				maxDist = max(maxDist, d)
				for range n {
					s.out = append(s.out, s.out[len(s.out)-d])
				}
			}
		default:
			return nil, 0, errors.New("block type 3")
		}
		if s.err != nil {
			return nil, 0, s.err
		}
		if last == 1 {
			return s.out[start:], maxDist, nil
		}
	}
}

type puff struct {
	in       []byte
	pos      int
	buf      uint32
	nb       uint
	out      []byte
	err      error
	lensWork [320]uint8
}

func (s *puff) bits(n uint) int {
	for s.nb < n {
		if s.pos >= len(s.in) {
			s.err = errors.New("out of input")
			return 0
		}
		s.buf |= uint32(s.in[s.pos]) << s.nb
		s.pos++
		s.nb += 8
	}
	v := int(s.buf & (1<<n - 1))
	s.buf >>= n
	s.nb -= n
	return v
}

type puffCode struct {
	count  [16]int
	symbol [288]int
}

func (h *puffCode) init(lens []uint8) {
	var offs [16]int
	for _, l := range lens {
		h.count[l]++
	}
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lens {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
}

func (s *puff) decode(h *puffCode) int {
	code, first, index := 0, 0, 0
	for l := 1; l <= 15; l++ {
		code |= s.bits(1)
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)]
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return -1
}

func (s *puff) dynamic(lit, dist *puffCode) error {
	nlen := s.bits(5) + 257
	ndist := s.bits(5) + 1
	ncode := s.bits(4) + 4
	if nlen > 286 || ndist > 30 {
		return errors.New("bad counts")
	}
	lens := s.lensWork[:]
	clear(lens)
	for i := range ncode {
		lens[codeLenOrder[i]] = uint8(s.bits(3))
	}
	var cl puffCode
	cl.init(lens[:19])
	for i := 0; i < nlen+ndist; {
		sym := s.decode(&cl)
		switch {
		case sym < 0:
			return errors.New("bad code length code")
		case sym < 16:
			lens[i] = uint8(sym)
			i++
		default:
			var v uint8
			var rep int
			switch sym {
			case 16:
				if i == 0 {
					return errors.New("repeat with no length")
				}
				v, rep = lens[i-1], 3+s.bits(2)
			case 17:
				rep = 3 + s.bits(3)
			default:
				rep = 11 + s.bits(7)
			}
			if i+rep > nlen+ndist {
				return errors.New("too many lengths")
			}
			for ; rep > 0; rep-- {
				lens[i] = v
				i++
			}
		}
	}
	lit.init(lens[:nlen])
	dist.init(lens[nlen : nlen+ndist])
	return s.err
}
