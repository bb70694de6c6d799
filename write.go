//go:build !js

package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// Write sends p as one message of type typ. It is safe to call from several goroutines at once;
// messages go out whole, one after another. Text must be UTF-8 (§8.1): Write refuses text that
// is not, before anything goes out.
//
// ctx bounds the call, including the wait for other writers. A write that expires part-way
// through a frame leaves the peer with a broken frame, so the connection is closed; one that
// expires before anything went out changes nothing. A write that fails because the peer went
// away ends the sending side; reads go on, to report the peer's Close if it sent one.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte, opts ...WriteOption) error {
	op, err := messageOpcode(typ)
	if err != nil {
		return err
	}
	if typ == MessageText && !utf8.Valid(p) {
		return errInvalidText
	}
	if err := c.w.msgLock.lock(ctx); err != nil {
		return err
	}
	c.beginSend()
	c.writeBuffer() // here, where the stack has room for the allocator if the pool is empty
	if c.w.eng.Compresses(len(p)) && !uncompressed(opts) {
		err = c.writeCompressedMessage(ctx, op, p)
	} else {
		err = c.writeData(ctx, op, 0, true, p)
	}
	c.endMessage()
	return err
}

// writeCompressedMessage compresses p whole and sends it as one frame. The caller holds msgLock.
func (c *Conn) writeCompressedMessage(ctx context.Context, op frame.Opcode, p []byte) error {
	bp := compressBuffers.Get().(*[]byte)
	*bp = c.w.eng.Compressor().AppendMessage((*bp)[:0], p)
	err := c.writeData(ctx, op, frame.Rsv1, true, *bp)
	compressBuffers.Put(bp)
	return err
}

// compressBuffers hold compressed messages while they are written.
var compressBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Writer returns a writer for one message of type typ, sent in fragments (§5.4) as its buffer
// fills; Close sends the final fragment. Until then other data messages wait (control frames
// may still go between the fragments). ctx bounds every call on the writer. With compression
// on, a streamed message is compressed whatever its size, unless Uncompressed is given.
//
// Text is checked as it is written: Write refuses bytes that are not UTF-8, and a code point
// split between two Writes goes out whole with the second. Close reports a message that ends
// inside a code point, whose last bytes are then not sent.
func (c *Conn) Writer(ctx context.Context, typ MessageType, opts ...WriteOption) (io.WriteCloser, error) {
	op, err := messageOpcode(typ)
	if err != nil {
		return nil, err
	}
	if err := c.w.msgLock.lock(ctx); err != nil {
		return nil, err
	}
	c.beginSend()
	c.w.msg = messageState{c: c, ctx: ctx, op: op, compress: c.w.eng.Compressing() && !uncompressed(opts)}
	c.w.writerClosed = false
	return (*messageWriter)(c), nil
}

// messageOpcode returns the opcode for a message type.
func messageOpcode(typ MessageType) (frame.Opcode, error) {
	if typ != MessageText && typ != MessageBinary {
		return 0, fmt.Errorf("wsx: cannot write a message of type %v", typ)
	}
	return frame.Opcode(typ), nil
}

// messageWriter is the io.WriteCloser that Writer returns: the connection itself, whose sending
// side holds the message (messageState) until Close.
type messageWriter Conn

// messageState is the message a messageWriter writes. Its bytes are buffered in the
// connection's write buffer, after room for the frame header, so that each fragment goes out in
// one write. A compressed message goes through the compressor instead, and out as the
// compressor produces it. Of text, the bytes of a code point not complete yet stay back until
// the bytes that complete it come: in the buffer, or in tail before the compressor.
type messageState struct {
	c        *Conn
	ctx      context.Context
	n        int   // payload bytes buffered in c.w.buf[frame.MaxHeaderSize:]
	err      error // the first error: the message cannot go on
	op       frame.Opcode
	compress bool
	ntail    uint8
	tail     [3]byte
}

// errWriterClosed is the answer of a message writer after its Close.
var errWriterClosed = errors.New("wsx: write to a closed message writer")

// state returns the message the writer writes, or nil after the writer's Close.
func (mw *messageWriter) state() *messageState {
	c := (*Conn)(mw)
	if c.w.writerClosed {
		return nil
	}
	return &c.w.msg
}

func (mw *messageWriter) Write(p []byte) (int, error) {
	w := mw.state()
	if w == nil {
		return 0, errWriterClosed
	}
	return w.write(p)
}

// Close sends the final fragment and lets the next message go.
func (mw *messageWriter) Close() error {
	w := mw.state()
	if w == nil {
		return errors.New("wsx: message writer closed twice")
	}
	w.c.w.writerClosed = true
	return w.close()
}

func (w *messageState) write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.op == frame.OpText {
		if err := w.c.w.eng.StreamText(p); err != nil {
			w.err = fmt.Errorf("wsx: %w", err)
			return 0, w.err
		}
	}
	if w.compress {
		if err := w.writeCompressed(p, false); err != nil {
			return 0, w.fail(err)
		}
		return len(p), nil
	}
	c := w.c
	buf := c.writeBuffer()[frame.MaxHeaderSize:]
	written := 0
	for len(p) > 0 {
		if w.n == 0 && len(p) >= len(buf) {
			// A large write goes out as a fragment of its own, without a copy.
			k := w.keep(p)
			if err := c.writeData(w.ctx, w.op, 0, false, p[:len(p)-k]); err != nil {
				return written, w.fail(err)
			}
			w.n = copy(buf, p[len(p)-k:])
			return written + len(p), nil
		}
		k := copy(buf[w.n:], p)
		w.n += k
		p = p[k:]
		written += k
		if w.n == len(buf) {
			if err := w.flush(false); err != nil {
				return written, w.fail(err)
			}
		}
	}
	return written, nil
}

// keep returns how many bytes at the end of p must stay back: those of a text code point not
// complete yet.
func (w *messageState) keep(p []byte) int {
	if w.op != frame.OpText {
		return 0
	}
	return utf8.IncompleteSuffix(p)
}

func (w *messageState) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// close sends the final fragment, forgets the message and lets the next one go.
func (w *messageState) close() error {
	defer func(c *Conn) {
		*w = messageState{} // its context must not outlive it
		c.endMessage()
	}(w.c)
	var textErr error
	if w.op == frame.OpText {
		if err := w.c.w.eng.EndText(); err != nil && w.err == nil {
			// The incomplete code point stays back: what goes out is valid.
			textErr = fmt.Errorf("wsx: %w", err)
			w.ntail = 0
			w.n -= w.keep(w.c.writeBuffer()[frame.MaxHeaderSize : frame.MaxHeaderSize+w.n])
		}
	}
	var err error
	if w.compress {
		err = w.writeCompressed(nil, true)
	} else {
		err = w.flush(true)
	}
	return errors.Join(w.err, textErr, err)
}

// flush sends the buffered bytes as the next fragment, all of them when it is the final one.
func (w *messageState) flush(fin bool) error {
	buf := w.c.writeBuffer()[frame.MaxHeaderSize:]
	n, k := w.n, 0
	if !fin {
		k = w.keep(buf[:n])
	}
	if err := w.c.writeData(w.ctx, w.op, 0, fin, buf[:n-k]); err != nil {
		return err
	}
	w.n = copy(buf, buf[n-k:n])
	return nil
}

// writeCompressed compresses p as the next part of the message, or finishes the message, and
// sends what the compressor has ready as the next fragment (RSV1 on the first frame only,
// RFC 7692 §6.1).
func (w *messageState) writeCompressed(p []byte, fin bool) error {
	comp := w.c.w.eng.Compressor()
	bp := compressBuffers.Get().(*[]byte)
	defer compressBuffers.Put(bp)
	out := (*bp)[:0]
	if w.op == frame.OpText && !fin {
		// The compressor takes a code point only whole: the start of one waits in tail.
		if len(p) < 3 {
			var b [6]byte
			m := copy(b[:], w.tail[:w.ntail])
			m += copy(b[m:], p)
			k := utf8.IncompleteSuffix(b[:m])
			out = comp.Write(out, b[:m-k])
			w.ntail = uint8(copy(w.tail[:], b[m-k:m]))
		} else {
			out = comp.Write(out, w.tail[:w.ntail])
			k := utf8.IncompleteSuffix(p)
			out = comp.Write(out, p[:len(p)-k])
			w.ntail = uint8(copy(w.tail[:], p[len(p)-k:]))
		}
	} else if fin {
		out = comp.Write(out, w.tail[:w.ntail])
		w.ntail = 0
		out = comp.Finish(out)
	} else {
		out = comp.Write(out, p)
	}
	*bp = out
	if len(out) == 0 && !fin {
		return nil // the compressor is still collecting input
	}
	return w.c.writeData(w.ctx, w.op, frame.Rsv1, fin, out)
}

// writeData sends one data frame. The caller holds msgLock. When p lies in c.w.buf right after
// frame.MaxHeaderSize bytes of room, the header is put in front of it and the frame goes out
// in one write. (One function with one exit and no defers: the frames under the write's system
// calls must stay small, see rawconn_unix.go.)
func (c *Conn) writeData(ctx context.Context, op frame.Opcode, rsv byte, fin bool, p []byte) error {
	if err := c.w.frameLock.lock(ctx); err != nil {
		return err
	}
	var err error
	switch {
	case c.w.err != nil: // first: why a failed write closed the connection
		err = c.w.err
	case c.closing.closed.Load():
		err = errClosed
	default:
		var h frame.Header
		if h, err = c.w.eng.Data(op, rsv, fin, int64(len(p))); err != nil {
			err = errClosed // §5.5.1: no data frames after a Close frame
			break
		}
		if c.hold(h, p) {
			break
		}
		if err = c.w.dl.begin(ctx); err != nil {
			c.w.eng.Undo(h)
			break
		}
		if c.w.held != nil {
			err = c.flushHeldLocked()
		}
		if err == nil {
			var n int64
			if n, err = c.writeFrame(h, p); err != nil {
				err = c.dataWriteFailed(ctx, h, n, err)
			}
		}
		c.w.dl.end()
	}
	c.w.frameLock.unlock()
	return err
}

// writeFrames writes whole server frames made by the caller (prepared.go) under the
// connection's write locks; the caller holds msgLock. They go out in one system call where the
// connection allows it: a plain write for one buffer, a vectored one for several. When intact
// is set and nothing went out before ctx expired, the connection carries on, as in writeData;
// otherwise a failed write ends it.
func (c *Conn) writeFrames(ctx context.Context, frames *net.Buffers, intact bool) error {
	if err := c.w.frameLock.lock(ctx); err != nil {
		return err
	}
	err := c.sendFrames(ctx, frames, intact)
	c.w.frameLock.unlock()
	return err
}

// sendFrames is writeFrames for a caller holding frameLock.
func (c *Conn) sendFrames(ctx context.Context, frames *net.Buffers, intact bool) error {
	switch {
	case c.w.err != nil:
		return c.w.err
	case c.closing.closed.Load(), c.w.eng.CloseSent():
		return errClosed // §5.5.1: no data frames after a Close frame
	}
	if err := c.w.dl.begin(ctx); err != nil {
		return err
	}
	if c.w.held != nil {
		if err := c.flushHeldLocked(); err != nil { // held frames go first
			c.w.dl.end()
			return err
		}
	}
	var n int64
	var err error
	if len(*frames) == 1 {
		var k int
		k, err = c.write((*frames)[0])
		n = int64(k)
	} else {
		n, err = c.writev(frames)
	}
	c.w.dl.end()
	if err != nil {
		err = ctxError(ctx, err)
		if intact && wroteNothing(n, err) {
			return err // the connection is intact
		}
		return c.setWriteErr(err)
	}
	return nil
}

// dataWriteFailed handles a data frame that did not go out whole.
func (c *Conn) dataWriteFailed(ctx context.Context, h frame.Header, n int64, err error) error {
	err = ctxError(ctx, err)
	// A compressor has taken the unsent message into its history: the peer's would differ,
	// so the connection cannot go on.
	if wroteNothing(n, err) && !c.w.eng.Compressing() {
		c.w.eng.Undo(h)
		return err // the connection is intact
	}
	return c.setWriteErr(err)
}

// writeFrame writes a frame with header h and payload p and returns how many bytes went out;
// the caller holds frameLock. A client's payload is masked in the write buffer, never in p.
func (c *Conn) writeFrame(h frame.Header, p []byte) (int64, error) {
	buf := c.writeBuffer()
	if inBuffer(buf, p) {
		// p is already in place behind room for the header.
		start := frame.MaxHeaderSize - frame.Size(h.Length, h.Masked)
		frame.Put(buf[start:], h)
		if h.Masked {
			frame.Mask(h.Key, 0, p)
		}
		n, err := c.write(buf[start : frame.MaxHeaderSize+len(p)])
		if err != nil && n == 0 && h.Masked {
			frame.Mask(h.Key, 0, p) // unmask: the caller may try again
		}
		return int64(n), err
	}
	n := frame.Put(buf, h)
	if !h.Masked && len(p) > len(buf)-n {
		// A large server frame: header and payload in one writev, payload uncopied.
		c.w.iov[0], c.w.iov[1] = buf[:n], p
		c.w.bufs = c.w.iov[:]
		written, err := c.writev(&c.w.bufs)
		c.w.iov[1] = nil
		return written, err
	}
	var written int64
	pos := 0
	for {
		k := copy(buf[n:], p)
		if h.Masked {
			pos = frame.Mask(h.Key, pos, buf[n:n+k])
		}
		m, err := c.write(buf[:n+k])
		written += int64(m)
		if err != nil {
			return written, err
		}
		p = p[k:]
		if len(p) == 0 {
			return written, nil
		}
		n = 0
	}
}

// inBuffer reports whether p is the stretch of buf right after the room kept for a header.
func inBuffer(buf, p []byte) bool {
	return len(p) > 0 && len(buf) > frame.MaxHeaderSize && &p[0] == &buf[frame.MaxHeaderSize]
}

// beginSend gives the sending side its working state, for a caller that has just taken msgLock
// or frameLock; endSend, called before the lock is released, gives it back when nothing is left
// in it. A caller that holds msgLock needs no second call for frameLock.
func (c *Conn) beginSend() {
	c.mu.Lock()
	if c.w.sendState == nil {
		st, _ := sendStates.Get().(*sendState)
		if st == nil {
			st = new(sendState)
			st.bindRaw() // once for the state's life, not for each connection
		}
		st.c = c
		st.dl.owner, st.dl.write, st.dl.watch = c, true, &c.w.watch
		st.dl.ended = c.closing.closed.Load()
		scfg := c.ext.sender
		scfg.Client = c.client
		st.eng.Init(scfg)
		c.w.sendState = st
	}
	c.w.users++
	c.mu.Unlock()
}

// endSend ends the use of the sending side's working state that beginSend began. Once nothing
// more can be sent (the transport is closed, or a write failed), the state goes back whatever it
// holds.
func (c *Conn) endSend() {
	c.mu.Lock()
	c.w.users--
	if c.w.users > 0 {
		c.mu.Unlock() // the other holder's fields are its own until it ends too
		return
	}
	st := c.w.sendState
	idle := st.buf == nil && st.held == nil && st.stalledSince == 0 && st.raw.bound == 0 && st.eng.Idle() && st.dl.idle()
	ended := !idle && (c.closing.closed.Load() || c.w.err != nil)
	if !idle && !ended {
		c.mu.Unlock()
		return
	}
	c.w.sendState = nil
	c.mu.Unlock()
	if ended {
		st.dl.release() // a late watch finds no state (Conn.expire)
		if st.bufp != nil {
			writeBuffers.Put(st.bufp)
		}
		if st.held != nil {
			*st.held = (*st.held)[:0]
			holdBuffers.Put(st.held)
			c.w.holding.Store(false)
		}
	}
	*st = sendState{raw: rawWrites{fn: st.raw.fn}}
	sendStates.Put(st)
}

// writeBuffer returns the connection's write buffer; the caller holds msgLock. A buffer of
// the default size comes from a pool and goes back after the message (endMessage), so an
// idle connection holds none.
func (c *Conn) writeBuffer() []byte {
	if c.w.buf == nil {
		size := int(c.opts.writeBuffer)
		if size <= 0 || size == DefaultWriteBufferSize {
			c.w.bufp = writeBuffers.Get().(*[]byte)
			c.w.buf = *c.w.bufp
		} else {
			c.w.buf = make([]byte, max(size, 2*frame.MaxHeaderSize))
		}
	}
	return c.w.buf
}

var writeBuffers = sync.Pool{New: func() any {
	b := make([]byte, DefaultWriteBufferSize)
	return &b
}}

// endMessage gives back a pooled write buffer and lets the next message go.
func (c *Conn) endMessage() {
	if c.w.bufp != nil {
		writeBuffers.Put(c.w.bufp)
		c.w.bufp, c.w.buf = nil, nil
	}
	c.endSend()
	c.w.msgLock.unlock()
}

// controlKind names the control frames a Conn sends.
type controlKind uint8

const (
	ctlPing       controlKind = iota
	ctlPong                   // the answer to a Ping
	ctlClose                  // our Close, starting the closing handshake
	ctlCloseReply             // the answer to the peer's Close
)

// writeControl sends a control frame (§5.5) with code (Close frames) and payload p (the Ping's
// payload, or the close reason), waiting for the frame being written to finish but not for the
// rest of a fragmented message (§5.4). deadline bounds the wait and the write; done, when not
// nil, cancels the wait. A frame the protocol does not call for (a Pong or a Close answer after
// our Close) is not sent.
func (c *Conn) writeControl(kind controlKind, code StatusCode, p []byte, deadline time.Time, done <-chan struct{}) error {
	if err := c.w.frameLock.lockUntil(deadline, done); err != nil {
		return err
	}
	c.beginSend()
	c.boundWrites(deadline)
	err := c.sendControl(kind, code, p)
	c.boundWrites(time.Time{})
	c.endSend()
	c.w.frameLock.unlock()
	return err
}

// sendControl is writeControl for a caller holding frameLock, with the deadline set by
// boundWrites. (The frame is made in a function of its own, and there are no defers, so that
// the frames under the write's system calls stay small: see rawconn_unix.go.)
func (c *Conn) sendControl(kind controlKind, code StatusCode, p []byte) error {
	if c.w.err != nil {
		return c.w.err
	}
	if c.closing.closed.Load() {
		return errClosed
	}
	b, err := c.controlFrame(kind, code, p)
	if len(b) == 0 {
		return err
	}
	if c.w.held != nil {
		if err := c.flushHeldLocked(); err != nil {
			return err
		}
	}
	if w, err := c.write(b); err != nil {
		if wroteNothing(int64(w), err) {
			return err // the connection is intact
		}
		return c.setWriteErr(err)
	}
	return nil
}

// controlFrame makes a control frame in c.w.ctl, or none when the protocol does not call for it
// (a Pong or a Close answer after our Close). The caller holds frameLock.
func (c *Conn) controlFrame(kind controlKind, code StatusCode, p []byte) ([]byte, error) {
	var err error
	b := c.w.ctl[:0]
	switch kind {
	case ctlPing:
		b, err = c.w.eng.AppendPing(b, p)
	case ctlPong:
		b, _ = c.w.eng.AppendPong(b, p)
	case ctlClose:
		b, err = c.w.eng.AppendClose(b, uint16(code), p)
	case ctlCloseReply:
		b, _ = c.w.eng.AppendCloseReply(b, uint16(code), p)
	}
	switch {
	case err == engine.ErrCloseSent:
		return nil, errClosed
	case err != nil:
		return nil, fmt.Errorf("wsx: %w", err)
	}
	return b, nil
}

// Writes through net.Conn (on a transport that is not a socket, such as a *tls.Conn) go out in
// pieces of at most stallPiece bytes, each bounded by the stall
// timeout from its start: net.Conn.Write shows no progress until it returns, and one bound for
// a whole large write would cut off a peer that reads slowly but steadily. So the stall bound
// closes a connection whose peer takes less than stallPiece bytes in StallTimeout.
const stallPiece = 256 << 10

// writeConn writes p through net.Conn, piece by piece. The caller holds frameLock.
func (c *Conn) writeConn(p []byte) (int, error) {
	n := 0
	for {
		c.armWriteStall()
		k, err := c.nc.Write(p[n:min(len(p), n+stallPiece)])
		n += k
		c.wrote(int64(k))
		if err != nil {
			return n, c.writeFailed(int64(k), err)
		}
		if n == len(p) {
			return n, nil
		}
	}
}

// writevConn writes the buffers through net.Conn, with one system call where the conn can (a
// socket's writev), a piece at a time (see stallPiece), consuming them as
// net.Buffers.WriteTo does. The caller holds frameLock.
func (c *Conn) writevConn(bufs *net.Buffers) (int64, error) {
	var written int64
	for len(*bufs) > 0 {
		b := *bufs
		// The piece: whole buffers while they fit, then the start of the next.
		size, i := 0, 0
		for i < len(b) && size+len(b[i]) <= stallPiece {
			size += len(b[i])
			i++
		}
		var rest []byte
		if i < len(b) {
			rest = b[i][stallPiece-size:]
			b[i] = b[i][:stallPiece-size]
			i++
		}
		*bufs = b[:i:i]
		c.armWriteStall()
		n, err := bufs.WriteTo(c.nc)
		written += n
		c.wrote(n)
		left := len(*bufs) // the piece's buffers not written whole, the first in part
		if rest != nil {
			if left > 0 {
				b[i-1] = b[i-1][:len(b[i-1])+len(rest)] // rest follows it in memory
			} else {
				b[i-1], left = rest, 1
			}
		}
		*bufs = b[i-left:]
		if err != nil {
			return written, c.writeFailed(n, err)
		}
	}
	return written, nil
}

// armWriteStall bounds a write through net.Conn that may wait by the stall timeout, and lifts
// what an ended call or wait left on the conn.
func (c *Conn) armWriteStall() {
	if d := c.opts.stallTimeout; d > 0 {
		c.w.dl.armStall(c.w.stalledSince, d)
	} else {
		c.w.dl.settle()
	}
}

// wroteNothing reports whether a write that failed with err after n bytes left the connection
// intact: nothing went out before a deadline cut it short, and that deadline was not the stall
// bound's (a peer that does not read gets the connection closed, whatever wsx was sending).
func wroteNothing(n int64, err error) bool {
	if _, stalled := err.(*stallError); stalled {
		return false
	}
	return n == 0 && isTimeout(err)
}

// writeFailed says why a write failed after n bytes, before its wait's bounds are lifted: the
// timeout of one the stall bound cut off becomes a stallError. It also remembers when a wait
// that got nothing out began, so that the stall bound of the next write counts from then: a
// peer that takes nothing is cut off StallTimeout after it stopped, whatever wsx tries to send
// it meanwhile (a Pong for each Ping, each dropped after its bound, say).
func (c *Conn) writeFailed(n int64, err error) error {
	if !isTimeout(err) {
		return err
	}
	if c.w.dl.stalled() {
		return &stallError{c.opts.stallTimeout}
	}
	if n == 0 && c.w.stalledSince == 0 && c.w.dl.stallAt != 0 {
		c.w.stalledSince = c.w.dl.stallAt - int64(c.opts.stallTimeout)
	}
	return err
}

// wrote records a write's progress: the peer takes our bytes.
func (c *Conn) wrote(n int64) {
	if n > 0 {
		c.w.stalledSince = 0
	}
}

// stallError reports a write that the peer let make no progress for StallTimeout: it does not
// read. It is a timeout (errors.Is(err, os.ErrDeadlineExceeded)), and never the caller's
// context's error, whatever deadline the context has.
type stallError struct{ timeout time.Duration }

func (e *stallError) Error() string {
	return "wsx: the peer stalled: it took no bytes for " + e.timeout.String() + " (StallTimeout)"
}

func (e *stallError) Unwrap() error { return os.ErrDeadlineExceeded }
func (e *stallError) Timeout() bool { return true }

// setWriteErr records a failed write. A frame may have been cut short, so nothing more can be
// sent on the connection: it is closed.
func (c *Conn) setWriteErr(err error) error {
	timeout := isTimeout(err)
	if c.w.err == nil {
		c.w.err = &writeFailure{err, timeout}
	}
	if timeout {
		c.closeTransport()
	} else {
		c.closeWrite()
	}
	return c.w.err
}

// writeFailure is the error of a write that failed, which every later call reports: it wraps
// the cause, and is net.ErrClosed as well when the failure closed the connection (a timeout).
// It is no timeout itself, whatever its cause: the connection is over, and a read that meets
// it must not take it for its own deadline (isTimeout).
type writeFailure struct {
	err    error
	closed bool
}

func (e *writeFailure) Error() string {
	return "wsx: write failed, connection closed: " + strings.TrimPrefix(e.err.Error(), "wsx: ")
}

func (e *writeFailure) Unwrap() error        { return e.err }
func (e *writeFailure) Is(target error) bool { return e.closed && target == net.ErrClosed }
func (e *writeFailure) Timeout() bool        { return false }

// closeWrite shuts down the sending half of the connection, if it can, and leaves the read
// side open. A write that failed with anything but a timeout failed because the peer went away
// (EPIPE, a reset), often right after its Close frame, which says why (a 1009 for a message it
// would not take, say): the next read reports it, and then ends the connection. A timed-out
// write closes everything instead: its peer is alive but not reading, and would never see a FIN.
func (c *Conn) closeWrite() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
