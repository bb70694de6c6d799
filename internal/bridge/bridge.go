// Package bridge lends package event what package wsx shares with it without exporting it: the
// server's opening handshake run on bytes that an event loop read, the defaults of
// ConnOptions, the process's message memory budget, and the errors a connection ends with.
// Package wsx sets the variables when it is initialised; package event imports wsx, so they
// are set before event uses them. Nothing else may use this package.
package bridge

import (
	"errors"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
)

// ErrIncomplete is AcceptBytes's answer while the request head has not arrived whole.
var ErrIncomplete = errors.New("wsx: opening handshake request incomplete")

// Accepted is what a successful opening handshake configures a connection with: the
// engine's two halves, with ConnOptions' limits (defaults applied) and permessage-deflate's
// state when it was negotiated.
type Accepted struct {
	Subprotocol string
	Extensions  string
	Receiver    engine.Config
	Sender      engine.SenderConfig
}

// Limits are the limits of wsx.ConnOptions with their defaults applied.
type Limits struct {
	ReadLimit    int64         // -1: no limit
	MaxFragments int           // -1: no limit
	StallTimeout time.Duration // 0: no bound
	CloseTimeout time.Duration
}

var (
	// AcceptBytes runs the server side of the opening handshake (RFC 6455 §4.2) with opts, a
	// *wsx.AcceptOptions, on b, the bytes the client sent so far. It appends the response to
	// resp: the 101 response when the request is valid, then n is the length of the request
	// head (what follows in b are frames); a refusal (its status, fields and text are
	// wsx.AcceptConn's) with the refusal as the error, after which the connection ends; or
	// nothing, with ErrIncomplete, when the head has not arrived whole yet.
	AcceptBytes func(b []byte, opts any, resp []byte) (a Accepted, n int, out []byte, err error)

	// ConnLimits returns the limits of opts, a *wsx.ConnOptions, with their defaults applied.
	ConnLimits func(opts any) Limits

	// ReadLimit applies ConnOptions.ReadLimit's default to n: -1 means no limit.
	ReadLimit func(n int64) int64

	// ReserveMessageMemory takes n bytes from the process's message memory budget
	// (wsx.SetMessageMemoryLimit), or reports false; ReleaseMessageMemory gives them back.
	ReserveMessageMemory func(n int64) bool
	ReleaseMessageMemory func(n int64)

	// ErrMessageMemory is the *wsx.ProtocolError (1013) a connection fails with when the
	// budget has no room for its message.
	ErrMessageMemory error

	// ErrClosed is the error for operations on a connection this endpoint has closed; it wraps
	// net.ErrClosed.
	ErrClosed error

	// AbnormalClosure returns the *wsx.CloseError (1006) of a connection that ended without a
	// Close frame because of err.
	AbnormalClosure func(err error) error

	// TruncateReason shortens a close reason to what a Close frame has room for (§5.5).
	TruncateReason func(string) string

	// FailLinger and FailLingerBytes bound how long, and for how many bytes, a failed
	// connection waits for the peer to read its Close (§7.1.7).
	FailLinger      time.Duration
	FailLingerBytes int64
)
