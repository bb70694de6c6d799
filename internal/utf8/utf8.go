// Package utf8 validates UTF-8 incrementally, as RFC 6455 requires for text
// messages and close reasons (§5.6, §8.1).
//
// A WebSocket endpoint must fail the connection as soon as it receives bytes
// that cannot be the start of valid UTF-8 (§8.1: "when an endpoint is to
// interpret a byte stream as UTF-8 but finds that the byte stream is not, in
// fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
// Connection_"), even when the message arrives in fragments and a code point
// is split between them. Validator does this with a few bytes of state.
//
// The accepted language is exactly that of unicode/utf8.Valid: overlong
// encodings, surrogates (U+D800-U+DFFF) and code points above U+10FFFF are
// rejected.
package utf8

import "encoding/binary"

// Each entry of first describes a leading byte: the low three bits hold the
// sequence length (0 for a byte that can never start a sequence), the high
// bits index accept, the range allowed for the byte that follows it.
var first = [256]uint8{}

// accept holds the allowed range of a sequence's second byte. Narrower ranges
// than 80-BF exclude overlong forms (E0, F0), surrogates (ED) and code points
// above U+10FFFF (F4).
var accept = [16]struct{ lo, hi uint8 }{
	{0x80, 0xBF}, // all other leading bytes
	{0xA0, 0xBF}, // E0: excludes overlong 3-byte forms
	{0x80, 0x9F}, // ED: excludes surrogates U+D800-U+DFFF
	{0x90, 0xBF}, // F0: excludes overlong 4-byte forms
	{0x80, 0x8F}, // F4: excludes code points above U+10FFFF
}

func init() {
	for c := 0x00; c < 0x80; c++ {
		first[c] = 1
	}
	// 80-C1 stay 0: continuation bytes and the overlong leads C0, C1.
	for c := 0xC2; c < 0xE0; c++ {
		first[c] = 2
	}
	for c := 0xE0; c < 0xF0; c++ {
		first[c] = 3
	}
	first[0xE0] = 1<<4 | 3
	first[0xED] = 2<<4 | 3
	first[0xF0] = 3<<4 | 4
	first[0xF1], first[0xF2], first[0xF3] = 4, 4, 4
	first[0xF4] = 4<<4 | 4
	// F5-FF stay 0: they could only start code points above U+10FFFF.
}

// Validator checks a UTF-8 stream that arrives in pieces (message fragments,
// partial reads). It fails as soon as the bytes seen so far cannot be the
// start of valid UTF-8, even when a code point is split across calls to
// Write. The zero value is ready to use.
type Validator struct {
	need   uint8 // continuation bytes still expected for the current code point
	lo, hi uint8 // allowed range of the next continuation byte when need > 0
	bad    bool  // the stream is invalid; sticky until Reset
}

// Write feeds p to the validator. It reports false as soon as the stream,
// including p, is no longer a prefix of any valid UTF-8 text; once it has
// reported false it keeps doing so until Reset.
func (v *Validator) Write(p []byte) bool {
	if v.bad {
		return false
	}
	// Finish a code point left incomplete by the previous call.
	for v.need > 0 {
		if len(p) == 0 {
			return true
		}
		if !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	rest, ok := scan(p)
	if !ok {
		v.bad = true
		return false
	}
	// rest is an incomplete code point (at most 3 bytes): keep its state,
	// checking each byte now so that an impossible prefix fails at once.
	for _, c := range rest {
		if !v.step(c) {
			return false
		}
	}
	return true
}

// Complete reports whether the stream so far is valid UTF-8 that ends on a
// code point boundary. Call it at the end of a message.
func (v *Validator) Complete() bool {
	return !v.bad && v.need == 0
}

// IncompleteSuffix returns how many bytes at the end of p start a code point that p does not
// complete (0 to 3). p is assumed to be valid UTF-8 up to those bytes.
func IncompleteSuffix(p []byte) int {
	for i := 1; i <= 3 && i <= len(p); i++ {
		c := p[len(p)-i]
		if c&0xC0 != 0x80 { // not a continuation byte: the last code point starts here
			if size := int(first[c] & 7); size > i {
				return i
			}
			return 0
		}
	}
	return 0
}

// Reset makes v ready for a new stream.
func (v *Validator) Reset() {
	*v = Validator{}
}

// step advances the state by one byte and reports whether the stream is still
// viable.
func (v *Validator) step(c byte) bool {
	if v.need == 0 {
		x := first[c]
		size := x & 7
		if size == 0 {
			v.bad = true
			return false
		}
		if size > 1 {
			r := accept[x>>4]
			v.need, v.lo, v.hi = size-1, r.lo, r.hi
		}
		return true
	}
	if c < v.lo || c > v.hi {
		v.bad = true
		return false
	}
	v.need--
	v.lo, v.hi = 0x80, 0xBF
	return true
}

// Valid reports whether p is entirely valid UTF-8.
func Valid(p []byte) bool {
	rest, ok := scan(p)
	return ok && len(rest) == 0
}

// scan validates the complete code points of p and returns the rest of p. If
// ok is false, rest starts with an invalid sequence; otherwise rest is empty
// or the start of a code point that runs past the end of p, whose bytes scan
// has not checked.
func scan(p []byte) (rest []byte, ok bool) {
	// Capping the capacity spares the compiler from recomputing it at each
	// reslice.
	p = p[:len(p):len(p)]
	for len(p) > 0 {
		c := p[0]
		if c < 0x80 {
			p = p[1:]
			// ASCII usually comes in runs: skip a word, then four words, at
			// a time while no byte has its high bit set.
			// (Comparing with > rather than >= keeps the slices non-empty,
			// which spares the compiler a fixup at each reslice.)
			if len(p) > 8 && word(p)&hiBits == 0 {
				p = p[8:]
				for len(p) > 32 && ((word(p)|word(p[8:]))|(word(p[16:])|word(p[24:])))&hiBits == 0 {
					p = p[32:]
				}
				for len(p) > 8 && word(p)&hiBits == 0 {
					p = p[8:]
				}
			}
			continue
		}
		x := first[c]
		r := accept[x>>4]
		// A sequence cut short by the end of p is reported as ok: Write
		// checks its bytes one by one and keeps the state.
		switch x & 7 {
		case 2:
			if len(p) < 2 || p[1] < r.lo || r.hi < p[1] {
				return p, len(p) < 2
			}
			p = p[2:]
		case 3:
			if len(p) < 3 || p[1] < r.lo || r.hi < p[1] || p[2] < 0x80 || 0xBF < p[2] {
				return p, len(p) < 3
			}
			p = p[3:]
		case 4:
			if len(p) < 4 || p[1] < r.lo || r.hi < p[1] || p[2] < 0x80 || 0xBF < p[2] || p[3] < 0x80 || 0xBF < p[3] {
				return p, len(p) < 4
			}
			p = p[4:]
		default: // a continuation byte or one that never starts a sequence
			return p, false
		}
	}
	return nil, true
}

const hiBits = 0x8080808080808080

// word loads 8 bytes of p in an order that does not matter to hiBits tests.
func word(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }
