//go:build !js

package wsx

import (
	"cmp"

	"github.com/wsx-go/wsx/internal/deflate"
)

// CompressionOptions turn on permessage-deflate (RFC 7692) when set in AcceptOptions or
// DialOptions. The zero value compresses at a good speed and bounds the memory a connection
// keeps between messages to under 64 KiB; every field tunes one side of that trade.
//
// wsx honours every negotiation parameter of RFC 7692 §7.1: when the peer limits the window
// our compressor may use, it really stays within it, and when a message would inflate past
// ConnOptions.ReadLimit the connection fails with StatusMessageTooBig (1009) having held at
// most that much.
type CompressionOptions struct {
	// Level is the compression level, 1 (fastest) to 9 (smallest); 0 means 1, which on typical
	// text compresses within a few percent of 5, and faster.
	Level int

	// Threshold is the size below which messages go out uncompressed, since small messages
	// seldom shrink: 0 means 128 bytes; a negative value compresses every message.
	Threshold int

	// WindowBits limits the window of what we send, 8 to 15 (2^8 to 2^15 bytes, §7.1.2);
	// 0 means 14. With context takeover the connection keeps that much history.
	WindowBits int

	// NoContextTakeover makes every message we send start afresh (§7.1.1): no history is
	// kept between messages, at some cost in ratio.
	NoContextTakeover bool

	// PeerWindowBits asks the peer to limit its window, 8 to 15; 0 means no request. A server
	// can ask only a client that offered client_max_window_bits (as browsers do).
	PeerWindowBits int

	// PeerNoContextTakeover asks the peer not to use context takeover, so that the connection
	// keeps no history for what it receives.
	PeerNoContextTakeover bool
}

func (o *CompressionOptions) config() deflate.Config {
	return deflate.Config{
		Level:                 cmp.Or(o.Level, deflate.BestSpeed),
		Threshold:             o.Threshold,
		WindowBits:            o.WindowBits,
		NoContextTakeover:     o.NoContextTakeover,
		PeerWindowBits:        o.PeerWindowBits,
		PeerNoContextTakeover: o.PeerNoContextTakeover,
	}
}
