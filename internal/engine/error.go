package engine

// Close codes the engine fails a connection with (§7.4.1).
const (
	CodeProtocolError = 1002 // a protocol error
	CodeInvalidData   = 1007 // data inconsistent with the message type (bad UTF-8, bad compressed data)
	CodePolicy        = 1008 // a policy violation (too many fragments)
	CodeTooBig        = 1009 // a message too big to process
)

// Error is a rule the peer broke. The connection must be failed (§7.1.7): a Close frame with
// Code, then the transport closed.
type Error struct {
	Code uint16
	Rule string // what the peer did and where the rule comes from, such as "unmasked frame from client (§5.1)"
}

func (e *Error) Error() string { return e.Rule }

func protocolError(rule string) *Error { return &Error{Code: CodeProtocolError, Rule: rule} }

// The violations that need no words of their own.
var (
	errInvalidUTF8     = &Error{Code: CodeInvalidData, Rule: "invalid UTF-8 in text message (§8.1)"}
	errTooBig          = &Error{Code: CodeTooBig, Rule: "message exceeds the read limit (§10.4)"}
	errInflatedTooBig  = &Error{Code: CodeTooBig, Rule: "message inflates past the read limit (§10.4, RFC 7692 §8.1)"}
	errTooManyFrames   = &Error{Code: CodePolicy, Rule: "message spans more frames than the limit (§10.4)"}
	errTruncatedStream = &Error{Code: CodeInvalidData, Rule: "compressed message ends mid-stream (RFC 7692 §7.2.2)"}
)
