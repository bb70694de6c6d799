package deflate

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// ErrTooLarge is returned by Decompressor.Inflate when a message inflates
// to more bytes than the limit set with SetLimit.
var ErrTooLarge = errors.New("deflate: inflated message is larger than the limit")

// ErrCorrupt is wrapped by the errors returned for invalid compressed data.
var ErrCorrupt = errors.New("deflate: invalid compressed data")

var (
	errBlockType   = corrupt("reserved block type 11")
	errStoredLen   = corrupt("stored block length does not match its complement")
	errCounts      = corrupt("too many length or distance codes")
	errCodeLens    = corrupt("invalid code lengths")
	errCode        = corrupt("invalid Huffman code")
	errNoEnd       = corrupt("no code for end-of-block")
	errSymbol      = corrupt("invalid literal/length or distance symbol")
	errTooFar      = corrupt("distance too far back")
	errWindow      = corrupt("distance larger than the negotiated window")
	errTruncated   = corrupt("message ends inside a block (no sync flush)")
	errNeedInput   = errors.New("need input")  // internal: wait for the next call
	errOutputFull  = errors.New("output full") // internal: return what was produced
	messageTrailer = [4]byte{0x00, 0x00, 0xff, 0xff}
)

func corrupt(msg string) error { return &corruptError{msg} }

type corruptError struct{ msg string }

func (e *corruptError) Error() string { return ErrCorrupt.Error() + ": " + e.msg }
func (e *corruptError) Unwrap() error { return ErrCorrupt }

// Decoder states.
const (
	stHeader    = iota // block header
	stStoredLen        // LEN and NLEN of a stored block
	stStored           // stored bytes
	stCounts           // HLIT, HDIST, HCLEN of a dynamic block
	stCLLens           // code length code lengths
	stLens             // literal/length and distance code lengths
	stData             // compressed data
	stCopy             // the rest of a back-reference that did not fit the output
	stEnd              // after a block with BFINAL set: the rest of the message is ignored
)

// A Decompressor inflates the messages of one direction of a connection
// (RFC 7692 §7.2.2). It is a push decoder and does no I/O: Inflate takes the
// compressed payload in whatever pieces frames deliver it and writes
// inflated bytes into the caller's buffer, so that a message never has to
// be held whole, compressed or not.
//
// Memory: with context takeover an idle Decompressor keeps exactly
// 2^windowBits bytes of history. The Huffman tables (about 6 KiB) and,
// without context takeover, the history of the message being read come
// from pools and go back as soon as a message ends.
//
// A Decompressor is not safe for concurrent use.
type Decompressor struct {
	window   int
	takeover bool
	limit    int64

	hist []byte // ring buffer of past output; len(hist) == window when allocated
	head int    // where the next output byte goes in hist
	hlen int    // valid bytes before head (cyclically)

	st       *inflateState
	produced int64
	state    uint8
	last     bool // the current block has BFINAL set
	stored   int  // stored bytes left in the current block
	copyLen  int  // bytes left of a back-reference
	copyDist int

	// Input of the current Inflate call. The bit buffer holds up to 64 bits
	// taken from it; bits above nb are zero.
	src      []byte
	pos      int
	final    bool
	tailLeft int // bytes of the 00 00 ff ff trailer not yet fed (§7.2.2)
	bits     uint64
	nb       uint
}

// inflateState is the pooled part of a Decompressor.
type inflateState struct {
	lit, dist, cl huffDecoder
	litp, distp   *huffDecoder // the codes of the current block: ours or the fixed ones
	lens          [numLitLen + numDist]uint8
	nlit, ndist   int
	ncl, idx      int
	ring          *[]byte // history without context takeover, from ringPools
}

var (
	inflatePool = sync.Pool{New: func() any { return new(inflateState) }}
	ringPools   [8]sync.Pool // by windowBits-8
)

// NewDecompressor returns a Decompressor for a peer whose back-references
// stay within 2^windowBits bytes (8..15, clamped otherwise); a reference
// beyond that window is an error. With contextTakeover, messages may refer
// to earlier messages.
//
// A window of 8 bits is inflated as 9: zlib, behind Node's ws, browsers and
// Python's Autobahn, cannot compress with 256 bytes and silently uses 512
// when told 8, so refusing its references would refuse every such peer.
func NewDecompressor(windowBits int, contextTakeover bool) *Decompressor {
	return &Decompressor{window: 1 << max(clampBits(windowBits), 9), takeover: contextTakeover}
}

// SetLimit sets the largest inflated size of a message; 0 means no limit.
// It applies from the next byte produced.
func (d *Decompressor) SetLimit(n int64) { d.limit = max(n, 0) }

// Inflate decompresses the payload of the current message.
//
// src is the next piece of the compressed payload (unmasked; the tail
// 00 00 ff ff removed by the sender is not expected, §7.2.2) and final
// reports that it is the last: src may then be empty. Inflate writes
// inflated bytes to dst and returns how many (n) and how many bytes of src
// it consumed (nsrc). The unconsumed src[nsrc:] must be passed again.
//
// The results are:
//   - err == nil and n == len(dst): dst is full, call again with more room;
//   - err == nil and nsrc == len(src): more input is needed (at most 8 bytes
//     of it are kept inside the Decompressor meanwhile);
//   - err == io.EOF: the message is complete with these n bytes; the next
//     call starts the next message;
//   - ErrTooLarge: the limit would be exceeded; dst[:n] holds the bytes up
//     to the limit;
//   - an error wrapping ErrCorrupt: the data is invalid (close with 1007
//     or 1002 as the caller sees fit).
//
// After an error other than io.EOF the Decompressor must not be used again
// unless Reset. Inflate does not allocate once the pools are warm.
func (d *Decompressor) Inflate(dst, src []byte, final bool) (n, nsrc int, err error) {
	if d.st == nil {
		d.begin()
	}
	d.src, d.pos, d.final = src, 0, final
	avail, limited := len(dst), false
	if d.limit > 0 {
		if rem := d.limit - d.produced; int64(avail) >= rem {
			avail, limited = int(rem), true
		}
	}
	n, err = d.run(dst[:avail])
	nsrc = d.pos
	d.src = nil
	switch err {
	case nil, errNeedInput, errOutputFull:
		if err == errOutputFull && limited {
			err = ErrTooLarge
		} else {
			err = nil
		}
		d.remember(dst[:n])
		return n, nsrc, err
	case io.EOF:
		d.remember(dst[:n])
		d.end()
		return n, nsrc, io.EOF
	}
	return n, nsrc, err
}

// Reset abandons the message in progress and returns pooled state. With
// context takeover the history is forgotten too, so the peer's next
// message can only be inflated if it was compressed without reference to
// earlier ones: after an error, close the connection instead.
func (d *Decompressor) Reset() {
	if d.st != nil {
		d.end()
	}
	d.head, d.hlen = 0, 0
}

// begin starts a message.
func (d *Decompressor) begin() {
	st := inflatePool.Get().(*inflateState)
	d.st = st
	if !d.takeover {
		p := &ringPools[windowIndex(d.window)]
		r, _ := p.Get().(*[]byte)
		if r == nil {
			b := make([]byte, d.window)
			r = &b
		}
		st.ring = r
		d.hist, d.head, d.hlen = *r, 0, 0
	} else if d.hist == nil {
		d.hist = make([]byte, d.window)
	}
	d.state, d.last, d.produced = stHeader, false, 0
	d.tailLeft, d.bits, d.nb = len(messageTrailer), 0, 0
	d.copyLen, d.stored = 0, 0
}

// end finishes a message and returns pooled state.
func (d *Decompressor) end() {
	st := d.st
	if st.ring != nil {
		ringPools[windowIndex(d.window)].Put(st.ring)
		st.ring = nil
		d.hist, d.head, d.hlen = nil, 0, 0
	}
	inflatePool.Put(st)
	d.st = nil
}

func windowIndex(window int) int {
	i := 0
	for 256<<i < window {
		i++
	}
	return i
}

// remember appends p, the output of one call, to the history ring.
func (d *Decompressor) remember(p []byte) {
	d.produced += int64(len(p))
	w := len(d.hist)
	if len(p) >= w {
		copy(d.hist, p[len(p)-w:])
		d.head, d.hlen = 0, w
		return
	}
	k := copy(d.hist[d.head:], p)
	copy(d.hist, p[k:])
	d.head = (d.head + len(p)) % w
	d.hlen = min(d.hlen+len(p), w)
}

// refill moves input into the bit buffer until it holds more than 56 bits
// or the input is exhausted. After the final piece, the four bytes
// 00 00 ff ff are fed (§7.2.2).
func (d *Decompressor) refill() {
	for d.nb <= 56 {
		if d.pos+8 <= len(d.src) {
			k := (64 - d.nb) >> 3
			v := binary.LittleEndian.Uint64(d.src[d.pos:])
			if k < 8 {
				v &= 1<<(8*k) - 1
			}
			d.bits |= v << d.nb
			d.nb += 8 * k
			d.pos += int(k)
			continue
		}
		var b byte
		switch {
		case d.pos < len(d.src):
			b = d.src[d.pos]
			d.pos++
		case d.final && d.tailLeft > 0:
			b = messageTrailer[len(messageTrailer)-d.tailLeft]
			d.tailLeft--
		default:
			return
		}
		d.bits |= uint64(b) << d.nb
		d.nb += 8
	}
}

// need reports whether the bit buffer holds n bits, refilling it first.
func (d *Decompressor) need(n uint) bool {
	if d.nb < n {
		d.refill()
	}
	return d.nb >= n
}

// short is the error when bits are missing: wait for more input, or the
// message was cut inside a block.
func (d *Decompressor) short() error {
	if d.final {
		return errTruncated
	}
	return errNeedInput
}

func (d *Decompressor) take(n uint) uint32 {
	v := uint32(d.bits & (1<<n - 1))
	d.bits >>= n
	d.nb -= n
	return v
}

// inputDone reports whether every byte of the message, trailer included,
// has entered the bit buffer.
func (d *Decompressor) inputDone() bool {
	return d.final && d.pos == len(d.src) && d.tailLeft == 0
}

// run decodes into out until it is full, the input runs out, the message
// ends (io.EOF) or an error.
func (d *Decompressor) run(out []byte) (int, error) {
	st := d.st
	o := 0
	for {
		switch d.state {
		case stHeader:
			if d.nb == 0 && d.inputDone() {
				return o, io.EOF
			}
			if !d.need(3) {
				return o, d.short()
			}
			v := d.take(3)
			d.last = v&1 == 1
			switch v >> 1 {
			case 0:
				d.state = stStoredLen
			case 1:
				st.litp, st.distp = &fixedLitDec, &fixedDistDec
				d.state = stData
			case 2:
				d.state = stCounts
			default:
				return o, errBlockType
			}

		case stStoredLen:
			d.take(d.nb & 7) // skip to a byte boundary
			if !d.need(32) {
				return o, d.short()
			}
			v := d.take(32)
			if uint16(v) != ^uint16(v>>16) {
				return o, errStoredLen
			}
			d.stored = int(uint16(v))
			d.state = stStored

		case stStored:
			for d.stored > 0 {
				if o == len(out) {
					return o, errOutputFull
				}
				switch {
				case d.nb >= 8:
					out[o] = byte(d.take(8))
					o++
					d.stored--
				case d.pos < len(d.src):
					k := copy(out[o:min(len(out), o+d.stored)], d.src[d.pos:])
					o += k
					d.pos += k
					d.stored -= k
				default:
					d.refill()
					if d.nb < 8 {
						return o, d.short()
					}
				}
			}
			d.endBlock()

		case stCounts:
			if !d.need(14) {
				return o, d.short()
			}
			st.nlit = int(d.take(5)) + 257
			st.ndist = int(d.take(5)) + 1
			st.ncl = int(d.take(4)) + 4
			if st.nlit > numLitLen || st.ndist > numDist {
				return o, errCounts
			}
			st.idx = 0
			clear(st.lens[:numCodeLen])
			d.state = stCLLens

		case stCLLens:
			for ; st.idx < st.ncl; st.idx++ {
				if !d.need(3) {
					return o, d.short()
				}
				st.lens[codeLenOrder[st.idx]] = uint8(d.take(3))
			}
			if !st.cl.init(st.lens[:numCodeLen], clTableBits, clEntries[:]) {
				return o, errCodeLens
			}
			st.idx = 0
			d.state = stLens

		case stLens:
			total := st.nlit + st.ndist
			for st.idx < total {
				// A code length code is at most 7 bits, plus 7 extra bits;
				// refuting an incomplete code may take up to 15 bits.
				d.need(maxBits + 7)
				e, l := st.cl.decode(d.bits, d.nb)
				sym := e >> 16
				if l < 0 {
					return o, errCode
				}
				if l == 0 {
					return o, d.short()
				}
				if sym < 16 {
					d.take(uint(l))
					st.lens[st.idx] = uint8(sym)
					st.idx++
					continue
				}
				var nx uint
				var rep int
				var val uint8
				switch sym {
				case 16:
					if st.idx == 0 {
						return o, errCodeLens
					}
					nx, rep, val = 2, 3, st.lens[st.idx-1]
				case 17:
					nx, rep = 3, 3
				default:
					nx, rep = 7, 11
				}
				if d.nb < uint(l)+nx {
					return o, d.short()
				}
				d.take(uint(l))
				rep += int(d.take(nx))
				if st.idx+rep > total {
					return o, errCodeLens
				}
				for ; rep > 0; rep-- {
					st.lens[st.idx] = val
					st.idx++
				}
			}
			if st.lens[endBlock] == 0 {
				return o, errNoEnd
			}
			if !st.lit.init(st.lens[:st.nlit], litTableBits, litEntries[:]) ||
				!st.dist.init(st.lens[st.nlit:total], distTableBits, distEntries[:]) {
				return o, errCodeLens
			}
			st.litp, st.distp = &st.lit, &st.dist
			d.state = stData

		case stData:
			if err := d.data(out, &o); err != nil {
				return o, err
			}

		case stCopy:
			if o == len(out) {
				return o, errOutputFull
			}
			o = d.copyMatch(out, o, d.copyLen, d.copyDist)
			if d.copyLen == 0 {
				d.state = stData
			}

		case stEnd:
			// A block with BFINAL set ended the DEFLATE stream; what follows
			// in this message (at least the trailer we feed) is ignored.
			d.pos = len(d.src)
			d.bits, d.nb = 0, 0
			if !d.final {
				return o, errNeedInput
			}
			d.tailLeft = 0
			return o, io.EOF
		}
	}
}

// endBlock moves past the end of a block.
func (d *Decompressor) endBlock() {
	if d.last {
		d.state = stEnd
	} else {
		d.state = stHeader
	}
}

// data decodes literals and back-references (RFC 1951 §3.2.5) until the
// end of the block, full output, short input or an error. It returns nil
// when the state changed.
func (d *Decompressor) data(out []byte, op *int) error {
	lit, dist := d.st.litp, d.st.distp
	o := *op
	defer func() { *op = o }()
	for {
		if d.pos+8 <= len(d.src) && len(out)-o >= maxMatch+8 {
			// Then decode one symbol below, the one fast stopped at.
			o = d.fast(out, o)
		}
		// 48 bits hold the longest length/distance pair: 15+5+15+13.
		if d.nb < 48 {
			d.refill()
			if d.nb < 48 && !d.final {
				return errNeedInput
			}
		}
		e, l := lit.decode(d.bits, d.nb)
		if l <= 0 {
			if l < 0 {
				return errCode
			}
			return errTruncated
		}
		if e&entKinds == 0 {
			if o == len(out) {
				return errOutputFull
			}
			out[o] = byte(e >> 16)
			o++
			d.take(uint(l))
			continue
		}
		if e&entEnd != 0 {
			d.take(uint(l))
			d.endBlock()
			return nil
		}
		if e&entInvalid != 0 {
			return errSymbol
		}
		need := uint(l) + uint(e>>4&15)
		if d.nb < need {
			return errTruncated
		}
		length := int(e>>16) + int(d.bits>>uint(l))&(1<<(e>>4&15)-1)
		de, dl := dist.decode(d.bits>>need, d.nb-need)
		if dl <= 0 {
			if dl < 0 {
				return errCode
			}
			return errTruncated
		}
		if de&entInvalid != 0 {
			return errSymbol
		}
		need += uint(dl)
		dx := uint(de >> 4 & 15)
		if d.nb < need+dx {
			return errTruncated
		}
		dst := int(de>>16) + int(d.bits>>need)&(1<<dx-1)
		need += dx
		switch {
		case dst > d.window:
			return errWindow
		case dst > o+d.hlen:
			return errTooFar
		case o == len(out):
			return errOutputFull // decode it again on the next call
		}
		d.take(need)
		o = d.copyMatch(out, o, length, dst)
		if d.copyLen > 0 {
			d.state = stCopy
			return nil
		}
	}
}

// fast is the inner loop of data while at least 8 bytes of input and a
// whole back-reference of output room remain: the bit buffer is refilled
// 8 bytes at a time without checks, and every symbol fits in it. It
// returns before the first symbol that needs care (end of block, a long
// code, an error) or when the input or the room runs low.
func (d *Decompressor) fast(out []byte, o int) int {
	lit, dist := d.st.litp, d.st.distp
	ltab, dtab := lit.table, dist.table
	lmask, dmask := uint64(len(ltab)-1), uint64(len(dtab)-1)
	src, pos := d.src, d.pos
	b, nb := d.bits, d.nb
	for pos+8 <= len(src) && len(out)-o >= maxMatch+8 {
		// Refill to 56..63 bits; the bits above nb are the input bytes
		// that follow, loaded again by the next refill.
		if nb < 56 {
			b |= binary.LittleEndian.Uint64(src[pos:]) << nb
			pos += int(63-nb) >> 3
			nb |= 56
		}

		e := ltab[b&lmask]
		if e&entKinds == 0 && e != 0 {
			// A literal; a second one fits in the bits left (56-15).
			l := uint(e & entLenMask)
			out[o] = byte(e >> 16)
			o++
			b >>= l
			nb -= l
			if e = ltab[b&lmask]; e&entKinds != 0 || e == 0 {
				continue
			}
			l = uint(e & entLenMask)
			out[o] = byte(e >> 16)
			o++
			b >>= l
			nb -= l
			continue
		}
		if e&entBase == 0 {
			break // end of block, a long code or an invalid one: data decides
		}
		// A length and a distance, 48 bits at most: peek, and consume
		// only when the slow path is not needed.
		n := uint(e & entLenMask)
		x := uint(e >> 4 & 15)
		length := int(e>>16) + int(b>>n)&(1<<x-1)
		n += x
		de := dtab[b>>n&dmask]
		if de&entBase == 0 {
			break
		}
		l := uint(de & entLenMask)
		x = uint(de >> 4 & 15)
		dst := int(de>>16) + int(b>>(n+l))&(1<<x-1)
		if dst > d.window || dst > o+d.hlen {
			break // data reports it
		}
		n += l + x
		b >>= n
		nb -= n
		o = d.copyFast(out, o, length, dst)
	}
	d.bits, d.nb, d.pos = b&(1<<nb-1), nb, pos
	return o
}

// copyFast copies a back-reference of length bytes at distance dist into
// out[o:], where at least length+8 bytes of room remain.
func (d *Decompressor) copyFast(out []byte, o, length, dist int) int {
	switch {
	case dist >= 8 && dist <= o:
		// 8 bytes at a time, possibly a few past the end: each load reads
		// bytes already written, as the copy must (overlapping repeats).
		for i := 0; i < length; i += 8 {
			binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[o-dist+i:]))
		}
		return o + length
	case dist <= o:
		end := o + length
		for o < end {
			o += copy(out[o:end], out[o-dist:o])
		}
		return o
	}
	return d.copyMatch(out, o, length, dist)
}

// copyMatch copies a back-reference of length bytes at distance dist into
// out[o:], as much as fits; d.copyLen is left with the rest. The source is
// out itself or, for bytes produced by earlier calls, the history ring.
func (d *Decompressor) copyMatch(out []byte, o, length, dist int) int {
	end := min(o+length, len(out))
	d.copyLen, d.copyDist = length-(end-o), dist
	for o < end {
		if dist <= o {
			// Overlapping copies repeat the last dist bytes: each copy
			// doubles what the next may take.
			o += copy(out[o:end], out[o-dist:o])
			continue
		}
		back := dist - o // bytes before the start of out
		p := d.head - back
		if p < 0 {
			p += len(d.hist)
		}
		o += copy(out[o:end], d.hist[p:p+min(back, len(d.hist)-p)])
	}
	return o
}
