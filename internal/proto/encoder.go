package proto

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"

	"github.com/wsx-go/wsx/internal/frame"
)

// Encoder is the sending half of a WebSocket endpoint: it makes the headers of the frames this
// endpoint sends, keeping track of fragmentation (§5.4) and masking (§5.3).
type Encoder struct {
	Client bool // this endpoint is the client: every frame is masked with a fresh key (§5.3)

	inMessage bool
}

// ErrControlTooLong is returned for a control frame payload over 125 bytes (§5.5).
var ErrControlTooLong = errors.New("wsx: control frame payload over 125 bytes (§5.5)")

// Data returns the header of the next frame of the data message of type op (OpText or
// OpBinary) being sent: the first frame names the type and may carry rsv (RFC 7692 §6: RSV1 on
// the first frame of a compressed message only), later frames are continuations (§5.4). A final
// frame ends the message.
func (e *Encoder) Data(op frame.Opcode, rsv byte, fin bool, length int64) frame.Header {
	h := frame.Header{Fin: fin, Opcode: op, Length: length}
	if e.inMessage {
		h.Opcode = frame.OpContinuation
	} else {
		h.Rsv = rsv
	}
	e.inMessage = !fin
	e.mask(&h)
	return h
}

// Undo forgets the data frame with header h, made by Data but never sent, so that the next
// call to Data makes the same frame again.
func (e *Encoder) Undo(h frame.Header) {
	e.inMessage = h.Opcode == frame.OpContinuation // the state before Data made h
}

// Control returns the header of a control frame; control frames may go between the fragments
// of a message (§5.4) and are never fragmented themselves (§5.5).
func (e *Encoder) Control(op frame.Opcode, length int) (frame.Header, error) {
	if length > frame.MaxControlPayload {
		return frame.Header{}, ErrControlTooLong
	}
	h := frame.Header{Fin: true, Opcode: op, Length: int64(length)}
	e.mask(&h)
	return h, nil
}

// InMessage reports whether a fragmented message has been started and not yet finished.
func (e *Encoder) InMessage() bool { return e.inMessage }

// mask gives client frames a fresh masking key. §5.3 asks for keys an attacker cannot predict:
// math/rand/v2's global source is a ChaCha8 generator seeded from the operating system's
// entropy, per thread, and costs nanoseconds rather than a system call.
func (e *Encoder) mask(h *frame.Header) {
	if e.Client {
		h.Masked = true
		binary.LittleEndian.PutUint32(h.Key[:], rand.Uint32())
	}
}
