//go:build !js

package wsx

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/engine"
	"github.com/wsx-go/wsx/internal/frame"
)

// Conn is a WebSocket connection, from Accept or Dial.
//
// Reads must come from one goroutine at a time (a read that starts while another is in
// progress returns an error). Writes, Ping and Close are safe from any number of goroutines
// and never interleave frames. Control frames from the peer are handled while reading: pings
// are answered and the peer's Close completes the closing handshake. Ping and Close read by
// themselves when nobody else is reading; a connection the application only writes to can hand
// its reading to CloseRead. wsx starts no goroutine of its own for a connection.
type Conn struct {
	nc   net.Conn
	raw  rawConn // reads and writes through syscall.RawConn on sockets (rawconn_unix.go)
	opts settings
	ext  *extras // what the handshake negotiated beyond the defaults; &plain for nothing

	// mu guards the swaps of r.readState and w.sendState, w.users, and the making of seldom.
	mu     sync.Mutex
	r      reading
	w      writing
	seldom *rareState // made on first use, under mu

	closing   closing
	client    bool
	readBusy  bool // the last read filled the buffer: the next takes a larger one (under the read lock)
	readEnded bool // the read side has ended (reading.err is set); under mu
}

// settings are the ConnOptions a Conn consults, resolved once and packed (ConnOptions itself
// takes 64 bytes).
type settings struct {
	closeTimeout   time.Duration
	stallTimeout   time.Duration // 0 for none
	maxFragments   int32         // -1 for no limit
	readBuffer     int32         // the read buffer's size
	writeBuffer    int32         // WriteBufferSize as given, 0 for the default
	onPing, onPong func(payload []byte)
}

// maxBufferOption bounds the buffer sizes a Conn takes from ConnOptions.
const maxBufferOption = 1 << 30

func newSettings(o *ConnOptions) settings {
	return settings{
		closeTimeout: o.closeTimeout(),
		stallTimeout: o.stallTimeout(),
		maxFragments: int32(min(o.maxFragments(), math.MaxInt32)),
		readBuffer:   int32(min(max(cmpOr(o.ReadBufferSize, DefaultReadBufferSize), minReadBuffer), maxBufferOption)),
		writeBuffer:  int32(min(max(o.WriteBufferSize, 0), maxBufferOption)),
		onPing:       o.OnPing,
		onPong:       o.OnPong,
	}
}

// extras is what the opening handshake negotiated beyond the defaults.
type extras struct {
	subprotocol string
	extensions  string
	inflater    *deflate.Decompressor // permessage-deflate, receiving
	sender      engine.SenderConfig   // permessage-deflate, sending
}

// plain is the extras of every connection that negotiated nothing: a server's, and a client's
// (their engines take Conn.client). It is never written.
var plain extras

// rareState is what a Conn needs only when somebody waits for it (a second Close, a Ping, the
// end of the read side), or a Group holds it.
type rareState struct {
	closeDone signal // the first Close has finished
	closeErr  error  // what the first Close returned
	readDone  signal // the read side has ended: the peer's Close, or an error
	pings     pingWaiters
	watcher   closeWatcher // told when the transport closes (a Group)
}

// rare returns c's rareState, making it on first use.
func (c *Conn) rare() *rareState {
	c.mu.Lock()
	if c.seldom == nil {
		c.seldom = new(rareState)
		c.seldom.readDone.fired = c.readEnded // nobody else has it yet
	}
	m := c.seldom
	c.mu.Unlock()
	return m
}

// madeRare returns c's rareState if it has been made, else nil.
func (c *Conn) madeRare() *rareState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seldom
}

// reading is the receiving side of a Conn. Its working state belongs to the goroutine that
// holds lock.
type reading struct {
	lock  waitLock
	owner atomic.Uint32 // who holds lock: a readOwner
	more  atomic.Bool   // input for the next message is buffered: replies may be held (coalesce.go)
	limit atomic.Int64
	err   error    // sticky: the read side has ended
	watch ctxWatch // of the reads' context (deadline.go)

	*readState // nil while idle
}

// readState is the working state of the receiving side.
type readState struct {
	dl       deadline
	eng      engine.Receiver
	engLimit int64 // the read limit the engine has
	stalling bool  // a read armed the stall bound, and it has not been lifted since

	buf  []byte  // input read and not yet consumed is buf[pos:end]; nil while idle
	bufp *[]byte // buf's pool entry, when pooled
	pos  int
	end  int

	typ       MessageType     // the message the engine is in
	handed    bool            // that message was handed to the application (a read began it)
	resume    bool            // a read of the message was cut short by its context: the next goes on with it
	queuing   bool            // Close reads messages for the application (queueUntilClose)
	held      heldMessage     // what wsx holds of the message for an interrupted or growing ReadMessage
	grown     int64           // what growing the caller's buffer for the message took of the message memory budget
	queued    []queuedMessage // what Close read before the peer's Close frame
	readerCtx context.Context // the context of the message Reader returned
}

// readOwner says who holds the read lock: the application waits for wsx's own readers (Close,
// Ping) instead of being refused as a concurrent reader.
type readOwner uint8

const (
	ownerNone readOwner = iota
	ownerApp
	ownerWSX
)

// writing is the sending side of a Conn. msgLock serialises data messages, frameLock single
// frames, so that control frames can go between the fragments of a message (§5.4).
type writing struct {
	msgLock   waitLock
	frameLock waitLock
	err       error    // under frameLock; sticky
	watch     ctxWatch // of the writes' context (deadline.go)

	holding      atomic.Bool // held has frames (coalesce.go)
	users        int16       // holders of msgLock and frameLock using sendState; under Conn.mu
	writerClosed bool        // the message writer was closed; under msgLock
	flushTimer   *time.Timer // bounds how long frames are held

	*sendState // nil while no write is in progress and nothing is pending
}

// sendState is the working state of the sending side.
type sendState struct {
	c   *Conn
	dl  deadline
	eng engine.Sender // under frameLock (its compressor under msgLock)

	buf  []byte  // under msgLock
	bufp *[]byte // buf's pool entry, when pooled
	msg  messageState
	ctl  [frame.MaxHeaderSize + frame.MaxControlPayload]byte // under frameLock
	iov  [2][]byte
	bufs net.Buffers
	// When the peer stopped taking our bytes, while writes that waited for it got nothing out
	// (Pongs dropped after their bound); 0 while it takes them. Under frameLock.
	stalledSince int64

	held *[]byte // data frames held for coalescing, under frameLock (coalesce.go)

	raw rawWrites // the write in progress through syscall.RawConn (rawconn_unix.go)
}

// closeWatcher is told when a connection's transport has been closed.
type closeWatcher interface{ connClosed(*Conn) }

// connConfig is what accept and dial hand to newConn after a successful handshake.
type connConfig struct {
	client      bool
	br          *bufio.Reader // bytes the handshake read past the HTTP request or response; may be nil
	subprotocol string
	extensions  string // the negotiated Sec-WebSocket-Extensions value, "" for none
	opts        ConnOptions
	deflate     *deflate.Params // negotiated permessage-deflate parameters, or nil
	compression deflate.Config  // our side's compression settings, with deflate
}

// minReadBuffer holds the largest frame header with a whole control frame (§5.5).
const minReadBuffer = 2 * (frame.MaxHeaderSize + frame.MaxControlPayload)

// newConn starts the WebSocket protocol on nc after a successful opening handshake.
func newConn(nc net.Conn, cfg connConfig) *Conn {
	c := &Conn{nc: nc, client: cfg.client, opts: newSettings(&cfg.opts), ext: &plain}
	rcfg, scfg := cfg.engines()
	c.r.limit.Store(rcfg.ReadLimit)
	if cfg.subprotocol != "" || cfg.extensions != "" || cfg.deflate != nil {
		c.ext = &extras{subprotocol: cfg.subprotocol, extensions: cfg.extensions, inflater: rcfg.Inflater, sender: scfg}
	}
	if cfg.br != nil && cfg.br.Buffered() > 0 {
		// Frames the peer sent right behind the handshake.
		c.adoptRead(new(readState))
		b, _ := cfg.br.Peek(cfg.br.Buffered())
		if len(b) > c.readBufferSize() {
			c.r.buf = make([]byte, len(b))
		} else {
			c.readBuffer()
		}
		c.r.end = copy(c.r.buf, b)
	}
	c.initRaw()
	return c
}

// engines returns the configurations of the engine's two halves for a connection set up with
// cfg.
func (cfg *connConfig) engines() (engine.Config, engine.SenderConfig) {
	rcfg := engine.Config{Client: cfg.client, ReadLimit: cfg.opts.readLimit(), MaxFragments: cfg.opts.maxFragments()}
	scfg := engine.SenderConfig{Client: cfg.client}
	if cfg.deflate != nil {
		server := !cfg.client
		rcfg.Inflater = cfg.deflate.NewDecompressor(server)
		scfg.Compressor = cfg.deflate.NewCompressor(server, cfg.compression.Level)
		scfg.Compression = cfg.compression
	}
	return rcfg, scfg
}

// adoptRead makes st, a zero readState, the reading side's working state.
func (c *Conn) adoptRead(st *readState) {
	st.dl.owner, st.dl.watch = c, &c.r.watch
	st.engLimit = c.r.limit.Load()
	st.eng.Init(engine.Config{Client: c.client, ReadLimit: st.engLimit, MaxFragments: int(c.opts.maxFragments), Inflater: c.ext.inflater})
	c.mu.Lock()
	st.dl.ended = c.closing.closed.Load() // closeTransport no longer releases what it cannot see
	c.r.readState = st
	c.mu.Unlock()
}

// cmpOr returns v, or def when v is not positive.
func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// readBufferSize returns the size of the connection's read buffer.
func (c *Conn) readBufferSize() int { return int(c.opts.readBuffer) }

// readBuffer makes sure the read buffer exists. One of the default size comes from a pool and
// goes back while the connection waits for data (rawconn_unix.go).
func (c *Conn) readBuffer() {
	if c.pooledReadBuffer() {
		return
	}
	size := c.readBufferSize()
	pooled := size == DefaultReadBufferSize
	if c.readBusy {
		size = busyReadBufferSize
	}
	b := make([]byte, size)
	c.r.buf = b
	if pooled {
		c.r.bufp = &b
	}
}

// busyReadBufferSize is the read buffer of a connection whose last read filled its buffer: the
// peer sends faster than one buffer a read (pipelined messages), and larger reads take fewer
// system calls. It goes back to its pool when the socket runs dry, as the small one does.
const busyReadBufferSize = 64 << 10

// pooledReadBuffer makes sure the read buffer exists if it can without allocating: it reports
// false when a buffer of the default size is needed and the pool has none. (The raw read path
// calls it where the stack has no room for the allocator's call chain.)
func (c *Conn) pooledReadBuffer() bool {
	if c.r.buf != nil {
		return true
	}
	if c.readBufferSize() != DefaultReadBufferSize {
		return false
	}
	pool := &readBuffers
	if c.readBusy {
		pool = &busyReadBuffers
	}
	bp, _ := pool.Get().(*[]byte)
	if bp == nil {
		return false
	}
	c.r.bufp, c.r.buf = bp, *bp
	return true
}

// releaseReadBuffer gives a pooled, empty read buffer back.
func (c *Conn) releaseReadBuffer() {
	if c.r.bufp != nil && c.r.pos == c.r.end {
		if len(c.r.buf) == busyReadBufferSize {
			busyReadBuffers.Put(c.r.bufp)
		} else {
			readBuffers.Put(c.r.bufp)
		}
		c.r.bufp, c.r.buf = nil, nil
		c.r.pos, c.r.end = 0, 0
	}
}

// readBuffers and busyReadBuffers hold read buffers of the default and the busy size (*[]byte).
var readBuffers, busyReadBuffers sync.Pool

// Subprotocol returns the subprotocol agreed in the opening handshake, or "" (§1.9, §4.2.2).
func (c *Conn) Subprotocol() string { return c.ext.subprotocol }

// Extensions returns the Sec-WebSocket-Extensions value agreed in the opening handshake, or "".
func (c *Conn) Extensions() string { return c.ext.extensions }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadLimit changes the largest message the connection accepts, as a server does once a
// client has authenticated; n means what ConnOptions.ReadLimit means (0 the default, negative no
// limit). It is safe to call at any time and applies from the next read call on.
func (c *Conn) SetReadLimit(n int64) {
	o := ConnOptions{ReadLimit: n}
	c.r.limit.Store(o.readLimit())
}

// isTimeout reports whether err is a network timeout. (It walks the chain by hand: errors.As
// costs thousands of instructions and grows a small stack.)
func isTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok {
			return t.Timeout()
		}
		err = errors.Unwrap(err)
	}
	return false
}
