package wsx

import (
	"fmt"
	"strconv"

	"github.com/wsx-go/wsx/internal/engine"
)

// MessageType is the type of a WebSocket data message (§5.6).
type MessageType int

const (
	// MessageText is a UTF-8 text message. wsx validates text it receives and fails the
	// connection with StatusInvalidFramePayloadData (1007) on invalid UTF-8 (§8.1), and refuses
	// to send text that is not UTF-8.
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
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// WriteOption changes how one message goes out.
type WriteOption uint8

// Uncompressed sends a message without compression even when permessage-deflate is on, for data
// that would not shrink:
//
//	c.Write(ctx, wsx.MessageBinary, jpeg, wsx.Uncompressed)
const Uncompressed WriteOption = 1

func uncompressed(opts []WriteOption) bool {
	for _, o := range opts {
		if o == Uncompressed {
			return true
		}
	}
	return false
}

// errInvalidText is returned by a Write of text that is not UTF-8; nothing of it was sent.
var errInvalidText = fmt.Errorf("wsx: %w", engine.ErrInvalidText)
