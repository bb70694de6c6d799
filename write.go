package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// Write sends p as one message of type typ. It is safe to call from several goroutines at once;
// messages go out whole, one after another.
//
// ctx bounds the call, including the wait for other writers. A write that expires part-way
// through a frame leaves the peer with a broken frame, so the connection is closed; one that
// expires before anything went out changes nothing. A write that fails because the peer went
// away ends the sending side; reads go on, to report the peer's Close if it sent one.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	op, compress, err := c.messageOpcode(typ)
	if err != nil {
		return err
	}
	if err := lock(ctx, c.msgLock); err != nil {
		return err
	}
	defer c.endMessage()
	if compress && c.deflate.cfg.Compress(len(p)) {
		bp := compressBuffers.Get().(*[]byte)
		*bp = c.deflate.comp.AppendMessage((*bp)[:0], p)
		err := c.writeData(ctx, op, frame.Rsv1, true, *bp)
		compressBuffers.Put(bp)
		return err
	}
	return c.writeData(ctx, op, 0, true, p)
}

// Writer returns a writer for one message of type typ, sent in fragments (§5.4) as its buffer
// fills; Close sends the final fragment. Until then other data messages wait (control frames
// may still go between the fragments). ctx bounds every call on the writer. With compression
// on, a streamed message is compressed whatever its size, unless typ includes Uncompressed.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	op, compress, err := c.messageOpcode(typ)
	if err != nil {
		return nil, err
	}
	if err := lock(ctx, c.msgLock); err != nil {
		return nil, err
	}
	c.msgWriter = messageWriter{c: c, ctx: ctx, op: op, compress: compress}
	return &c.msgWriter, nil
}

// messageOpcode returns the opcode for a message type and whether to compress the message.
func (c *Conn) messageOpcode(typ MessageType) (frame.Opcode, bool, error) {
	compress := c.deflate != nil && typ&Uncompressed == 0
	typ &^= Uncompressed
	if typ != MessageText && typ != MessageBinary {
		return 0, false, fmt.Errorf("wsx: cannot write a message of type %v", typ)
	}
	return frame.Opcode(typ), compress, nil
}

// messageWriter buffers a message's bytes in the connection's write buffer, after room for
// the frame header, so that each fragment goes out in one write. A compressed message goes
// through the compressor instead, and out as the compressor produces it.
type messageWriter struct {
	c        *Conn
	ctx      context.Context
	op       frame.Opcode
	compress bool
	n        int // payload bytes buffered in c.wbuf[frame.MaxHeaderSize:]
	closed   bool
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("wsx: write to a closed message writer")
	}
	c := w.c
	if w.compress {
		return len(p), w.writeCompressed(p, false)
	}
	buf := c.writeBuffer()[frame.MaxHeaderSize:]
	written := 0
	for len(p) > 0 {
		if w.n == 0 && len(p) >= len(buf) {
			// A large write goes out as a fragment of its own, without a copy.
			if err := c.writeData(w.ctx, w.op, 0, false, p); err != nil {
				return written, err
			}
			return written + len(p), nil
		}
		k := copy(buf[w.n:], p)
		w.n += k
		p = p[k:]
		written += k
		if w.n == len(buf) {
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Close sends the final fragment and lets the next message go.
func (w *messageWriter) Close() error {
	if w.closed {
		return errors.New("wsx: message writer closed twice")
	}
	w.closed = true
	defer w.c.endMessage()
	if w.compress {
		return w.writeCompressed(nil, true)
	}
	return w.flush(true)
}

func (w *messageWriter) flush(fin bool) error {
	c := w.c
	n := w.n
	w.n = 0
	payload := c.writeBuffer()[frame.MaxHeaderSize : frame.MaxHeaderSize+n]
	return c.writeData(w.ctx, w.op, 0, fin, payload)
}

// writeCompressed compresses p as the next part of the message, or finishes the message, and
// sends what the compressor has ready as the next fragment (RSV1 on the first frame only,
// RFC 7692 §6.1).
func (w *messageWriter) writeCompressed(p []byte, fin bool) error {
	bp := compressBuffers.Get().(*[]byte)
	defer compressBuffers.Put(bp)
	if fin {
		*bp = w.c.deflate.comp.Finish((*bp)[:0])
	} else if *bp = w.c.deflate.comp.Write((*bp)[:0], p); len(*bp) == 0 {
		return nil // the compressor is still collecting input
	}
	return w.c.writeData(w.ctx, w.op, frame.Rsv1, fin, *bp)
}

// writeData sends one data frame. The caller holds msgLock. When p lies in c.wbuf right after
// frame.MaxHeaderSize bytes of room, the header is put in front of it and the frame goes out
// in one write.
func (c *Conn) writeData(ctx context.Context, op frame.Opcode, rsv byte, fin bool, p []byte) error {
	if err := lock(ctx, c.frameLock); err != nil {
		return err
	}
	defer unlock(c.frameLock)
	if c.closeSent.Load() || c.closed.Load() {
		return errClosed // §5.5.1: no data frames after a Close frame
	}
	if c.writeErr != nil {
		return c.writeErr
	}
	if err := c.wdl.begin(ctx); err != nil {
		return err
	}
	defer c.wdl.end()
	h := c.enc.Data(op, rsv, fin, int64(len(p)))
	if n, err := c.writeFrame(h, p); err != nil {
		err, _ = ctxError(ctx, err)
		// A compressor has taken the unsent message into its history: the peer's would
		// differ, so the connection cannot go on.
		if n == 0 && isTimeout(err) && c.deflate == nil {
			c.enc.Undo(h)
			return err // nothing went out: the connection is intact
		}
		return c.setWriteErr(err)
	}
	return nil
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
		c.iov[0], c.iov[1] = buf[:n], p
		c.bufs = c.iov[:]
		written, err := c.bufs.WriteTo(c.nc)
		c.iov[1] = nil
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

// writeBuffer returns the connection's write buffer; the caller holds msgLock. A buffer of
// the default size comes from a pool and goes back after the message (endMessage), so an
// idle connection holds none.
func (c *Conn) writeBuffer() []byte {
	if c.wbuf == nil {
		size := c.opts.WriteBufferSize
		if size <= 0 || size == DefaultWriteBufferSize {
			c.wbufp = writeBuffers.Get().(*[]byte)
			c.wbuf = *c.wbufp
		} else {
			c.wbuf = make([]byte, max(size, 2*frame.MaxHeaderSize))
		}
	}
	return c.wbuf
}

var writeBuffers = sync.Pool{New: func() any {
	b := make([]byte, DefaultWriteBufferSize)
	return &b
}}

// endMessage gives back a pooled write buffer and lets the next message go.
func (c *Conn) endMessage() {
	if c.wbufp != nil {
		writeBuffers.Put(c.wbufp)
		c.wbufp, c.wbuf = nil, nil
	}
	unlock(c.msgLock)
}

// writeControl sends a control frame (§5.5), waiting for the frame being written to finish
// but not for the rest of a fragmented message (§5.4). deadline bounds the wait and the write;
// done, when not nil, cancels the wait.
func (c *Conn) writeControl(op frame.Opcode, p []byte, deadline time.Time, done <-chan struct{}) error {
	if err := lockUntil(c.frameLock, deadline, done); err != nil {
		return err
	}
	defer unlock(c.frameLock)
	if c.closed.Load() {
		return errClosed
	}
	if c.writeErr != nil {
		return c.writeErr
	}
	h, err := c.enc.Control(op, len(p))
	if err != nil {
		return err
	}
	n := frame.Put(c.ctlBuf[:], h)
	m := copy(c.ctlBuf[n:], p)
	if h.Masked {
		frame.Mask(h.Key, 0, c.ctlBuf[n:n+m])
	}
	c.wdl.setAt(deadline)
	if w, err := c.write(c.ctlBuf[:n+m]); err != nil {
		if w == 0 && isTimeout(err) {
			return err // nothing went out: the connection is intact
		}
		return c.setWriteErr(err)
	}
	return nil
}

// controlDeadline bounds the control frames the read side sends on its own (pongs, the
// answer to a Close).
func (c *Conn) controlDeadline() time.Time {
	return time.Now().Add(c.opts.closeTimeout())
}

// setWriteErr records a failed write. A frame may have been cut short, so nothing more can be
// sent on the connection: it is closed.
func (c *Conn) setWriteErr(err error) error {
	if c.writeErr == nil {
		c.writeErr = fmt.Errorf("wsx: write failed, connection closed: %w", err)
	}
	if isTimeout(err) {
		c.closeTCP()
	} else {
		c.closeWrite()
	}
	return c.writeErr
}

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

// lock takes a one-slot channel lock, giving up when ctx is done.
func lock(ctx context.Context, l chan struct{}) error {
	select {
	case l <- struct{}{}:
		return nil
	default:
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockUntil takes a one-slot channel lock, giving up at deadline (if not zero) or when done
// is closed.
func lockUntil(l chan struct{}, deadline time.Time, done <-chan struct{}) error {
	select {
	case l <- struct{}{}:
		return nil
	default:
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-expired:
		return errors.New("wsx: timed out waiting to write a control frame")
	case <-done:
		return context.Canceled
	}
}

func unlock(l chan struct{}) { <-l }
