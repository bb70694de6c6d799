//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
)

// errConcurrentRead is returned when a read starts while another is in progress.
var errConcurrentRead = errors.New("wsx: concurrent read on a connection: reads must come from one goroutine at a time")

// Read reads the next data message and returns its type and payload in a newly allocated
// slice. ReadMessage reads into a buffer of the caller's without allocating.
//
// ctx bounds the call. If it expires, Read returns ctx's error and the connection stays
// usable: the next read carries on where this one stopped, within the same message.
// When the peer closes the connection, Read returns a *CloseError; when wsx fails it because
// the peer broke a rule, a *ProtocolError (see CloseStatus).
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
// A message larger than dst's room is held in pieces while it arrives and copied into one
// buffer of its exact size at its end (so it costs twice its size at that moment; Reader
// streams a message without holding it). What wsx holds counts against the process's message
// memory limit (SetMessageMemoryLimit). Timeouts and errors are as for Read. A message
// interrupted by ctx is kept by the connection and delivered whole by the next ReadMessage.
func (c *Conn) ReadMessage(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	if err := c.beginRead(ctx); err != nil {
		return 0, dst, err
	}
	var typ MessageType
	var err error
	if len(c.r.queued) > 0 {
		typ, dst, err = c.takeQueued(dst)
	} else {
		typ, dst, err = c.readWhole(dst)
	}
	c.endRead()
	if err != nil {
		return typ, dst, c.readError(ctx, err)
	}
	return typ, dst, nil
}

// errPing stops readMessage, nextMessage and skipMessage at a Ping, which readWhole answers;
// errRoom stops readMessage when the message needs more room, which readWhole makes.
var (
	errPing = errors.New("wsx: a ping to answer")
	errRoom = errors.New("wsx: the message needs more room")
)

// readWhole reads the next message whole into dst, for a caller holding the read lock (the
// messages Close queued are the caller's to take first).
//
// It waits for the next message, answers pings and makes room for the message here rather than
// deeper in the read path, where the stack is shallow: the goroutine of an idle connection then
// keeps the 2 KiB stack it started with (see rawconn_unix.go).
func (c *Conn) readWhole(dst []byte) (MessageType, []byte, error) {
	start := len(dst)
	for {
		if c.r.pos == c.r.end && c.r.eng.Idle() && c.raw.ok() {
			if err := c.fill(); err != nil {
				return 0, dst, err
			}
		}
		typ, msg, err := c.readMessage(dst, start)
		dst = msg
		switch err {
		case errPing:
			err = c.answerPing()
		case errRoom:
			var ok bool
			if dst, ok = c.makeRoom(dst, start); ok {
				err = nil
			} else if c.r.queuing {
				err = errRoom // queueUntilClose skips the message
			} else {
				err = c.failWith(errMessageMemory)
			}
		default:
			return typ, msg, err
		}
		if err != nil {
			c.releaseMessage()
			return typ, dst[:start], err
		}
	}
}

// readMessage reads the message that started, or starts next, into dst, whose bytes from start
// on are what a previous call stopped at a Ping had of it.
func (c *Conn) readMessage(dst []byte, start int) (MessageType, []byte, error) {
	typ, err := c.nextMessage()
	if err != nil {
		return 0, dst, err
	}
	h := &c.r.held
	for {
		// The payload goes to dst's room, or once wsx holds pieces of the message, to the last
		// piece's.
		out := dst[len(dst):cap(dst)]
		if h.holding() {
			out = h.room()
		}
		ev, nin, nout := c.r.eng.Next(c.r.buf[c.r.pos:c.r.end], out)
		c.r.pos += nin
		switch ev.Kind {
		case engine.NeedInput:
			var n int
			n, err = c.input(out[nout:])
			nout += n
		case engine.MessageEnd:
		case engine.OutputFull:
			err = errRoom
		case engine.Ping:
			err = errPing
		default:
			err = c.control(ev)
		}
		if h.holding() {
			h.wrote(nout)
		} else {
			dst = dst[:len(dst)+nout]
		}
		if err != nil {
			dst, err = c.interrupted(dst, start, err)
			return typ, dst, err
		}
		if ev.Kind == engine.MessageEnd {
			c.r.handed = false
			c.r.more.Store(c.r.pos < c.r.end)
			if h.holding() {
				dst = h.appendTo(dst)
			}
			c.releaseMessage()
			return typ, dst, nil
		}
	}
}

// interrupted keeps what readMessage had of a message it could not finish: for the caller that
// answers a Ping and comes back, or the next read after a timeout. It returns what the caller
// gets: dst as it was before the message otherwise, and the error. What it keeps after a
// timeout is a copy, held under the message memory limit: when the limit has no room for it,
// the connection fails with 1013.
func (c *Conn) interrupted(dst []byte, start int, err error) ([]byte, error) {
	switch {
	case err == errPing, err == errRoom:
		c.r.resume = true
		return dst, err
	case isTimeout(err):
		if !c.r.held.prepend(dst[start:]) {
			c.releaseMessage()
			return dst[:start], c.failWith(errMessageMemory)
		}
		c.r.resume = true
	default:
		c.releaseMessage()
	}
	return dst[:start], err
}

// dropRead gives the reading side's working state back once the read side has ended, unless it
// keeps messages that Close read for the application. The caller holds the read lock.
func (c *Conn) dropRead() {
	st := c.r.readState
	if st == nil || len(st.queued) > 0 {
		return
	}
	c.releaseMessage()
	st.pos = st.end
	c.releaseReadBuffer()
	c.mu.Lock()
	c.r.readState = nil
	c.mu.Unlock()
	st.dl.release() // a late watch finds no state (Conn.expire)
	putReadState(st)
}

// releaseMessage gives back what wsx held of a message for ReadMessage.
func (c *Conn) releaseMessage() {
	c.r.held.release()
	if c.r.grown > 0 {
		messageMemory.release(c.r.grown)
		c.r.grown = 0
	}
}

// Message buffers: up to maxContiguous bytes of a message grow the caller's buffer; beyond, the
// message is held in pieces of pieceMin to pieceMax bytes, so that memory held follows what
// arrived (never what a frame header announces) and a message too large fails having held no
// more than the read limit, without chains of growing copies.
const (
	maxContiguous = 64 << 10
	pieceMin      = 64 << 10
	pieceMax      = 1 << 20
)

var errMessageMemory = &ProtocolError{Code: StatusTryAgainLater, Rule: "the process's message memory limit is reached (SetMessageMemoryLimit)"}

// makeRoom makes room for more of the message that started at dst[start:]: it grows dst while
// the message is small, and adds a piece to the held message beyond. It reports false when the
// message memory budget has no room.
func (c *Conn) makeRoom(dst []byte, start int) ([]byte, bool) {
	h := &c.r.held
	size := len(dst) - start + h.n // the message so far
	more := max(size, 512)
	if d := c.r.eng.Direct(); d > 0 && d < int64(more) {
		more = int(d) // the current frame's rest fits: that much and no more
	}
	if limit := c.r.engLimit; limit > 0 {
		// Never room past the limit: a message that would need more fails there. One byte
		// more lets a compressed message that ends right at the limit finish.
		more = int(min(int64(more), max(limit-int64(size), 0)+1))
	}
	if !h.holding() && size < maxContiguous {
		more = min(more, maxContiguous-size)
		old := cap(dst)
		grow := slices.Grow(dst, more)
		if !messageMemory.reserve(int64(cap(grow) - old)) {
			return dst, false
		}
		c.r.grown += int64(cap(grow) - old)
		return grow, true
	}
	return dst, h.add(min(max(more, pieceMin), pieceMax, more))
}

// heldMessage is what wsx holds of a message being read by ReadMessage: the pieces it spilled
// into beyond the caller's buffer, or the bytes an interrupted call had received.
type heldMessage struct {
	pieces  [][]byte // in order; the last may have room left
	n       int      // bytes held
	charged int64    // bytes taken from the message memory budget
}

func (h *heldMessage) holding() bool { return len(h.pieces) > 0 }

// room returns the free space of the last piece.
func (h *heldMessage) room() []byte {
	last := h.pieces[len(h.pieces)-1]
	return last[len(last):cap(last)]
}

func (h *heldMessage) wrote(n int) {
	last := &h.pieces[len(h.pieces)-1]
	*last = (*last)[:len(*last)+n]
	h.n += n
}

// add adds an empty piece of size bytes, if the budget has them.
func (h *heldMessage) add(size int) bool {
	if !messageMemory.reserve(int64(size)) {
		return false
	}
	h.charged += int64(size)
	h.pieces = append(h.pieces, make([]byte, 0, size))
	return true
}

// prepend puts a copy of p, the start of the message, before what is held, if the message
// memory budget has room for it; it reports whether it had.
func (h *heldMessage) prepend(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if !messageMemory.reserve(int64(len(p))) {
		return false
	}
	h.charged += int64(len(p))
	h.pieces = slices.Insert(h.pieces, 0, bytes.Clone(p))
	h.n += len(p)
	return true
}

// appendTo appends the held bytes to dst, growing it by exactly that much, and lets them go.
func (h *heldMessage) appendTo(dst []byte) []byte {
	dst = slices.Grow(dst, h.n)
	for _, p := range h.pieces {
		dst = append(dst, p...)
	}
	h.release()
	return dst
}

// drain copies held bytes into p and forgets them; it returns how many it copied.
func (h *heldMessage) drain(p []byte) int {
	n := 0
	for n < len(p) && len(h.pieces) > 0 {
		k := copy(p[n:], h.pieces[0])
		h.pieces[0] = h.pieces[0][k:]
		n += k
		h.n -= k
		if len(h.pieces[0]) == 0 {
			h.pieces = h.pieces[1:]
		}
	}
	if len(h.pieces) == 0 {
		h.release()
	}
	return n
}

func (h *heldMessage) release() {
	if h.charged > 0 {
		messageMemory.release(h.charged)
	}
	clear(h.pieces)
	*h = heldMessage{pieces: h.pieces[:0]}
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
	if len(c.r.queued) > 0 {
		m := c.popQueued()
		if m.err != nil {
			return 0, nil, m.err
		}
		return m.typ, bytes.NewReader(m.data), nil
	}
	typ, err := c.startMessage()
	if err != nil {
		return 0, nil, c.readError(ctx, err)
	}
	c.r.readerCtx = ctx
	return typ, (*messageReader)(c), nil
}

// messageReader is the io.Reader that Reader returns: the connection itself, which keeps the
// message's context, so it is valid until the next call to Reader or ReadMessage.
type messageReader Conn

func (r *messageReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // io.Reader: nothing read, nothing consumed
	}
	c := (*Conn)(r)
	ctx := c.readerContext()
	if ctx == nil {
		ctx = context.Background() // the message has ended: the read reports how
	}
	if err := c.beginRead(ctx); err != nil {
		return 0, err
	}
	defer c.endRead()
	if c.r.held.holding() {
		// What an interrupted ReadMessage had received of this message.
		return c.r.held.drain(p), nil
	}
	if !c.r.handed {
		return 0, io.EOF
	}
	for {
		ev, nin, n := c.r.eng.Next(c.r.buf[c.r.pos:c.r.end], p)
		c.r.pos += nin
		var err error
		switch ev.Kind {
		case engine.MessageEnd:
			c.r.handed = false
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case engine.OutputFull:
			return n, nil
		case engine.NeedInput:
			if n > 0 {
				return n, nil // what there is, rather than waiting for more
			}
			n, err = c.input(p)
		default:
			err = c.control(ev)
		}
		if err != nil {
			if isTimeout(err) {
				c.r.resume = true
			}
			return n, c.readError(ctx, err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// readerContext returns the context of the message Reader returned last, or nil when the reading
// side holds none: the message has ended.
func (c *Conn) readerContext() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r.readState == nil {
		return nil
	}
	return c.r.readerCtx
}

// beginRead takes the read side for one call and applies ctx's deadline to it. A read that
// finds wsx reading by itself (Close waiting for the peer's Close, Ping for its Pong) waits for
// it; one that finds the application reading is refused.
func (c *Conn) beginRead(ctx context.Context) error {
	if !c.r.lock.tryLock() {
		if readOwner(c.r.owner.Load()) == ownerApp {
			return errConcurrentRead
		}
		if err := c.r.lock.lock(ctx); err != nil {
			return err
		}
	}
	c.r.owner.Store(uint32(ownerApp))
	if c.r.err != nil && (c.r.readState == nil || len(c.r.queued) == 0) {
		c.unlockRead()
		return c.r.err
	}
	c.attachRead()
	if limit := c.r.limit.Load(); limit != c.r.engLimit {
		c.r.engLimit = limit
		c.r.eng.SetReadLimit(limit)
	}
	if err := c.r.dl.begin(ctx); err != nil {
		c.unlockRead()
		return err
	}
	return nil
}

func (c *Conn) endRead() {
	c.r.dl.end()
	c.unlockRead()
}

func (c *Conn) unlockRead() {
	if c.r.err != nil {
		c.dropRead()
	}
	c.r.owner.Store(uint32(ownerNone))
	c.r.lock.unlock()
}

// startMessage is nextMessage answering the pings it stops at.
func (c *Conn) startMessage() (MessageType, error) {
	for {
		typ, err := c.nextMessage()
		if err != errPing {
			return typ, err
		}
		if err := c.answerPing(); err != nil {
			return 0, err
		}
	}
}

// nextMessage moves to the next data message: what is left of the one handed to the
// application before is skipped, unless a read of it was cut short by its context (then it goes
// on); a message that wsx's own reading stopped at (Ping) is taken up. It stops at a Ping from
// the peer with errPing, for its caller to answer and call again.
func (c *Conn) nextMessage() (MessageType, error) {
	if c.r.handed {
		if c.r.resume {
			c.r.resume = false
			return c.r.typ, nil
		}
		c.releaseMessage()
		if err := c.skipMessage(); err != nil {
			return 0, err
		}
	}
	c.r.resume = false
	for !c.r.eng.InMessage() {
		ev, nin, _ := c.r.eng.Next(c.r.buf[c.r.pos:c.r.end], nil)
		c.r.pos += nin
		if ev.Kind == engine.MessageStart {
			c.r.typ = MessageType(ev.Opcode)
			break
		}
		if err := c.step(ev); err != nil {
			return 0, err
		}
	}
	c.r.handed = true
	return c.r.typ, nil
}

// skipMessage reads what is left of the message in progress and throws it away.
func (c *Conn) skipMessage() error {
	for {
		ev, nin := c.r.eng.Skip(c.r.buf[c.r.pos:c.r.end])
		c.r.pos += nin
		if ev.Kind == engine.MessageEnd {
			c.r.handed = false
			return nil
		}
		if err := c.step(ev); err != nil {
			return err
		}
	}
}

// step acts on an event that carries no message data: it reads more input for NeedInput,
// stops at a Ping with errPing, and handles the other control frames.
func (c *Conn) step(ev engine.Event) error {
	switch ev.Kind {
	case engine.NeedInput:
		return c.fill()
	case engine.Ping:
		return errPing
	}
	return c.control(ev)
}

// input reads more of the message for the engine: straight into out when the current frame's
// payload is large and out has room for it (the engine then unmasks and checks it), else into
// the read buffer. It returns how many bytes went to out.
func (c *Conn) input(out []byte) (int, error) {
	d := c.r.eng.Direct()
	if size := c.readBufferSize(); d < int64(size) || len(out) < size || c.r.pos != c.r.end {
		return 0, c.fill()
	}
	c.waitingForPeer()
	c.armReadStall()
	n, err := c.nc.Read(out[:min(d, int64(len(out)))])
	if n == 0 {
		return 0, c.ioError(err)
	}
	if e := c.r.eng.Payload(out[:n]); e != nil {
		return n, c.fail(e)
	}
	return n, nil
}

// control acts on an event of the engine other than message data: the peer's Ping (answered
// with a Pong), Pong and Close, or a rule it broke.
func (c *Conn) control(ev engine.Event) error {
	switch ev.Kind {
	case engine.Ping:
		return c.answerPing()
	case engine.Pong:
		p := c.r.eng.Control()
		c.pongReceived(p)
		if c.opts.onPong != nil {
			c.opts.onPong(p)
		}
	case engine.Close:
		return c.peerClosed(StatusCode(ev.Code), c.r.eng.Control())
	case engine.Failed:
		return c.fail(c.r.eng.Err())
	}
	return nil
}

// answerPing answers the Ping the engine just reported with a Pong carrying its payload
// (§5.5.2). A Pong that cannot go out in time is dropped: the peer's next Ping gets the next.
// (It is writeControl made lean: it runs where an idle read loop's stack is deepest, see
// rawconn_unix.go.)
func (c *Conn) answerPing() error {
	if !c.w.frameLock.tryLock() {
		return c.answerPingLater()
	}
	c.beginSend()
	c.boundWrites(time.Now().Add(c.opts.closeTimeout))
	err := c.sendControl(ctlPong, 0, c.r.eng.Control())
	c.boundWrites(time.Time{})
	c.endSend()
	c.w.frameLock.unlock()
	return c.pinged(err)
}

// answerPingLater is answerPing when a frame is being written: it waits its turn.
func (c *Conn) answerPingLater() error {
	return c.pinged(c.writeControl(ctlPong, 0, c.r.eng.Control(), time.Now().Add(c.opts.closeTimeout), nil))
}

// pinged finishes answering a Ping: it reports a Pong that could not go out because the
// connection broke, or whose failure closed it (the peer stalled), and calls OnPing.
func (c *Conn) pinged(err error) error {
	if err != nil && (!isTimeout(err) || c.closing.closed.Load()) {
		return c.setReadErr(err)
	}
	if c.opts.onPing != nil {
		c.opts.onPing(c.r.eng.Control())
	}
	return nil
}

// fill reads more bytes from the connection into the read buffer.
func (c *Conn) fill() error {
	if c.r.pos == c.r.end {
		c.waitingForPeer()
		c.r.pos, c.r.end = 0, 0
		if c.raw.ok() {
			return c.fillRaw()
		}
		c.readBuffer()
	} else if c.r.end == len(c.r.buf) {
		c.r.end = copy(c.r.buf, c.r.buf[c.r.pos:c.r.end])
		c.r.pos = 0
	}
	c.armReadStall()
	n, err := c.nc.Read(c.r.buf[c.r.end:])
	c.r.end += n
	if n > 0 {
		return nil
	}
	return c.ioError(err)
}

// waitingForPeer is called when the reading side has consumed all it has and reads from the
// peer: replies held for coalescing go out now (coalesce.go).
func (c *Conn) waitingForPeer() {
	c.r.more.Store(false)
	if c.w.holding.Load() {
		c.flushHeld()
	}
}

// armReadStall bounds the read that may wait now by the stall timeout while the peer owes us
// the rest of a frame or message, and lifts the bound an earlier read armed once it owes us
// nothing: waiting for the next message is KeepAlive's business, not the stall bound's.
func (c *Conn) armReadStall() {
	if d := c.owedStall(); d > 0 {
		c.r.dl.armStall(0, d)
		c.r.stalling = true
	} else {
		c.progressed()
	}
}

// owedStall returns the stall timeout while the peer owes us the rest of a frame or message,
// and 0 when it owes nothing or there is no stall bound.
func (c *Conn) owedStall() time.Duration {
	if c.r.eng.Idle() {
		return 0
	}
	return c.opts.stallTimeout
}

// progressed lifts the stall bound a read armed.
func (c *Conn) progressed() {
	if c.r.stalling {
		c.r.stalling = false
		c.r.dl.disarmStall()
	}
}

// ioError classifies a failed read: a timeout leaves the connection usable, unless it was the
// stall bound's; anything else ends it (§7.1.5: a connection that ends without a Close frame
// has status 1006).
func (c *Conn) ioError(err error) error {
	if err == nil {
		err = io.ErrNoProgress
	}
	if isTimeout(err) {
		if c.r.dl.stalled() {
			return c.failWith(&ProtocolError{Code: StatusPolicyViolation,
				Rule: "the peer stalled: no data for " + c.opts.stallTimeout.String() + " within a message (StallTimeout)"})
		}
		return err
	}
	// The read side is over: what is buffered will never be read, and a pooled buffer can
	// serve another connection.
	c.r.pos = c.r.end
	c.releaseReadBuffer()
	if c.closing.closed.Load() {
		return c.setReadErr(c.closedError())
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return c.setReadErr(&CloseError{Code: StatusAbnormalClosure, err: err})
}

// setReadErr makes err the answer to every later read, and wakes a Close waiting for the
// peer's Close frame.
func (c *Conn) setReadErr(err error) error {
	if c.r.err == nil {
		c.r.err = err
	}
	c.mu.Lock()
	c.readEnded = true
	rs := c.seldom // somebody waits, if it exists
	c.mu.Unlock()
	if rs != nil {
		rs.readDone.fire()
	}
	return err
}

// readError turns an error of the read side into what the caller sees: a timeout caused by
// ctx becomes ctx's error.
func (c *Conn) readError(ctx context.Context, err error) error {
	if isTimeout(err) {
		return ctxError(ctx, err)
	}
	return err
}

// queuedMessage is a message that Close read while waiting for the peer's Close frame, kept
// for the application's next read, or in place of those it had to drop, the error that says so.
type queuedMessage struct {
	typ  MessageType
	data []byte
	err  error
	held *atomic.Int64 // what the queue holds of the message memory budget
}

// errCloseDropped takes the place of the messages Close had to drop.
var errCloseDropped = errors.New("wsx: messages the peer sent during the closing handshake were dropped: " +
	"the read limit or the process's message memory limit (SetMessageMemoryLimit) had no room for them")

// takeQueued appends the first queued message to dst; there is one. (Not inlined: it would
// double ReadMessage's frame, at the top of an idle read loop's stack, see rawconn_unix.go.)
//
//go:noinline
func (c *Conn) takeQueued(dst []byte) (MessageType, []byte, error) {
	m := c.popQueued()
	return m.typ, append(dst, m.data...), m.err
}

// popQueued takes the first queued message, which then no longer counts against the message
// memory limit; there is one.
func (c *Conn) popQueued() queuedMessage {
	m := c.r.queued[0]
	c.r.queued[0] = queuedMessage{}
	c.r.queued = c.r.queued[1:]
	if m.held != nil {
		m.held.Add(-int64(cap(m.data)))
		messageMemory.release(int64(cap(m.data)))
	}
	return m
}
