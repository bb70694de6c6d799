package proto

// Close codes the state machine fails a connection with (§7.4.1).
const (
	CodeProtocolError = 1002 // §7.4.1: a protocol error
	CodeInvalidData   = 1007 // §7.4.1: data inconsistent with the message type (bad UTF-8)
	CodePolicy        = 1008 // §7.4.1: a policy violation (too many fragments)
	CodeTooBig        = 1009 // §7.4.1: a message too big to process
)

// Error is a protocol violation by the peer. The connection must be failed (§7.1.7) by sending
// a Close frame with Code and closing the transport.
type Error struct {
	Code uint16
	Msg  string
}

func (e *Error) Error() string { return "wsx: " + e.Msg }

func protocolError(msg string) error { return &Error{Code: CodeProtocolError, Msg: msg} }
