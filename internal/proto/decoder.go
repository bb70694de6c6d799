package proto

import (
	"strings"

	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// Decoder is the receiving half of a WebSocket endpoint. The zero value is a server-side
// decoder with no extension and no limits; set the exported fields before the first frame.
//
// The caller parses a header with frame.Parse and passes it to Frame. For a data frame it then
// passes the payload, in as many pieces as it likes, to Payload until Remaining is zero. For a
// control frame it passes the whole payload (at most 125 bytes, §5.5) to Control.
type Decoder struct {
	Client       bool  // this endpoint is the client: frames must arrive unmasked (§5.1)
	Rsv          byte  // RSV bits that a negotiated extension defines on data messages (§5.8)
	MaxMessage   int64 // largest message in bytes; < 0 or 0 means no limit
	MaxFragments int   // most frames in one message; <= 0 means no limit

	key       [4]byte
	masked    bool
	maskPos   int
	remaining int64 // payload bytes of the current data frame still to come
	fin       bool  // the current data frame ends its message

	inMessage  bool // a data message is in progress: the next data frame must continue it
	text       bool
	compressed bool // the message has RSV1 set (permessage-deflate, RFC 7692 §6)
	size       int64
	fragments  int
	utf8       utf8.Validator
}

// ParseHeader decodes the frame header at the start of b (frame.Parse), turning a malformed
// length (§5.2) into an *Error. It returns frame.ErrShortHeader while b holds part of a header.
func ParseHeader(b []byte) (frame.Header, int, error) {
	h, n, err := frame.Parse(b)
	if err != nil && err != frame.ErrShortHeader {
		return h, 0, &Error{Code: CodeProtocolError, Msg: strings.TrimPrefix(err.Error(), "wsx: ")}
	}
	return h, n, err
}

// Frame checks the header of the frame that arrives next and makes it current. For a data
// frame the caller goes on with Payload; for a control frame, with Control.
func (d *Decoder) Frame(h frame.Header) error {
	// §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked one.
	if h.Masked == d.Client {
		if d.Client {
			return protocolError("masked frame from server (§5.1)")
		}
		return protocolError("unmasked frame from client (§5.1)")
	}
	if h.Opcode.IsReserved() {
		return protocolError("reserved opcode " + h.Opcode.String() + " (§5.2)")
	}
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
		d.key, d.masked = h.Key, h.Masked
		return nil
	}

	if h.Rsv&^d.Rsv != 0 {
		return protocolError("RSV bits set without a negotiated extension (§5.2)")
	}
	if h.Opcode == frame.OpContinuation {
		if !d.inMessage {
			return protocolError("continuation frame without a message to continue (§5.4)")
		}
		if h.Rsv != 0 {
			// RFC 7692 §6.1: RSV1 belongs on the first frame of a message only.
			return protocolError("RSV bits set on a continuation frame (RFC 7692 §6.1)")
		}
	} else {
		if d.inMessage {
			return protocolError("new data message before the last one ended (§5.4)")
		}
		d.inMessage = true
		d.text = h.Opcode == frame.OpText
		d.compressed = h.Rsv&frame.Rsv1 != 0
		d.size = 0
		d.fragments = 0
		d.utf8.Reset()
	}
	d.fragments++
	if d.MaxFragments > 0 && d.fragments > d.MaxFragments {
		return &Error{Code: CodePolicy, Msg: "message spans more frames than the limit (§10.4)"}
	}
	if !d.compressed {
		if err := d.count(h.Length); err != nil {
			return err
		}
	}
	d.key, d.masked, d.maskPos = h.Key, h.Masked, 0
	d.remaining = h.Length
	d.fin = h.Fin
	if h.Length == 0 {
		return d.frameEnd()
	}
	return nil
}

// count adds n bytes to the message size and checks the limit (§10.4).
func (d *Decoder) count(n int64) error {
	d.size += n
	if d.MaxMessage > 0 && (d.size > d.MaxMessage || d.size < 0) {
		return &Error{Code: CodeTooBig, Msg: "message exceeds the read limit (§10.4)"}
	}
	return nil
}

// Payload unmasks p in place and checks it as the next bytes of the current data frame;
// len(p) must not exceed Remaining. Text is validated as it arrives, so bad UTF-8 fails the
// connection at once, even in the middle of a fragmented message (§8.1).
func (d *Decoder) Payload(p []byte) error {
	if d.masked {
		d.maskPos = frame.Mask(d.key, d.maskPos, p)
	}
	d.remaining -= int64(len(p))
	if d.text && !d.compressed && !d.utf8.Write(p) {
		return invalidUTF8
	}
	if d.remaining == 0 {
		return d.frameEnd()
	}
	return nil
}

var invalidUTF8 = &Error{Code: CodeInvalidData, Msg: "invalid UTF-8 in text message (§8.1)"}

func (d *Decoder) frameEnd() error {
	if !d.fin {
		return nil
	}
	d.inMessage = false
	if d.text && !d.compressed && !d.utf8.Complete() {
		return invalidUTF8
	}
	return nil
}

// Inflated checks p, the next bytes a compressed message decompressed to, against the read
// limit and, for text, UTF-8. Call InflatedEnd when the message is complete.
func (d *Decoder) Inflated(p []byte) error {
	if err := d.count(int64(len(p))); err != nil {
		return err
	}
	if d.text && !d.utf8.Write(p) {
		return invalidUTF8
	}
	return nil
}

// InflatedEnd checks that a compressed text message ended on a code point boundary.
func (d *Decoder) InflatedEnd() error {
	if d.text && !d.utf8.Complete() {
		return invalidUTF8
	}
	return nil
}

// Remaining is the number of payload bytes of the current data frame not yet passed to Payload.
func (d *Decoder) Remaining() int64 { return d.remaining }

// InMessage reports whether a data message has started and not yet ended.
func (d *Decoder) InMessage() bool { return d.inMessage }

// Compressed reports whether the current message has RSV1 set (RFC 7692 §6).
func (d *Decoder) Compressed() bool { return d.compressed }

// FinalFrame reports whether the current data frame is the last of its message.
func (d *Decoder) FinalFrame() bool { return d.fin }

// Control unmasks the payload of the current control frame in place. For a Close frame it
// returns the status code and reason (§5.5.1; code 1005 when the payload is empty), failing with
// 1002 for a malformed payload or a code not allowed on the wire (§7.4) and with 1007 for a reason
// that is not UTF-8 (§8.1).
func (d *Decoder) Control(op frame.Opcode, p []byte) (code uint16, reason []byte, err error) {
	if d.masked {
		frame.Mask(d.key, 0, p)
	}
	if op != frame.OpClose {
		return 0, nil, nil
	}
	code, reason, err = frame.ParseClose(p)
	switch err {
	case nil:
		return code, reason, nil
	case frame.ErrCloseReason:
		return 0, nil, &Error{Code: CodeInvalidData, Msg: "close reason is not valid UTF-8 (§5.5.1)"}
	default:
		return 0, nil, &Error{Code: CodeProtocolError, Msg: strings.TrimPrefix(err.Error(), "wsx: ")}
	}
}
