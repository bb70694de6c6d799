package wsx

import "time"

// Defaults for ConnOptions. They bound what a misbehaving peer can make a connection hold.
const (
	DefaultReadLimit       = 32 << 20 // bytes in one message, after decompression
	DefaultMaxFragments    = 1 << 17  // frames in one message
	DefaultCloseTimeout    = 5 * time.Second
	DefaultStallTimeout    = 30 * time.Second // a message in progress, or a write, without progress
	DefaultReadBufferSize  = 4096
	DefaultWriteBufferSize = 4096
)

// ConnOptions are the settings of an established connection. AcceptOptions and DialOptions
// embed them; the zero value of every field selects its default.
type ConnOptions struct {
	// ReadLimit is the largest message, in bytes after decompression, that the connection
	// accepts. A larger message fails the connection with StatusMessageTooBig (1009, §10.4).
	// Zero means DefaultReadLimit; a negative value means no limit. SetReadLimit changes it
	// later.
	ReadLimit int64

	// MaxFragments is the largest number of frames one message may span (§10.4). A message
	// with more fails the connection with StatusPolicyViolation (1008). Zero means
	// DefaultMaxFragments; a negative value means no limit.
	MaxFragments int

	// CloseTimeout bounds each wait of the closing handshake: for the peer's Close frame after
	// ours, and for the peer to close TCP after the handshake (§7.1.1). Zero means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration

	// StallTimeout bounds how long the peer may stall: a message it has started that gets no
	// new bytes for this long fails the connection with StatusPolicyViolation (1008), so that a
	// peer cannot hold a half-sent message's memory forever; a peer that takes none of the
	// bytes wsx writes (it does not read) for this long gets the connection closed, whatever
	// they are (messages, Pongs, Close), and the write reports an error that is a timeout
	// (errors.Is(err, os.ErrDeadlineExceeded)) and names the stall, never the context's error.
	// Through a transport that is not a socket (TLS), progress is seen 256 KiB at a time: a
	// peer that reads less than that in StallTimeout counts as stalled. Waiting between
	// messages is not bounded: that is KeepAlive's business. Zero means DefaultStallTimeout; a
	// negative value means no bound.
	StallTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size the connection's I/O buffers. Zero means
	// DefaultReadBufferSize or DefaultWriteBufferSize. The read buffer is never smaller than
	// a whole control frame, and neither is larger than 1 GiB. Buffers of the default sizes
	// come from pools and go back while the connection waits; others stay with it, and with
	// them the working state of their side (about half a kilobyte, see the package doc).
	ReadBufferSize  int
	WriteBufferSize int

	// OnPing and OnPong, when set, are called by the reading goroutine with the payload of
	// each Ping and Pong the peer sends (after wsx answered the Ping, §5.5.2): for liveness and
	// round-trip measurement. The payload is valid only during the call. They must not block.
	OnPing func(payload []byte)
	OnPong func(payload []byte)
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

func (o *ConnOptions) stallTimeout() time.Duration {
	switch {
	case o.StallTimeout == 0:
		return DefaultStallTimeout
	case o.StallTimeout < 0:
		return 0
	}
	return o.StallTimeout
}
