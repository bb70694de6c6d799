package engine

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/utf8"
)

// Errors of the sending half: the application asked for something the protocol forbids.
var (
	// ErrCloseSent: no data frame may follow our Close frame (§5.5.1).
	ErrCloseSent = errors.New("close frame already sent (§5.5.1)")
	// ErrInvalidText: a text message must be UTF-8 (§5.6, §8.1); nothing of it was sent.
	ErrInvalidText = errors.New("text message is not valid UTF-8 (§8.1)")
	// ErrIncompleteText: a streamed text message ended inside a code point (§8.1); its last
	// bytes were not sent.
	ErrIncompleteText = errors.New("text message ends inside a UTF-8 code point (§8.1): its incomplete last bytes were not sent")
	// ErrControlTooLong: a control frame carries at most 125 bytes (§5.5).
	ErrControlTooLong = errors.New("control frame payload over 125 bytes (§5.5)")
	// ErrCloseCode: the status code may not be sent in a Close frame (§7.4).
	ErrCloseCode = errors.New("status code may not be sent in a close frame (§7.4)")
	// ErrCloseReason: a close reason is at most 123 bytes of UTF-8 (§5.5, §5.5.1).
	ErrCloseReason = errors.New("close reason must be at most 123 bytes of UTF-8 (§5.5.1)")
)

// SenderConfig is what a Sender needs to know of the connection.
type SenderConfig struct {
	Client      bool                // this endpoint is the client: every frame is masked (§5.3)
	Compressor  *deflate.Compressor // set when permessage-deflate was negotiated (RFC 7692)
	Compression deflate.Config      // our side's settings, with Compressor
}

// Sender is the sending half of a WebSocket endpoint. Its zero value is a server without
// extensions; call Init for anything else. It is not safe for concurrent use: the driver
// serialises frames (Data, Undo, the Append methods), and data messages among themselves (the
// compressor, StreamText and EndText), so that control frames can go between the fragments of
// a message.
type Sender struct {
	client    bool
	comp      *deflate.Compressor
	cfg       deflate.Config
	inMessage bool           // a message has sent frames and not yet its final one
	text      utf8.Validator // a streamed text message so far
	closeSent bool
}

// Init prepares s for a connection.
func (s *Sender) Init(cfg SenderConfig) {
	*s = Sender{client: cfg.Client, comp: cfg.Compressor, cfg: cfg.Compression}
}

// Compresses reports whether a whole message of n bytes goes out compressed: permessage-deflate
// is on and the message is not below the threshold.
func (s *Sender) Compresses(n int) bool { return s.comp != nil && s.cfg.Compress(n) }

// Compressing reports whether permessage-deflate is on for what we send.
func (s *Sender) Compressing() bool { return s.comp != nil }

// Compressor is the connection's compressor, nil without permessage-deflate. The caller
// serialises its use with that of the data messages.
func (s *Sender) Compressor() *deflate.Compressor { return s.comp }

// CheckText reports ErrInvalidText when p, a whole text message, is not UTF-8 (§8.1): it must
// not go out.
func CheckText(p []byte) error {
	if !utf8.Valid(p) {
		return ErrInvalidText
	}
	return nil
}

// StreamText checks p as the next part of a streamed text message: ErrInvalidText means it is
// not UTF-8. A code point split between two parts is fine; the bytes of one that is not
// complete yet may only go out with the bytes that complete it (utf8.IncompleteSuffix), and
// EndText reports one left incomplete at the message's end.
func (s *Sender) StreamText(p []byte) error {
	if !s.text.Write(p) {
		return ErrInvalidText
	}
	return nil
}

// EndText ends a streamed text message: ErrIncompleteText when it ends inside a code point.
func (s *Sender) EndText() error {
	ok := s.text.Complete()
	s.text.Reset()
	if !ok {
		return ErrIncompleteText
	}
	return nil
}

// Data returns the header of the next frame of the data message of type op (frame.OpText or
// frame.OpBinary) being sent: the first frame names the type and carries rsv (RFC 7692 §6.1:
// RSV1 marks a compressed message, on its first frame only), later frames are continuations
// (§5.4); fin ends the message. A client's frame gets a fresh masking key (§5.3).
func (s *Sender) Data(op frame.Opcode, rsv byte, fin bool, n int64) (frame.Header, error) {
	if s.closeSent {
		return frame.Header{}, ErrCloseSent
	}
	h := frame.Header{Fin: fin, Opcode: op, Length: n}
	if s.inMessage {
		h.Opcode = frame.OpContinuation
	} else {
		h.Rsv = rsv
	}
	s.inMessage = !fin
	s.mask(&h)
	return h, nil
}

// Undo forgets the data frame with header h, made by Data but never sent, so that the next
// call to Data makes the same frame again.
func (s *Sender) Undo(h frame.Header) {
	s.inMessage = h.Opcode == frame.OpContinuation // the state before Data made h
}

// AppendPing appends a Ping frame with payload p to dst (§5.5.2).
func (s *Sender) AppendPing(dst, p []byte) ([]byte, error) {
	if s.closeSent {
		return dst, ErrCloseSent
	}
	return s.appendControl(dst, frame.OpPing, p)
}

// AppendPong appends the Pong that answers a Ping with payload p (§5.5.2), unless our Close
// went out: then there is nothing to answer (§5.5.1), and ok is false.
func (s *Sender) AppendPong(dst, p []byte) (_ []byte, ok bool) {
	if s.closeSent {
		return dst, false
	}
	dst, err := s.appendControl(dst, frame.OpPong, p)
	return dst, err == nil
}

// AppendClose appends our Close frame with code and reason (§5.5.1) and starts the closing
// handshake: no data frame may follow. Code 1005 sends a Close without a status. It fails with
// ErrCloseSent when a Close went out already, and ErrCloseCode or ErrCloseReason for what may
// not be sent (§7.4, §5.5).
func (s *Sender) AppendClose(dst []byte, code uint16, reason []byte) ([]byte, error) {
	if err := CheckClose(code, reason); err != nil {
		return dst, err
	}
	if s.closeSent {
		return dst, ErrCloseSent
	}
	s.closeSent = true
	return s.appendControl(dst, frame.OpClose, closePayload(code, reason))
}

// CheckClose reports whether code and reason may go in a Close frame: ErrCloseCode for a code
// that may not be sent (§7.4; 1005 stands for a Close without a status), ErrCloseReason for a
// reason over 123 bytes or not UTF-8 (§5.5, §5.5.1).
func CheckClose(code uint16, reason []byte) error {
	if code != noStatus && !frame.ValidCloseCode(code) {
		return ErrCloseCode
	}
	if len(reason) > frame.MaxControlPayload-2 || !utf8.Valid(reason) {
		return ErrCloseReason
	}
	return nil
}

// closePayload is the payload of a Close frame: the code and the reason, or nothing for 1005.
func closePayload(code uint16, reason []byte) []byte {
	var payload [frame.MaxControlPayload]byte
	if code == noStatus {
		return nil
	}
	return append(binary.BigEndian.AppendUint16(payload[:0], code), reason...)
}

// AppendCloseReply appends the answer to the peer's Close (§5.5.1): the same code and reason,
// so that the peer sees what was agreed (a Close without a status, code 1005, is answered
// likewise). ok is false when our Close went out already: the handshake is then complete.
func (s *Sender) AppendCloseReply(dst []byte, code uint16, reason []byte) (_ []byte, ok bool) {
	if s.closeSent {
		return dst, false
	}
	s.closeSent = true
	dst, _ = s.appendControl(dst, frame.OpClose, closePayload(code, reason))
	return dst, true
}

// noStatus is the code that stands for a Close frame without a status (§7.4.1).
const noStatus = 1005

// CloseSent reports whether our Close frame went out (or is going out).
func (s *Sender) CloseSent() bool { return s.closeSent }

// Idle reports whether s is as Init left it: no message in progress, no Close sent. A driver
// may then drop s and Init another in its place.
func (s *Sender) Idle() bool { return !s.inMessage && !s.closeSent && s.text == (utf8.Validator{}) }

// appendControl appends a control frame: never fragmented, at most 125 bytes (§5.5), and
// allowed between the fragments of a message (§5.4).
func (s *Sender) appendControl(dst []byte, op frame.Opcode, p []byte) ([]byte, error) {
	if len(p) > frame.MaxControlPayload {
		return dst, ErrControlTooLong
	}
	h := frame.Header{Fin: true, Opcode: op, Length: int64(len(p))}
	s.mask(&h)
	return AppendFrame(dst, h, p), nil
}

// AppendFrame appends a frame with header h and payload p to dst, masking the copy of p when h
// is masked (p itself is left alone).
func AppendFrame(dst []byte, h frame.Header, p []byte) []byte {
	var hdr [frame.MaxHeaderSize]byte
	n := frame.Put(hdr[:], h)
	dst = append(dst, hdr[:n]...)
	start := len(dst)
	dst = append(dst, p...)
	if h.Masked {
		frame.Mask(h.Key, 0, dst[start:])
	}
	return dst
}

// mask gives client frames a fresh masking key. §5.3 asks for keys an attacker cannot predict:
// math/rand/v2's global source is a ChaCha8 generator seeded from the operating system's
// entropy, per thread, and costs nanoseconds rather than a system call.
func (s *Sender) mask(h *frame.Header) {
	if s.client {
		h.Masked = true
		binary.LittleEndian.PutUint32(h.Key[:], rand.Uint32())
	}
}
