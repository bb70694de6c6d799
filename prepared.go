//go:build !js

package wsx

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
)

// A PreparedMessage is a message framed once, to be written to many connections with
// WritePrepared, as a server broadcasting to its clients does.
//
// A server's frames are unmasked (§5.1), so one frame serves every server-side connection
// and goes out without a copy. With permessage-deflate, a connection whose compressor keeps
// no history between messages (server_no_context_takeover was negotiated, or
// CompressionOptions.NoContextTakeover is set) takes a frame compressed once per distinct
// window and level, on the first write that needs it, and shared from then on. A connection
// with context takeover cannot share: its compressor's output depends on what it sent
// before, so the message is compressed again for it, at the cost of a Write. A server that
// broadcasts to many clients should therefore set NoContextTakeover.
//
// A client masks every frame with a fresh key (§5.3): on a client-side connection each message
// goes out as Write sends it, masked in the connection's write buffer, one write per message.
//
// A PreparedMessage is safe for concurrent use.
type PreparedMessage struct {
	op       frame.Opcode
	compress bool   // Uncompressed was not given
	frame    []byte // the unmasked, uncompressed frame: header then payload
	hlen     int    // the header's length in frame

	mu         sync.Mutex                      // serialises compressing
	compressed atomic.Pointer[compressedFrame] // compressed frames, newest first
}

// compressedFrame is a PreparedMessage compressed for one window and level.
type compressedFrame struct {
	windowBits, level int
	frame             []byte // unmasked, RSV1 set (RFC 7692 §6)
	hlen              int
	next              *compressedFrame
}

// NewPreparedMessage frames a copy of data as one message of type typ; opts are those of
// Write (Uncompressed). A text message must be valid UTF-8 (§5.6, §8.1): one that is not is
// refused here, before anything is sent.
func NewPreparedMessage(typ MessageType, data []byte, opts ...WriteOption) (*PreparedMessage, error) {
	op, err := messageOpcode(typ)
	if err != nil {
		return nil, err
	}
	if typ == MessageText {
		if err := engine.CheckText(data); err != nil {
			return nil, fmt.Errorf("wsx: %w", err)
		}
	}
	m := &PreparedMessage{op: op, compress: !uncompressed(opts)}
	m.frame, m.hlen = frameOf(frame.Header{Fin: true, Opcode: op, Length: int64(len(data))}, data)
	return m, nil
}

// frameOf returns an unmasked frame with header h, whose length is len(payload), and the
// header's size.
func frameOf(h frame.Header, payload []byte) ([]byte, int) {
	n := frame.Size(h.Length, false)
	b := make([]byte, n+len(payload))
	frame.Put(b, h)
	copy(b[n:], payload)
	return b, n
}

// payload returns the message's data.
func (m *PreparedMessage) payload() []byte { return m.frame[m.hlen:] }

// compressedFor returns the message compressed for connections whose compressors have no
// context takeover, this window and this level, compressing it on first use.
func (m *PreparedMessage) compressedFor(windowBits, level int) *compressedFrame {
	if f := m.findCompressed(windowBits, level); f != nil {
		return f
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.findCompressed(windowBits, level); f != nil {
		return f // another writer got here first
	}
	p := deflate.NewCompressor(windowBits, false, level).AppendMessage(nil, m.payload())
	f := &compressedFrame{windowBits: windowBits, level: level, next: m.compressed.Load()}
	f.frame, f.hlen = frameOf(frame.Header{Fin: true, Rsv: frame.Rsv1, Opcode: m.op, Length: int64(len(p))}, p)
	m.compressed.Store(f)
	return f
}

func (m *PreparedMessage) findCompressed(windowBits, level int) *compressedFrame {
	for f := m.compressed.Load(); f != nil; f = f.next {
		if f.windowBits == windowBits && f.level == level {
			return f
		}
	}
	return nil
}

// WritePrepared sends msgs, in order, each as one message, in as few system calls as the
// connection allows: on a server-side TCP connection, one write of the shared frames for the
// whole list (frames under 4 KiB are gathered into one buffer, larger ones are written from
// where they lie, by a vectored write). It follows the rules of Write: ctx bounds the call,
// including the wait for other writers; the messages never go between the fragments of a
// message being sent with Writer, nor after Close; a write that fails part-way closes the
// connection, and one that expires before anything went out changes nothing (unless a
// message was compressed with context takeover, whose compressor has then moved on).
func (c *Conn) WritePrepared(ctx context.Context, msgs ...*PreparedMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := c.w.msgLock.lock(ctx); err != nil {
		return err
	}
	c.beginSend()
	defer c.endMessage()
	if c.client {
		return c.writePreparedEach(ctx, msgs)
	}
	w := preparedWrites.Get().(*preparedWrite)
	defer w.release()
	intact := true
	for _, m := range msgs {
		f := m.frame
		if m.compress && c.w.eng.Compresses(len(m.payload())) {
			comp := c.w.eng.Compressor()
			bits, level, ok := comp.Shareable()
			if !ok {
				// Context takeover: this connection's own compressor, as in Write.
				intact = false
				w.addOwn(m.op, comp.AppendMessage(w.startOwn(), m.payload()))
				continue
			}
			f = m.compressedFor(bits, level).frame
		}
		if len(f) < copyBelow {
			w.addCopy(f)
		} else {
			w.frames = append(w.frames, f)
		}
	}
	w.collect()
	return c.writeFrames(ctx, &w.bufs, intact)
}

// writePreparedEach sends msgs on a client-side connection, each as Write would: the engine
// masks every frame with a fresh key (§5.3), in the write buffer. The caller holds msgLock.
func (c *Conn) writePreparedEach(ctx context.Context, msgs []*PreparedMessage) error {
	for _, m := range msgs {
		p, rsv := m.payload(), byte(0)
		if m.compress && c.w.eng.Compresses(len(p)) {
			comp := c.w.eng.Compressor()
			bits, level, ok := comp.Shareable()
			if !ok {
				bp := compressBuffers.Get().(*[]byte)
				*bp = comp.AppendMessage((*bp)[:0], p)
				err := c.writeData(ctx, m.op, frame.Rsv1, true, *bp)
				compressBuffers.Put(bp)
				if err != nil {
					return err
				}
				continue
			}
			cf := m.compressedFor(bits, level)
			p, rsv = cf.frame[cf.hlen:], frame.Rsv1
		}
		if err := c.writeData(ctx, m.op, rsv, true, p); err != nil {
			return err
		}
	}
	return nil
}

// preparedWrite is the scratch state of one WritePrepared call, pooled so that a steady
// stream of writes allocates nothing.
type preparedWrite struct {
	frames [][]byte // shared frames, and nil for each frame made in own
	spans  []span   // where the frames made in own lie, in order
	own    []byte   // frames copied or made for this connection (compressed with takeover)
	iov    [][]byte // what to write; bufs is consumed by the write, iov keeps the array
	bufs   net.Buffers
}

// copyBelow is the size under which a shared frame is copied next to its neighbours rather
// than written from where it lies. A list of frames that are all copied goes out by a plain
// write, which costs less than a vectored one: net's writev takes a deeper stack (a writer
// goroutine that starts small grows it every time) and wsx arms the write's stall bound (a
// deadline, so a timer) on every vectored write. Copying 32 frames of 1 KiB instead took a
// hub's writes from 1,195 to 554 instructions per delivered message (callgrind, wsxbench
// fan1k). A run of small messages also keeps its iovec count low: Go's poller keeps, per
// socket and for good, an iovec array as large as the largest vectored write it made.
const copyBelow = 4 << 10

// span is where one frame lies in preparedWrite.own.
type span struct{ start, end int }

var preparedWrites = sync.Pool{New: func() any { return new(preparedWrite) }}

// maxPooledOwn is the largest own buffer kept in the pool: a rare huge message must not
// pin its size in memory for good.
const maxPooledOwn = 256 << 10

// startOwn returns own with room for the largest header at its end: the caller appends a
// payload to it and passes the result to addOwn.
func (w *preparedWrite) startOwn() []byte {
	return append(w.own, make([]byte, frame.MaxHeaderSize)...)
}

// addOwn completes a frame whose payload b holds after the room startOwn made: the header
// (unmasked: a server's) goes right in front of the payload.
func (w *preparedWrite) addOwn(op frame.Opcode, b []byte) {
	pstart := len(w.own) + frame.MaxHeaderSize
	n := len(b) - pstart
	start := pstart - frame.Size(int64(n), false)
	frame.Put(b[start:], frame.Header{Fin: true, Rsv: frame.Rsv1, Opcode: op, Length: int64(n)})
	// Close the gap a header shorter than the room leaves, so that the frames in own stay
	// contiguous and consecutive ones go out as one buffer.
	if gap := start - len(w.own); gap > 0 {
		copy(b[len(w.own):], b[start:])
		b = b[:len(b)-gap]
	}
	w.spans = append(w.spans, span{len(w.own), len(b)})
	w.frames = append(w.frames, nil)
	w.own = b
}

// addCopy copies a shared frame into own.
func (w *preparedWrite) addCopy(f []byte) {
	w.spans = append(w.spans, span{len(w.own), len(w.own) + len(f)})
	w.frames = append(w.frames, nil)
	w.own = append(w.own, f...)
}

// collect makes bufs the frames to write: the shared ones as they are, those in own
// resolved now that own has stopped moving, consecutive ones as one buffer.
func (w *preparedWrite) collect() {
	k := 0
	for i, f := range w.frames {
		switch {
		case f != nil:
			w.iov = append(w.iov, f)
		case i > 0 && w.frames[i-1] == nil:
			last := w.iov[len(w.iov)-1]
			w.iov[len(w.iov)-1] = last[:len(last)+w.spans[k].end-w.spans[k].start]
			k++
		default:
			w.iov = append(w.iov, w.own[w.spans[k].start:w.spans[k].end])
			k++
		}
	}
	w.bufs = w.iov
}

// release drops the references to frames and goes back to the pool.
func (w *preparedWrite) release() {
	clear(w.frames)
	clear(w.iov)
	w.frames, w.spans, w.iov, w.bufs = w.frames[:0], w.spans[:0], w.iov[:0], nil
	w.own = w.own[:0]
	if cap(w.own) > maxPooledOwn {
		w.own = nil
	}
	preparedWrites.Put(w)
}
