package engine

import (
	"errors"
	"io"
	"sync"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// Kind says what Receiver.Next found.
type Kind uint8

const (
	// NeedInput: every byte of in was consumed (a partial frame header or control frame is kept
	// inside the Receiver); call again with more.
	NeedInput Kind = iota
	// OutputFull: out is full and the message goes on; call again with more room.
	OutputFull
	// MessageStart: a data message begins; Event.Opcode is frame.OpText or frame.OpBinary.
	MessageStart
	// MessageEnd: the data message is complete; all of its payload has been written to out.
	MessageEnd
	// Ping: the peer sent a Ping (payload: Receiver.Control), to be answered with a Pong
	// (§5.5.2).
	Ping
	// Pong: the peer sent a Pong (payload: Receiver.Control) (§5.5.3).
	Pong
	// Close: the peer sent a Close frame (§5.5.1) with Event.Code (1005 when it carried none)
	// and a reason (Receiver.Control). The peer sends nothing more; every later call returns
	// this event again.
	Close
	// Failed: the peer broke a rule (Receiver.Err). The connection must be failed with that
	// rule's code (§7.1.7); every later call returns this event again.
	Failed
)

// Event is what Receiver.Next returns. It is a few bytes, so that it travels in registers: a
// driver's call chain stays shallow (see wsx's rawconn_unix.go).
type Event struct {
	Kind   Kind
	Opcode frame.Opcode // MessageStart: the message's type
	Code   uint16       // Close: the status code
}

// Config is what a Receiver needs to know of the connection.
type Config struct {
	Client       bool                  // this endpoint is the client: frames arrive unmasked (§5.1)
	ReadLimit    int64                 // largest message in bytes, after decompression; <= 0 means none (§10.4)
	MaxFragments int                   // most frames in one message; <= 0 means none (§10.4)
	Inflater     *deflate.Decompressor // set when permessage-deflate was negotiated (RFC 7692)
}

// Receiver states.
const (
	stHeader  = iota // expecting a frame header (possibly part of it kept in hdr)
	stData           // in the payload of a data frame
	stControl        // collecting the payload of a control frame in ctl
	stClosed         // the peer's Close was received
	stFailed         // the peer broke a rule
)

// Receiver is the receiving half of a WebSocket endpoint. Its zero value is not usable: call
// Init first. It is not safe for concurrent use.
type Receiver struct {
	client       bool
	limit        int64
	maxFragments int
	inflater     *deflate.Decompressor
	rsv          byte // RSV bits a negotiated extension defines (RFC 7692 §6: RSV1)

	state int

	// The frame being read.
	hdr       [frame.MaxHeaderSize]byte // a header that arrived in pieces
	hdrLen    int
	fin       bool
	masked    bool
	key       [4]byte
	maskPos   int
	remaining int64 // payload bytes of the frame not yet consumed
	ctl       [frame.MaxControlPayload]byte
	ctlLen    int
	ctlOp     frame.Opcode
	code      uint16 // the peer's close code, once received

	// The data message being read.
	inMessage  bool
	msgOp      frame.Opcode
	compressed bool
	size       int64 // bytes of an uncompressed message counted against the limit
	fragments  int
	utf8       utf8.Validator
	unmasked   int  // compressed payload bytes at the front of the next input that are unmasked already
	held       bool // the decompressor filled the output: it may hold more without new input

	err *Error
}

// Init prepares r for a connection.
func (r *Receiver) Init(cfg Config) {
	*r = Receiver{client: cfg.Client, maxFragments: cfg.MaxFragments, inflater: cfg.Inflater}
	if cfg.Inflater != nil {
		r.rsv = frame.Rsv1
	}
	r.SetReadLimit(cfg.ReadLimit)
}

// SetReadLimit changes the largest message accepted, from the next byte counted on; <= 0
// means no limit.
func (r *Receiver) SetReadLimit(n int64) {
	r.limit = max(n, 0)
	if r.inflater != nil {
		r.inflater.SetLimit(r.limit)
	}
}

// Next consumes input bytes from in and writes the payload of data messages, unmasked and
// inflated, to out, until it has something to report. It returns the event with the number of
// bytes consumed from in and written to out. Bytes of in that were not consumed must be passed
// again, unchanged, at the start of the next call's in; in may be modified (payload is unmasked
// in place).
//
// Payload written before an event belongs to the message in progress: a Ping between the
// fragments of a message comes back with the payload that preceded it.
func (r *Receiver) Next(in, out []byte) (ev Event, nin, nout int) {
	return r.next(in, out, false)
}

// Skip is Next for a message the application does not want: its payload is checked (UTF-8,
// limits, decompression) and thrown away. It never returns OutputFull.
func (r *Receiver) Skip(in []byte) (ev Event, nin int) {
	ev, nin, _ = r.next(in, nil, true)
	return ev, nin
}

func (r *Receiver) next(in, out []byte, skip bool) (Event, int, int) {
	nin, nout := 0, 0
	for {
		switch r.state {
		case stHeader:
			h, n, ok := r.header(in[nin:])
			nin += n
			if !ok {
				if r.state == stFailed {
					return r.failed(), nin, nout
				}
				return Event{Kind: NeedInput}, nin, nout
			}
			if err := r.frame(h); err != nil {
				return r.fail(err), nin, nout
			}
			if r.state == stData && r.fragments == 1 {
				return Event{Kind: MessageStart, Opcode: r.msgOp}, nin, nout
			}

		case stData:
			if r.compressed {
				ev, ok := r.inflate(in, out, skip, &nin, &nout)
				if ok {
					return ev, nin, nout
				}
				continue
			}
			if r.remaining == 0 {
				if !r.fin {
					r.state = stHeader
					continue
				}
				r.state, r.inMessage = stHeader, false
				if r.msgOp == frame.OpText && !r.utf8.Complete() {
					return r.fail(errInvalidUTF8), nin, nout
				}
				return Event{Kind: MessageEnd}, nin, nout
			}
			k := len(in) - nin
			if k == 0 {
				return Event{Kind: NeedInput}, nin, nout
			}
			if !skip {
				if len(out) == nout {
					return Event{Kind: OutputFull}, nin, nout
				}
				k = min(k, len(out)-nout)
			}
			k = int(min(int64(k), r.remaining))
			p := in[nin : nin+k]
			if !skip {
				p = out[nout : nout+copy(out[nout:], p)]
				nout += k
			}
			nin += k
			if r.Payload(p) != nil {
				return r.failed(), nin, nout
			}

		case stControl:
			k := int(min(int64(len(in)-nin), r.remaining))
			r.ctlLen += copy(r.ctl[r.ctlLen:], in[nin:nin+k])
			nin += k
			r.remaining -= int64(k)
			if r.remaining > 0 {
				return Event{Kind: NeedInput}, nin, nout
			}
			return r.control(), nin, nout

		case stClosed:
			return Event{Kind: Close, Code: r.code}, nin, nout

		default: // stFailed
			return r.failed(), nin, nout
		}
	}
}

// header parses the frame header at the start of in, or completes one that arrived in pieces.
// It returns the bytes of in it consumed, and ok when a whole header was read; a malformed
// header fails the receiver.
func (r *Receiver) header(in []byte) (h frame.Header, n int, ok bool) {
	var err error
	if r.hdrLen == 0 {
		h, n, err = frame.Parse(in)
		if err == frame.ErrShortHeader {
			// A short header is shorter than MaxHeaderSize: keep it whole.
			r.hdrLen = copy(r.hdr[:], in)
			return h, len(in), false
		}
	} else {
		k := copy(r.hdr[r.hdrLen:], in)
		h, n, err = frame.Parse(r.hdr[:r.hdrLen+k])
		if err == frame.ErrShortHeader {
			r.hdrLen += k
			return h, k, false
		}
		n -= r.hdrLen // what the header took of in
		r.hdrLen = 0
	}
	if err != nil {
		r.fail(protocolError(err.Error()))
		return h, 0, false
	}
	return h, n, true
}

// frame checks the header of the frame that arrived and makes it current.
func (r *Receiver) frame(h frame.Header) *Error {
	// §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked one.
	if h.Masked == r.client {
		if r.client {
			return protocolError("masked frame from server (§5.1)")
		}
		return protocolError("unmasked frame from client (§5.1)")
	}
	if h.Opcode.IsReserved() {
		return protocolError("reserved opcode " + h.Opcode.String() + " (§5.2)")
	}
	r.key, r.masked, r.maskPos = h.Key, h.Masked, 0
	r.remaining = h.Length
	if h.Opcode.IsControl() {
		// §5.5: control frames carry at most 125 bytes and are never fragmented.
		if !h.Fin {
			return protocolError("fragmented " + h.Opcode.String() + " frame (§5.5)")
		}
		if h.Length > frame.MaxControlPayload {
			return protocolError(h.Opcode.String() + " frame payload over 125 bytes (§5.5)")
		}
		if h.Rsv != 0 {
			return protocolError("RSV bits set on a control frame (§5.2)")
		}
		r.state, r.ctlOp, r.ctlLen = stControl, h.Opcode, 0
		return nil
	}

	if h.Rsv&^r.rsv != 0 {
		return protocolError("RSV bits set without a negotiated extension (§5.2)")
	}
	if h.Opcode == frame.OpContinuation {
		if !r.inMessage {
			return protocolError("continuation frame without a message to continue (§5.4)")
		}
		if h.Rsv != 0 {
			// RFC 7692 §6.1: RSV1 belongs on the first frame of a message only.
			return protocolError("RSV bits set on a continuation frame (RFC 7692 §6.1)")
		}
	} else {
		if r.inMessage {
			return protocolError("new data message before the last one ended (§5.4)")
		}
		r.inMessage, r.msgOp = true, h.Opcode
		r.compressed = h.Rsv&frame.Rsv1 != 0
		r.size, r.fragments = 0, 0
		r.utf8.Reset()
	}
	r.fragments++
	if r.maxFragments > 0 && r.fragments > r.maxFragments {
		return errTooManyFrames
	}
	if !r.compressed {
		// The frame's length counts at once: a message announced over the limit fails before
		// its payload arrives. A compressed message is counted as it inflates, by the
		// decompressor, which stops at the limit.
		if err := r.count(h.Length); err != nil {
			return err
		}
	}
	r.fin = h.Fin
	r.state = stData
	return nil
}

// count adds n bytes to the message's size and checks the read limit (§10.4).
func (r *Receiver) count(n int64) *Error {
	r.size += n
	if r.limit > 0 && (r.size > r.limit || r.size < 0) {
		return errTooBig
	}
	return nil
}

// Direct reports how many bytes that follow in the input are payload of the current
// uncompressed data frame: a driver may read that many straight into the message's buffer and
// hand them to Payload instead of passing them through Next. It is 0 when the next bytes must
// go through Next.
func (r *Receiver) Direct() int64 {
	if r.state != stData || r.compressed {
		return 0
	}
	return r.remaining
}

// Final reports whether the data frame whose payload Direct counts is the last of its message
// (FIN, §5.4): when Direct bytes are all in the input, a driver may then hand the message to
// the application straight from its input, without copying it.
func (r *Receiver) Final() bool { return r.state == stData && r.fin }

// Payload takes p, the next len(p) <= Direct() payload bytes of the current frame, read
// straight into the message's buffer: it unmasks them in place and checks them. Next reports
// the frame's and the message's end; an error fails the receiver as Next would.
func (r *Receiver) Payload(p []byte) *Error {
	if r.masked {
		r.maskPos = frame.Mask(r.key, r.maskPos, p)
	}
	r.remaining -= int64(len(p))
	if r.msgOp == frame.OpText && !r.utf8.Write(p) {
		r.fail(errInvalidUTF8)
		return errInvalidUTF8
	}
	return nil
}

// inflate runs the decompressor over the payload of a compressed message (RFC 7692 §6.2). It
// reports an event to return, or false to go on with the next frame.
func (r *Receiver) inflate(in, out []byte, skip bool, nin, nout *int) (Event, bool) {
	if skip {
		b := scratchPool.Get().(*[4096]byte)
		defer scratchPool.Put(b)
		out, *nout = b[:], 0
	}
	for {
		k := int(min(int64(len(in)-*nin), r.remaining))
		final := r.fin && int64(k) == r.remaining
		if !final && k == 0 && !r.held {
			if r.remaining == 0 {
				r.state = stHeader // the message goes on in the next frame
				return Event{}, false
			}
			return Event{Kind: NeedInput}, true
		}
		if skip {
			*nout = 0
		}
		dst := out[*nout:]
		if len(dst) == 0 && !final {
			return Event{Kind: OutputFull}, true
		}
		src := in[*nin : *nin+k]
		if r.masked && k > r.unmasked {
			r.maskPos = frame.Mask(r.key, r.maskPos, src[r.unmasked:])
			r.unmasked = k
		}
		n, used, err := r.inflater.Inflate(dst, src, final)
		// A full output may leave output behind in the decompressor (the rest of a
		// back-reference, bits it read ahead): it must be asked again even without input.
		r.held = n == len(dst)
		*nin += used
		*nout += n
		r.remaining -= int64(used)
		r.unmasked -= used
		if r.msgOp == frame.OpText && !r.utf8.Write(dst[:n]) {
			return r.fail(errInvalidUTF8), true
		}
		switch {
		case err == io.EOF:
			r.state, r.inMessage = stHeader, false
			if r.msgOp == frame.OpText && !r.utf8.Complete() {
				return r.fail(errInvalidUTF8), true
			}
			return Event{Kind: MessageEnd}, true
		case errors.Is(err, deflate.ErrTooLarge):
			return r.fail(errInflatedTooBig), true
		case err != nil:
			return r.fail(&Error{Code: CodeInvalidData, Rule: "invalid compressed data: " + err.Error() + " (RFC 7692 §6.2)"}), true
		case final && n == 0 && used == 0 && len(dst) > 0:
			// The decompressor has had everything and still wants more.
			return r.fail(errTruncatedStream), true
		case n == len(dst) && !skip:
			return Event{Kind: OutputFull}, true
		}
	}
}

// control acts on a whole control frame (§5.5).
func (r *Receiver) control() Event {
	p := r.ctl[:r.ctlLen]
	if r.masked {
		frame.Mask(r.key, 0, p)
	}
	r.state = stHeader
	switch r.ctlOp {
	case frame.OpPing:
		return Event{Kind: Ping}
	case frame.OpPong:
		return Event{Kind: Pong}
	}
	code, _, err := frame.ParseClose(p)
	switch err {
	case nil:
	case frame.ErrCloseReason:
		return r.fail(&Error{Code: CodeInvalidData, Rule: "close reason is not valid UTF-8 (§5.5.1)"})
	default:
		return r.fail(protocolError(err.Error()))
	}
	r.state, r.code = stClosed, code
	return Event{Kind: Close, Code: code}
}

// Control returns the payload of the Ping or Pong Next just reported, or the reason of the
// peer's Close. It is valid until the next call to Next.
func (r *Receiver) Control() []byte {
	if r.state == stClosed {
		return r.ctl[min(2, r.ctlLen):r.ctlLen]
	}
	return r.ctl[:r.ctlLen]
}

// Err returns the rule the peer broke, once Next has reported Failed.
func (r *Receiver) Err() *Error { return r.err }

func (r *Receiver) fail(err *Error) Event {
	r.state, r.err = stFailed, err
	return r.failed()
}

func (r *Receiver) failed() Event { return Event{Kind: Failed} }

// InMessage reports whether a data message has started and not yet ended.
func (r *Receiver) InMessage() bool { return r.inMessage }

// Idle reports whether the receiver is between frames and messages, holding no part of one:
// an event loop may then keep the connection without any buffer.
func (r *Receiver) Idle() bool { return r.state == stHeader && r.hdrLen == 0 && !r.inMessage }

// Closed reports whether the peer's Close has been received.
func (r *Receiver) Closed() bool { return r.state == stClosed }

// scratchPool holds what skipped compressed messages inflate to.
var scratchPool = sync.Pool{New: func() any { return new([4096]byte) }}
