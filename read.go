package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/proto"
)

// errConcurrentRead is returned when a read starts while another is in progress.
var errConcurrentRead = errors.New("wsx: concurrent read on a connection: reads must come from one goroutine at a time")

// Read reads the next data message and returns its type and payload in a newly allocated
// slice. ReadMessage reads into a buffer of the caller's without allocating.
//
// ctx bounds the call. If it expires, Read returns ctx's error and the connection stays
// usable: the next read carries on where this one stopped, within the same message.
// When the peer closes the connection, Read returns a *CloseError (see CloseStatus).
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	typ, p, err := c.ReadMessage(ctx, nil)
	if err != nil {
		return typ, nil, err
	}
	if p == nil {
		p = []byte{}
	}
	return typ, p, nil
}

// ReadMessage appends the payload of the next data message to dst and returns the extended
// slice. When dst has room for the message it allocates nothing, which makes a read loop that
// passes the same buffer back free of allocations:
//
//	buf := make([]byte, 0, 4096)
//	for {
//		typ, msg, err := c.ReadMessage(ctx, buf[:0])
//		if err != nil { return err }
//		buf = msg[:0] // keep a buffer that grew
//		handle(typ, msg)
//	}
//
// Timeouts and errors are as for Read. A message interrupted by ctx is kept by the connection
// and delivered whole by the next ReadMessage.
func (c *Conn) ReadMessage(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	if err := c.beginRead(ctx); err != nil {
		return 0, dst, err
	}
	defer c.endRead()
	if m, ok := c.popQueued(); ok {
		return m.typ, append(dst, m.data...), nil
	}
	if !c.msgOpen && c.rpos == c.rend && c.raw != nil {
		// Idle between messages: wait for the next one here, where the stack is shallow,
		// rather than deep in readMessage (see readwait_unix.go).
		if err := c.fill(); err != nil {
			return 0, dst, c.readError(ctx, err)
		}
	}
	return c.readMessage(ctx, dst)
}

// readMessage is ReadMessage for a caller holding readLock.
func (c *Conn) readMessage(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	typ, err := c.nextMessage()
	if err != nil {
		return 0, dst, c.readError(ctx, err)
	}
	start := len(dst)
	if c.partial != nil {
		dst = append(dst, c.partial...)
		c.partial = c.partial[:0]
	}
	for {
		if len(dst) == cap(dst) {
			if c.messageRead() {
				c.msgOpen = false // the message fit exactly
				return typ, dst, nil
			}
			dst = c.grow(dst)
		}
		n, err := c.readPayload(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return typ, dst, nil
		}
		if err != nil {
			if err, timeout := c.timeout(ctx, err); timeout {
				// Keep what arrived so that the next call can deliver the message whole.
				c.partial = append(c.partial, dst[start:]...)
				c.resume = true
				return typ, dst[:start], err
			}
			return typ, dst[:start], err
		}
	}
}

// Reader returns the next data message as a stream: its Read calls return the payload as it
// arrives and io.EOF at the message's end. ctx bounds every Read of the stream. A message that
// the caller leaves unread is discarded by the next call to Reader or ReadMessage, except when
// a read of it was cut short by ctx: then Reader returns the rest of that same message.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := c.beginRead(ctx); err != nil {
		return 0, nil, err
	}
	defer c.endRead()
	if m, ok := c.popQueued(); ok {
		return m.typ, bytes.NewReader(m.data), nil
	}
	typ, err := c.nextMessage()
	if err != nil {
		return 0, nil, c.readError(ctx, err)
	}
	c.msgReader = messageReader{c: c, ctx: ctx}
	return typ, &c.msgReader, nil
}

// messageRead reports whether the open message has been read whole.
func (c *Conn) messageRead() bool {
	done := c.dec.Remaining() == 0 && !c.dec.InMessage()
	if c.dec.Compressed() {
		return done && c.deflate.ended && c.deflate.pending == 0
	}
	return done
}

// grow makes room in dst for more of the message. It grows by what the current frame
// announces, but never by more than dst's size again: a header announcing a huge frame does not
// make the connection reserve memory before the bytes arrive.
func (c *Conn) grow(dst []byte) []byte {
	more := c.dec.Remaining()
	if more == 0 || !c.dec.FinalFrame() || c.dec.Compressed() {
		more = max(more, 512) // more frames, or inflated bytes, of unknown size to come
	}
	more = min(more, max(int64(cap(dst)), 64<<10))
	return slices.Grow(dst, int(more))
}

// messageReader is the io.Reader that Reader returns. The connection keeps one, so it is
// valid until the next call to Reader or ReadMessage.
type messageReader struct {
	c   *Conn
	ctx context.Context
}

func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.beginRead(r.ctx); err != nil {
		return 0, err
	}
	defer c.endRead()
	if len(c.partial) > 0 {
		// What an interrupted ReadMessage had received of this message.
		n := copy(p, c.partial)
		c.partial = c.partial[n:]
		return n, nil
	}
	if !c.msgOpen {
		return 0, io.EOF
	}
	n, err := c.readPayload(p)
	if err != nil && err != io.EOF {
		var timeout bool
		if err, timeout = c.timeout(r.ctx, err); timeout {
			c.resume = true
		}
	}
	return n, err
}

// beginRead takes the read side for one call and applies ctx's deadline to it.
func (c *Conn) beginRead(ctx context.Context) error {
	select {
	case c.readLock <- struct{}{}:
	default:
		if !c.closeSent.Load() {
			return errConcurrentRead
		}
		// Close is reading until the peer's Close frame, keeping the messages that come
		// first for us: wait for it.
		select {
		case c.readLock <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.readErr != nil && len(c.queued) == 0 {
		<-c.readLock
		return c.readErr
	}
	if err := c.rdl.begin(ctx); err != nil {
		<-c.readLock
		return err
	}
	return nil
}

func (c *Conn) endRead() {
	c.rdl.end()
	<-c.readLock
}

// nextMessage moves to the next data message, discarding what is left of the open one, unless
// a read of it was cut short by its context: then the open message goes on.
func (c *Conn) nextMessage() (MessageType, error) {
	if c.msgOpen {
		if c.resume {
			c.resume = false
			return c.msgType, nil
		}
		c.partial = c.partial[:0]
		for {
			if _, err := c.readPayload(nil); err == io.EOF {
				break
			} else if err != nil {
				return 0, err
			}
		}
	}
	if err := c.nextFrame(); err != nil {
		return 0, err
	}
	if c.dec.Compressed() {
		c.deflate.pending, c.deflate.ended = 0, false
	}
	c.msgOpen = true
	c.msgType = MessageType(c.frameOp)
	return c.msgType, nil
}

// readPayload reads payload bytes of the current message into p (discarding them when p is
// nil) and returns io.EOF once the message has been read whole. It handles the frames that
// continue the message, and control frames between them.
func (c *Conn) readPayload(p []byte) (int, error) {
	if c.dec.Compressed() {
		return c.readInflated(p)
	}
	for c.dec.Remaining() == 0 {
		if !c.dec.InMessage() {
			c.msgOpen = false
			return 0, io.EOF
		}
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	want := c.dec.Remaining()
	if p != nil && int64(len(p)) < want {
		want = int64(len(p))
	}
	if c.rpos == c.rend {
		// Nothing buffered: a large read goes straight into the caller's buffer.
		if p != nil && want >= int64(c.rsize) {
			n, err := c.nc.Read(p[:want])
			if n > 0 {
				if err := c.dec.Payload(p[:n]); err != nil {
					return n, c.fail(err)
				}
				return n, nil
			}
			return 0, c.ioError(err)
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := min(int(want), c.rend-c.rpos)
	b := c.rbuf[c.rpos : c.rpos+n]
	c.rpos += n
	if err := c.dec.Payload(b); err != nil {
		return 0, c.fail(err)
	}
	if p == nil {
		return n, nil
	}
	return copy(p, b), nil
}

// nextFrame reads frame headers until one of a data frame, answering the control frames on
// the way (§5.5); it leaves that data frame current in the decoder.
func (c *Conn) nextFrame() error {
	for {
		h, n, err := proto.ParseHeader(c.rbuf[c.rpos:c.rend])
		if err == nil && h.Opcode.IsControl() && h.Length <= frame.MaxControlPayload &&
			c.rend-c.rpos < n+int(h.Length) {
			err = frame.ErrShortHeader // wait for the whole control frame
		}
		if err == frame.ErrShortHeader {
			if err := c.fill(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return c.fail(err)
		}
		if err := c.dec.Frame(h); err != nil {
			return c.fail(err)
		}
		c.rpos += n
		if !h.Opcode.IsControl() {
			if h.Opcode != frame.OpContinuation {
				c.frameOp = h.Opcode
			}
			return nil
		}
		payload := c.rbuf[c.rpos : c.rpos+int(h.Length)]
		c.rpos += int(h.Length)
		if err := c.handleControl(h.Opcode, payload); err != nil {
			return err
		}
	}
}

// handleControl acts on a control frame from the peer (§5.5).
func (c *Conn) handleControl(op frame.Opcode, p []byte) error {
	code, reason, err := c.dec.Control(op, p)
	if err != nil {
		return c.fail(err)
	}
	switch op {
	case frame.OpPing:
		// §5.5.2: answer with a Pong carrying the same payload, unless we already sent Close.
		if c.closeSent.Load() {
			return nil
		}
		if err := c.writeControl(frame.OpPong, p, c.controlDeadline(), nil); err != nil && !c.closeSent.Load() {
			return c.setReadErr(err)
		}
	case frame.OpPong:
		c.pongReceived(p)
	case frame.OpClose:
		return c.peerClosed(StatusCode(code), string(reason))
	}
	return nil
}

// peerClosed completes the closing handshake the peer started, or the one we started (§7.1.2):
// it echoes the peer's status code (§5.5.1), and closes the connection.
func (c *Conn) peerClosed(code StatusCode, reason string) error {
	ce := &CloseError{Code: code, Reason: reason}
	c.readErr = ce
	c.sendClose(code, "") // no-op when we sent ours first
	c.readDoneOnce.Do(func() { close(c.readDone) })
	c.finishClose(true)
	return ce
}

// fill reads more bytes from the connection into the read buffer.
func (c *Conn) fill() error {
	if c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
		if c.raw != nil {
			return c.fillIdle()
		}
		c.readBuffer()
	} else if c.rend == len(c.rbuf) {
		c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
	}
	n, err := c.nc.Read(c.rbuf[c.rend:])
	c.rend += n
	if n > 0 {
		return nil
	}
	return c.ioError(err)
}

// ioError classifies a failed read: a timeout leaves the connection usable; anything else ends
// it (§7.1.5: a connection that ends without a Close frame has status 1006).
func (c *Conn) ioError(err error) error {
	if err == nil {
		err = io.ErrNoProgress
	}
	if isTimeout(err) {
		return err
	}
	if c.closed.Load() {
		return c.setReadErr(errClosed)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return c.setReadErr(&CloseError{Code: StatusAbnormalClosure, err: err})
}

// fail fails the connection (§7.1.7) after a protocol violation by the peer: it sends a Close
// frame with the violation's status code and closes the TCP connection.
func (c *Conn) fail(err error) error {
	var pe *proto.Error
	if errors.As(err, &pe) {
		code := StatusCode(pe.Code)
		c.sendClose(code, pe.Msg)
		err = &failError{code: code, err: err}
	}
	c.setReadErr(err)
	c.closeTCP()
	return err
}

// setReadErr makes err the answer to every later read, and wakes a Close waiting for the
// peer's Close frame.
func (c *Conn) setReadErr(err error) error {
	c.readErr = err
	c.readDoneOnce.Do(func() { close(c.readDone) })
	return err
}

// readError turns an error of the read side into what the caller sees.
func (c *Conn) readError(ctx context.Context, err error) error {
	err, _ = c.timeout(ctx, err)
	return err
}

// timeout reports whether err is a timeout, the only read error after which the connection
// stays usable, and turns one caused by ctx into ctx's error.
func (c *Conn) timeout(ctx context.Context, err error) (error, bool) {
	if !isTimeout(err) {
		return err, false
	}
	return ctxError(ctx, err)
}

// readInflated is readPayload for a compressed message (RFC 7692 §6.2): payload bytes are
// unmasked in the read buffer and inflated into p, which the decoder then checks against the
// read limit and, for text, UTF-8.
func (c *Conn) readInflated(p []byte) (int, error) {
	z := c.deflate
	out := p
	if p == nil {
		if z.discard == nil {
			z.discard = make([]byte, 4096)
		}
		out = z.discard
	}
	for {
		if z.ended {
			// The deflate data ended; what is left of the message's frames is skipped.
			if z.pending == 0 && c.dec.Remaining() == 0 && !c.dec.InMessage() {
				c.msgOpen = false
				return 0, io.EOF
			}
			c.rpos += z.pending
			z.pending = 0
		}
		if z.pending == 0 {
			if c.dec.Remaining() > 0 {
				if c.rpos == c.rend {
					if err := c.fill(); err != nil {
						return 0, err
					}
				}
				k := int(min(c.dec.Remaining(), int64(c.rend-c.rpos)))
				if err := c.dec.Payload(c.rbuf[c.rpos : c.rpos+k]); err != nil {
					return 0, c.fail(err)
				}
				z.pending = k
			} else if c.dec.InMessage() {
				if err := c.nextFrame(); err != nil {
					return 0, err
				}
				continue
			}
		}
		if z.ended {
			continue
		}
		final := c.dec.Remaining() == 0 && !c.dec.InMessage()
		n, used, err := z.decomp.Inflate(out, c.rbuf[c.rpos:c.rpos+z.pending], final)
		c.rpos += used
		z.pending -= used
		if n > 0 {
			if verr := c.dec.Inflated(out[:n]); verr != nil {
				return 0, c.fail(verr)
			}
		}
		switch {
		case err == io.EOF:
			if verr := c.dec.InflatedEnd(); verr != nil {
				return 0, c.fail(verr)
			}
			z.ended = true
		case errors.Is(err, deflate.ErrTooLarge):
			return 0, c.fail(&proto.Error{Code: proto.CodeTooBig, Msg: "message inflates past the read limit (§10.4, RFC 7692 §8.1)"})
		case err != nil:
			return 0, c.fail(&proto.Error{Code: proto.CodeInvalidData, Msg: "invalid compressed data: " + strings.TrimPrefix(err.Error(), "wsx: ")})
		case n == 0 && used == 0 && final && z.pending == 0:
			return 0, c.fail(&proto.Error{Code: proto.CodeInvalidData, Msg: "compressed message ends mid-stream (RFC 7692 §7.2.2)"})
		}
		if n > 0 && p != nil {
			return n, nil
		}
	}
}

// queuedMessage is a message that Close read while waiting for the peer's Close frame, kept
// for the application's next read.
type queuedMessage struct {
	typ  MessageType
	data []byte
}

func (c *Conn) popQueued() (queuedMessage, bool) {
	if len(c.queued) == 0 {
		return queuedMessage{}, false
	}
	m := c.queued[0]
	c.queued = c.queued[1:]
	return m, true
}
