package wsx

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/proto"
)

// MessageType is the type of a WebSocket data message (§5.6).
type MessageType int

const (
	// MessageText is a UTF-8 text message. wsx validates text it receives and fails the
	// connection with StatusInvalidFramePayloadData (1007) on invalid UTF-8 (§8.1).
	MessageText MessageType = 1 // the text frame opcode, 0x1 (§5.2)
	// MessageBinary is a binary message.
	MessageBinary MessageType = 2 // the binary frame opcode, 0x2 (§5.2)
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	case MessageText | Uncompressed:
		return "text|uncompressed"
	case MessageBinary | Uncompressed:
		return "binary|uncompressed"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Defaults for ConnOptions. They bound what a misbehaving peer can make a connection hold.
const (
	DefaultReadLimit       = 32 << 20 // bytes in one message, after decompression
	DefaultMaxFragments    = 1 << 17  // frames in one message
	DefaultCloseTimeout    = 5 * time.Second
	DefaultReadBufferSize  = 4096
	DefaultWriteBufferSize = 4096
)

// ConnOptions are the settings of an established connection. AcceptOptions and DialOptions
// embed them; the zero value of every field selects its default.
type ConnOptions struct {
	// ReadLimit is the largest message, in bytes after decompression, that the connection
	// accepts. A larger message fails the connection with StatusMessageTooBig (1009, §10.4).
	// Zero means DefaultReadLimit; a negative value means no limit.
	ReadLimit int64

	// MaxFragments is the largest number of frames one message may span (§10.4). A message
	// with more fails the connection with StatusPolicyViolation (1008). Zero means
	// DefaultMaxFragments; a negative value means no limit.
	MaxFragments int

	// CloseTimeout bounds each wait of the closing handshake: for the peer's Close frame after
	// ours, and for the peer to close TCP after the handshake (§7.1.1). Zero means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size the connection's I/O buffers. Zero means
	// DefaultReadBufferSize or DefaultWriteBufferSize. The read buffer is never smaller than
	// a whole control frame.
	ReadBufferSize  int
	WriteBufferSize int
}

func (o *ConnOptions) readLimit() int64 {
	switch {
	case o.ReadLimit == 0:
		return DefaultReadLimit
	case o.ReadLimit < 0:
		return -1
	}
	return o.ReadLimit
}

func (o *ConnOptions) maxFragments() int {
	switch {
	case o.MaxFragments == 0:
		return DefaultMaxFragments
	case o.MaxFragments < 0:
		return -1
	}
	return o.MaxFragments
}

func (o *ConnOptions) closeTimeout() time.Duration {
	if o.CloseTimeout <= 0 {
		return DefaultCloseTimeout
	}
	return o.CloseTimeout
}

// Conn is a WebSocket connection, from Accept or Dial.
//
// Reads must come from one goroutine at a time (a read that starts while another is in
// progress returns an error). Writes, Ping and Close are safe from any number of goroutines
// and never interleave frames. Control frames from the peer are handled while reading: pings
// are answered and the peer's Close completes the closing handshake, so an application that
// wants pongs or the peer's Close must keep a read going; Close reads by itself when nobody
// else is reading. wsx starts no goroutine of its own for a connection.
type Conn struct {
	nc          net.Conn
	client      bool
	subprotocol string
	extensions  string
	opts        ConnOptions

	// Read side: fields below are used by the goroutine holding readLock.
	readLock  chan struct{} // one-slot lock
	rdl       deadline
	dec       proto.Decoder
	rbuf      []byte  // buffered input is rbuf[rpos:rend]; nil while idle (readwait_unix.go)
	rbufp     *[]byte // rbuf's pool entry, when pooled
	rsize     int     // the read buffer's size
	raw       *rawReader
	rpos      int
	rend      int
	frameOp   frame.Opcode // opcode of the message in progress
	msgOpen   bool         // a message was handed to the reader and its end not yet reached
	msgType   MessageType
	resume    bool   // a read of the open message was cut short by its context
	partial   []byte // what an interrupted ReadMessage had received of the open message
	msgReader messageReader
	queued    []queuedMessage // what Close read before the peer's Close frame
	readErr   error           // sticky: the read side has ended

	// Write side. msgLock serialises data messages, frameLock single frames, so that control
	// frames can go between the fragments of a message (§5.4).
	msgLock   chan struct{}
	frameLock chan struct{}
	wdl       deadline
	enc       proto.Encoder
	wbuf      []byte  // under msgLock
	wbufp     *[]byte // wbuf's pool entry, when pooled
	msgWriter messageWriter
	ctlBuf    [frame.MaxHeaderSize + frame.MaxControlPayload]byte // under frameLock
	iov       [2][]byte
	bufs      net.Buffers
	writeErr  error // under frameLock; sticky

	// Closing.
	closeSent    atomic.Bool   // our Close frame went out (or is going out)
	closed       atomic.Bool   // the TCP connection is closed
	readDone     chan struct{} // closed when the read side ends: the peer's Close, or an error
	readDoneOnce sync.Once
	finishOnce   sync.Once

	deflate *compression // nil unless permessage-deflate was negotiated

	// rawState is what raw points to on sockets: part of the Conn's allocation, not one of
	// its own.
	rawState rawReader

	pings pingWaiters
	group *Group // set by Group.add before the Conn is shared
}

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
	c := &Conn{
		nc:          nc,
		client:      cfg.client,
		subprotocol: cfg.subprotocol,
		extensions:  cfg.extensions,
		opts:        cfg.opts,
		readLock:    make(chan struct{}, 1),
		msgLock:     make(chan struct{}, 1),
		frameLock:   make(chan struct{}, 1),
		readDone:    make(chan struct{}),
	}
	c.rdl.nc = nc
	c.wdl.nc, c.wdl.write = nc, true
	c.dec = proto.Decoder{Client: cfg.client, MaxMessage: c.opts.readLimit(), MaxFragments: c.opts.maxFragments()}
	c.enc = proto.Encoder{Client: cfg.client}
	if cfg.deflate != nil {
		c.dec.Rsv = frame.Rsv1 // RFC 7692 §6: RSV1 marks a compressed message
		c.deflate = newCompression(cfg.deflate, cfg.compression, !cfg.client)
		if limit := c.opts.readLimit(); limit > 0 {
			c.deflate.decomp.SetLimit(limit) // inflate no further than the limit (§10.4)
		}
	}
	c.rsize = c.opts.ReadBufferSize
	if c.rsize <= 0 {
		c.rsize = DefaultReadBufferSize
	}
	c.rsize = max(c.rsize, minReadBuffer)
	if cfg.br != nil && cfg.br.Buffered() > 0 {
		// Frames the peer sent right behind the handshake.
		b, _ := cfg.br.Peek(cfg.br.Buffered())
		if len(b) > c.rsize {
			c.rbuf = make([]byte, len(b))
		} else {
			c.readBuffer()
		}
		c.rend = copy(c.rbuf, b)
	}
	c.initIdleRead()
	return c
}

// readBuffer makes sure the read buffer exists. One of the default size comes from a pool and
// goes back while the connection waits for data (see readwait_unix.go).
func (c *Conn) readBuffer() {
	if c.rbuf != nil {
		return
	}
	if c.rsize == DefaultReadBufferSize {
		c.rbufp = readBuffers.Get().(*[]byte)
		c.rbuf = *c.rbufp
		return
	}
	c.rbuf = make([]byte, c.rsize)
}

// releaseReadBuffer gives a pooled, empty read buffer back.
func (c *Conn) releaseReadBuffer() {
	if c.rbufp != nil && c.rpos == c.rend {
		readBuffers.Put(c.rbufp)
		c.rbufp, c.rbuf = nil, nil
		c.rpos, c.rend = 0, 0
	}
}

var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, DefaultReadBufferSize)
	return &b
}}

// Subprotocol returns the subprotocol agreed in the opening handshake, or "" (§1.9, §4.2.2).
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Extensions returns the Sec-WebSocket-Extensions value agreed in the opening handshake, or "".
func (c *Conn) Extensions() string { return c.extensions }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
