package deflate

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// Compression levels accepted by NewCompressor.
const (
	BestSpeed          = 1 // greedy matching, skips quickly over incompressible data
	DefaultCompression = 5 // greedy matching, every position indexed
	BestCompression    = 9 // adds one step of lazy matching
)

const (
	maxTokens  = 1 << 13 // tokens per DEFLATE block
	maxPending = 1 << 16 // input bytes buffered before a streaming Write compresses them
	// A token is a run of literals (its length, below matchFlag) or a
	// back-reference: matchFlag | distance symbol<<23 | (len-3)<<15 | (dist-1).
	matchFlag = 1 << 31
)

// A Compressor compresses the messages of one direction of a connection as
// RFC 7692 §7.2.1 requires: each message is a sequence of DEFLATE blocks
// ending with an empty stored block whose last four octets, 00 00 ff ff, are
// removed. No back-reference reaches further than 2^windowBits bytes, so
// the peer can inflate with exactly the window it asked for
// (server_max_window_bits / client_max_window_bits, §7.1.2).
//
// With context takeover (§7.1.1) a message may refer to the previous ones;
// between messages the Compressor then keeps only the last 2^windowBits
// bytes of history and a hash table of 2^(windowBits-2) 16-bit entries (up
// to 16 KiB). Everything else — token buffer, Huffman tables, work buffer —
// comes from a pool for the duration of one message. Without context
// takeover an idle Compressor holds no buffer at all.
//
// A Compressor is not safe for concurrent use.
type Compressor struct {
	window   int  // 1 << windowBits
	hashBits uint // log2 of the hash table size
	takeover bool
	level    int

	hist  []byte   // context takeover: the last <= window bytes sent
	table []uint16 // context takeover: hash of 4 bytes -> low 16 bits of their stream offset
	off   uint32   // stream offset of the next input byte, modulo 2^32

	st *encState // pooled state while a message is in progress
}

// encState is the per-message state of a Compressor, pooled between
// messages.
type encState struct {
	bw       bitWriter
	tokens   [maxTokens]uint32
	ntok     int
	litFreq  [numLitLen]uint32
	distFreq [numDist]uint32

	huff      huffBuilder
	litLens   [numLitLen]uint8
	distLens  [numDist]uint8
	litCodes  [288]hcode
	distCodes [numDist]hcode
	clSeq     [numLitLen + numDist]uint16 // code length symbols: sym | extra<<5
	clFreq    [numCodeLen]uint32
	clLens    [numCodeLen]uint8
	clCodes   [numCodeLen]hcode
	dyn       dynCode // what the fields above describe

	table [1 << maxHashBits]uint16 // hash table used without context takeover
	// buf is the streaming work buffer: buf[:hlen] is history the next
	// input may refer to, buf[hlen:] input not compressed yet.
	buf  []byte
	hlen int
}

// dynCode describes the last dynamic Huffman code built, kept with the
// pooled state so that similar blocks can use it again without building
// and assigning codes.
type dynCode struct {
	valid                  bool
	nlit, ndist, ncl, nseq int
	headerBits             int // after the 3-bit block header
	// rate is the code's cost on the block it was built for, in 1/1024
	// of that block's entropy.
	rate int
}

const (
	minHashBits = 8
	maxHashBits = 13
)

var encPool = sync.Pool{New: func() any { return new(encState) }}

// NewCompressor returns a Compressor whose back-references stay within
// 2^windowBits bytes (windowBits is 8..15, clamped otherwise). With
// contextTakeover, messages may refer to earlier messages. level is one of
// BestSpeed..BestCompression; other values mean DefaultCompression.
func NewCompressor(windowBits int, contextTakeover bool, level int) *Compressor {
	windowBits = clampBits(windowBits)
	if level < BestSpeed || level > BestCompression {
		level = DefaultCompression
	}
	return &Compressor{
		window:   1 << windowBits,
		hashBits: uint(min(max(windowBits-2, minHashBits), maxHashBits)),
		takeover: contextTakeover,
		level:    level,
	}
}

func clampBits(b int) int { return min(max(b, 8), 15) }

// Shareable reports whether c keeps no history between messages (no context
// takeover, §7.1.1), and returns its window bits and level. Such a
// Compressor's output refers to nothing outside the message and nothing
// further back than its window, so a message compressed once by
// NewCompressor(windowBits, false, level) may go in its place to every
// connection whose Compressor reports the same (a broadcast).
func (c *Compressor) Shareable() (windowBits, level int, ok bool) {
	return bits.TrailingZeros(uint(c.window)), c.level, !c.takeover
}

// AppendMessage compresses msg as one whole message and appends its
// payload, without the trailing 00 00 ff ff (§7.2.1), to dst. A message
// begun with Write must be finished first.
func (c *Compressor) AppendMessage(dst, msg []byte) []byte {
	if c.st == nil && !c.takeover {
		// Nothing to remember: compress straight from msg, no copy.
		e := c.begin(dst)
		e.compress(c, msg, 0, len(msg), c.off, e.table[:1<<c.hashBits])
		c.off += uint32(len(msg))
		return c.finish(e)
	}
	return c.Finish(c.Write(dst, msg))
}

// Write compresses p as the next part of the current message (starting one
// if none is in progress) and appends to dst whatever compressed output is
// ready, which may be nothing: input is buffered up to 64 KiB. Use it for
// fragmented messages, then call Finish.
func (c *Compressor) Write(dst, p []byte) []byte {
	e := c.begin(dst)
	if e.buf == nil {
		e.buf = make([]byte, 0, maxDistance+maxPending)
	}
	if len(e.buf) == 0 && c.takeover {
		e.buf = append(e.buf, c.hist...)
		e.hlen = len(c.hist)
	}
	for len(p) > 0 {
		// The work buffer holds at most window bytes of history plus
		// maxPending bytes of input.
		n := min(len(p), c.window+maxPending-len(e.buf))
		e.buf = append(e.buf, p[:n]...)
		p = p[n:]
		if len(e.buf) == c.window+maxPending {
			c.compressPending(e)
		}
	}
	out := e.bw.out
	e.bw.out = nil
	return out
}

// Flush appends to dst the compressed form of everything written so far in
// the current message, ending with an empty stored block (its 00 00 ff ff
// included: the message goes on), so that the peer can inflate all of it
// before the message ends.
func (c *Compressor) Flush(dst []byte) []byte {
	e := c.begin(dst)
	if e.buf != nil {
		c.compressPending(e)
	}
	e.syncMarker()
	e.bw.out = append(e.bw.out, 0, 0, 0xff, 0xff)
	out := e.bw.out
	e.bw.out = nil
	return out
}

// Finish ends the current message (an empty one if none was begun) and
// appends the rest of its payload, without the trailing 00 00 ff ff
// (§7.2.1), to dst.
func (c *Compressor) Finish(dst []byte) []byte {
	e := c.begin(dst)
	if e.buf != nil {
		c.compressPending(e)
		if c.takeover {
			c.hist = append(c.hist[:0], e.buf[len(e.buf)-min(len(e.buf), c.window):]...)
		}
		e.buf, e.hlen = e.buf[:0], 0
	}
	return c.finish(e)
}

// Reset abandons the message in progress, if any, and forgets the history:
// the next message starts with an empty window as after no context
// takeover. It returns pooled state.
func (c *Compressor) Reset() {
	if c.st != nil {
		c.st.bw = bitWriter{}
		c.st.ntok = 0
		clear(c.st.litFreq[:])
		clear(c.st.distFreq[:])
		c.st.buf, c.st.hlen = c.st.buf[:0], 0
		encPool.Put(c.st)
		c.st = nil
	}
	c.hist = c.hist[:0]
}

// begin returns the state of the message in progress, starting one if
// needed, with dst as the output.
func (c *Compressor) begin(dst []byte) *encState {
	e := c.st
	if e == nil {
		e = encPool.Get().(*encState)
		c.st = e
		if c.takeover && c.table == nil {
			c.table = make([]uint16, 1<<c.hashBits)
		}
	}
	e.bw.out = dst
	return e
}

// finish ends the message: the last block, then the empty stored block of a
// sync flush minus its 00 00 ff ff (§7.2.1), then pooled state goes back.
func (c *Compressor) finish(e *encState) []byte {
	e.syncMarker()
	out := e.bw.out
	e.bw.out = nil
	encPool.Put(e)
	c.st = nil
	return out
}

// compressPending compresses the buffered input and slides the window.
func (c *Compressor) compressPending(e *encState) {
	if len(e.buf) == e.hlen {
		return
	}
	table := c.table
	if !c.takeover {
		table = e.table[:1<<c.hashBits]
	}
	base := c.off - uint32(e.hlen)
	e.compress(c, e.buf, e.hlen, len(e.buf), base, table)
	c.off += uint32(len(e.buf) - e.hlen)
	// Keep the last window bytes as history for what follows.
	keep := min(len(e.buf), c.window)
	n := copy(e.buf, e.buf[len(e.buf)-keep:])
	e.buf, e.hlen = e.buf[:n], n
}

// syncMarker flushes the pending block and writes the header of an empty
// stored block, padded to a byte boundary: with 00 00 ff ff after it, this
// is a sync flush.
func (e *encState) syncMarker() {
	e.bw.write(0, 3) // BFINAL=0, BTYPE=00
	e.bw.align()
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// hash4 hashes the 4 low bytes of x, the shortest match the encoder looks
// for, into a table index of 32-shift bits.
func hash4(x uint64, shift uint) uint32 { return (uint32(x) * 0x1e35a7bd) >> shift }

// compress turns buf[start:end] into tokens and blocks. buf[:start] is
// history that back-references may reach; buf[i] has stream offset base+i,
// whose low 16 bits the hash table stores. Entries may be stale (from
// another message or another connection when the table is pooled): a
// candidate is used only after its bytes are compared, and never further
// than the window, so stale entries cost matches, never correctness.
//
// The search is greedy, one candidate per position: every position is
// looked up until 32 in a row fail, then the step grows by one every 32
// failures (every 256 above BestSpeed), so incompressible input is crossed
// quickly; growing linearly rather than with the distance, the step is
// still small when compressible data follows. Matches are extended
// backwards over the literals before them. BestCompression adds one step
// of lazy matching.
func (e *encState) compress(c *Compressor, buf []byte, start, end int, base uint32, table []uint16) {
	window := c.window
	shift := 32 - c.hashBits
	skipShift := uint(5)
	if c.level > BestSpeed {
		skipShift = 8
	}
	indexAll := c.level >= DefaultCompression
	lazy := c.level >= BestCompression
	bstart, emit := start, start // block start, first byte not yet tokenized
	s := start
	// le64 at s needs 8 bytes; the last few bytes go out as literals.
	for limit := end - 8; s <= limit; {
		// Look for a match at s, s+step, ...
		var d int
		misses := 0
		for {
			x := le64(buf[s:])
			h := hash4(x, shift)
			cur := uint16(base + uint32(s))
			d = int(cur - table[h])
			table[h] = cur
			if d != 0 && d <= window && d <= s && le32(buf[s-d:]) == uint32(x) {
				break
			}
			misses++
			s += 1 + misses>>skipShift
			if s > limit {
				goto tail
			}
		}
		// Extend backwards over pending literals, then forwards.
		for s > emit && s > d && buf[s-1] == buf[s-1-d] {
			s--
		}
		n := minMatch + matchLen(buf[s+minMatch:min(end, s+maxMatch)], buf[s-d+minMatch:])
		if lazy && n < 32 && s+1 <= limit {
			// Prefer a longer match starting one byte later.
			x1 := le64(buf[s+1:])
			h1 := hash4(x1, shift)
			cur1 := uint16(base + uint32(s+1))
			d1 := int(cur1 - table[h1])
			table[h1] = cur1
			if d1 > 0 && d1 <= window && d1 <= s+1 && le32(buf[s+1-d1:]) == uint32(x1) {
				if n1 := minMatch + matchLen(buf[s+1+minMatch:min(end, s+1+maxMatch)], buf[s+1-d1+minMatch:]); n1 > n+1 {
					s, n, d = s+1, n1, d1
				}
			}
		}
		if e.ntok >= maxTokens-2 {
			e.addLiterals(buf[emit:s])
			e.flushBlock(buf[bstart:s])
			bstart, emit = s, s
		}
		e.addLiterals(buf[emit:s])
		e.addMatch(n, d)
		// Index positions inside the match so later data can refer to
		// them: all of them from DefaultCompression, else the last two.
		from := s + 1
		if !indexAll {
			from = s + n - 2
		}
		s += n
		emit = s
		for j := from; j < s && j <= limit; j++ {
			table[hash4(le64(buf[j:]), shift)] = uint16(base + uint32(j))
		}
	}
tail:
	e.addLiterals(buf[emit:end])
	e.flushBlock(buf[bstart:end])
}

// matchLen returns the length of the common prefix of a and b;
// len(b) >= len(a).
func matchLen(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 {
		if x := le64(a[n:]) ^ le64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

// addLiterals adds lit as one run of literals.
func (e *encState) addLiterals(lit []byte) {
	if len(lit) == 0 {
		return
	}
	e.tokens[e.ntok] = uint32(len(lit))
	e.ntok++
	for _, b := range lit {
		e.litFreq[b]++
	}
}

func (e *encState) addMatch(n, d int) {
	ds := distSymbol(d)
	e.tokens[e.ntok] = matchFlag | uint32(ds)<<23 | uint32(n-3)<<15 | uint32(d-1)
	e.ntok++
	e.litFreq[257+int(lengthCode[n-3])]++
	e.distFreq[ds]++
}
