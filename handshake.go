package wsx

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"time"

	"github.com/wsx-go/wsx/internal/handshake"
)

// DefaultHandshakeTimeout bounds Dial and AcceptConn when their context has no deadline, so
// that a silent peer cannot hold a handshake forever.
const DefaultHandshakeTimeout = 30 * time.Second

// handshakeTimeout is DefaultHandshakeTimeout, shortened by tests.
var handshakeTimeout = DefaultHandshakeTimeout

// handshakeDeadline returns the deadline of a handshake under ctx: ctx's, or
// handshakeTimeout from now when ctx has none.
func handshakeDeadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(handshakeTimeout)
}

// handshakeCause returns the error to report for err, a failure of a handshake whose
// connection had the given deadline under ctx: ctx's cause once ctx is done, and
// context.DeadlineExceeded once the deadline has passed, whatever the failing operation
// made of it (a read cut short by the deadline can look like a malformed response). It
// returns nil when neither caused err.
func handshakeCause(ctx context.Context, deadline time.Time, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	// nc's deadline may pass a moment before ctx is marked done.
	if !time.Now().Before(deadline) || errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return nil
}

// AcceptKey returns the Sec-WebSocket-Accept value that proves a server read
// the client's Sec-WebSocket-Key: the base64 of the SHA-1 of key followed by
// the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 (§4.2.2 step 5.4). The key is
// used as sent, without decoding it.
//
// Accept and Dial compute and check this value themselves; AcceptKey is for
// code that performs the handshake on its own.
func AcceptKey(key string) string { return handshake.Accept(key) }

// NewKey returns a fresh Sec-WebSocket-Key: the base64 of 16 bytes from
// crypto/rand (§4.1 item 7, which requires the nonce to be "randomly selected
// ... for each connection").
//
// Dial generates a key for every connection; NewKey is for code that performs
// the handshake on its own.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; crashes the program if the OS has no randomness
	return base64.StdEncoding.EncodeToString(b[:])
}
