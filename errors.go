package wsx

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// CloseError reports how a connection ended: the code and reason of the peer's Close frame
// (§7.1.5, §7.1.6), StatusNoStatusReceived for a Close frame without a code, or
// StatusAbnormalClosure when the connection ended without a Close frame.
type CloseError struct {
	Code   StatusCode
	Reason string

	// Local reports that this endpoint started the closing handshake (Close, or a Group's
	// shutdown): Code and Reason are then the peer's answer to it.
	Local bool

	err error // for StatusAbnormalClosure, what ended the connection
}

func (e *CloseError) Error() string {
	switch {
	case e.err != nil:
		return fmt.Sprintf("wsx: connection closed without a close frame, status %v: %v", e.Code, e.err)
	case e.Local && e.Reason == "":
		return fmt.Sprintf("wsx: connection closed by this endpoint; the peer answered with status %v", e.Code)
	case e.Local:
		return fmt.Sprintf("wsx: connection closed by this endpoint; the peer answered with status %v: %q", e.Code, e.Reason)
	case e.Reason == "":
		return fmt.Sprintf("wsx: peer closed the connection with status %v", e.Code)
	}
	return fmt.Sprintf("wsx: peer closed the connection with status %v: %q", e.Code, e.Reason)
}

// Unwrap returns the error that ended a connection closed without a Close frame.
func (e *CloseError) Unwrap() error { return e.err }

// ProtocolError reports that this endpoint failed the connection (§7.1.7) because the peer
// broke a rule of the protocol or went past a limit: Code is the status code of the Close frame
// wsx sent (1002, 1007, 1008, 1009, 1013, ...), Rule what the peer did and where the rule comes
// from, such as "unmasked frame from client (§5.1)".
type ProtocolError struct {
	Code StatusCode
	Rule string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("wsx: %s; connection failed with status %v", e.Rule, e.Code)
}

// CloseStatus returns the status code of the *CloseError (the peer's) or *ProtocolError (ours)
// in err's chain, or -1 when there is none.
//
//	if wsx.CloseStatus(err) == wsx.StatusNormalClosure { /* the peer said goodbye */ }
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -1
}

// wrapped is an error of wsx's that says what failed because of another error, which may be one
// of wsx's own: its message carries one "wsx: " prefix, not two.
type wrapped struct {
	what string
	err  error
}

func (e *wrapped) Error() string {
	return "wsx: " + e.what + ": " + strings.TrimPrefix(e.err.Error(), "wsx: ")
}

func (e *wrapped) Unwrap() error { return e.err }

// errClosed is returned for operations on a connection this endpoint has closed.
var errClosed = fmt.Errorf("wsx: use of closed connection: %w", net.ErrClosed)
