// Package frame encodes and decodes the WebSocket base framing protocol of
// RFC 6455: frame headers (§5.2), masking (§5.3) and close frame payloads
// (§5.5.1, §7.4).
//
// It does no I/O. Rules that depend on connection state (which opcodes and
// RSV bits are allowed, whether frames must be masked, control frame limits,
// fragmentation) are the caller's to enforce.
package frame

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Opcode is the frame opcode (§5.2, §11.8).
type Opcode byte

// Opcodes defined by RFC 6455 (§5.2).
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode: those with the most
// significant bit set (§5.5).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o is reserved for future use: 0x3-0x7 for
// non-control frames and 0xB-0xF for control frames (§5.2). Values above 0xF
// do not fit in the opcode field and are reported as reserved too.
func (o Opcode) IsReserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// String returns the opcode's name, such as "text", or "opcode 0x3" for an
// opcode that RFC 6455 does not define.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode 0x" + strconv.FormatUint(uint64(o), 16)
}

// Header is a decoded frame header (§5.2).
type Header struct {
	Fin    bool
	Rsv    byte // the RSV bits in their wire positions: a combination of Rsv1, Rsv2 and Rsv3
	Opcode Opcode
	Masked bool
	Key    [4]byte // masking key in wire order; meaningful only when Masked
	Length int64   // payload length; never negative
}

// RSV bits of the first header byte (§5.2).
const (
	Rsv1 = 0x40
	Rsv2 = 0x20
	Rsv3 = 0x10
)

const (
	// MaxHeaderSize is the size of the largest frame header: 2 bytes, an
	// 8-byte extended payload length and a 4-byte masking key (§5.2).
	MaxHeaderSize = 14

	// MaxControlPayload is the largest payload of a control frame (§5.5).
	MaxControlPayload = 125
)

var (
	// ErrShortHeader means that b holds only part of a header: the caller
	// should read more bytes and call Parse again.
	ErrShortHeader = errors.New("incomplete frame header")

	// ErrNonMinimalLength means that the payload length is encoded in more
	// bytes than needed (§5.2: "the minimal number of bytes MUST be used to
	// encode the length").
	ErrNonMinimalLength = errors.New("frame length uses a non-minimal encoding (§5.2)")

	// ErrLengthMSB means that a 64-bit payload length has its most
	// significant bit set (§5.2).
	ErrLengthMSB = errors.New("64-bit frame length has its most significant bit set (§5.2)")
)

// Parse decodes the header at the start of b and returns it with its size in
// bytes. It returns ErrShortHeader when b holds only part of a header, and
// ErrNonMinimalLength or ErrLengthMSB as soon as the bytes available show an
// invalid length encoding; on error h is the zero Header and n is 0.
//
// Parse checks only the length encoding, which is knowable from the header
// bytes alone; opcode, RSV, masking and control frame rules are left to the
// caller.
func Parse(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return Header{}, 0, ErrShortHeader
	}
	b0, b1 := b[0], b[1]
	n = 2
	switch l := b1 & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return Header{}, 0, ErrShortHeader
		}
		v := binary.BigEndian.Uint16(b[2:])
		if v < 126 {
			return Header{}, 0, ErrNonMinimalLength
		}
		h.Length = int64(v)
		n = 4
	case 127:
		if len(b) < 10 {
			return Header{}, 0, ErrShortHeader
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v>>63 != 0 {
			return Header{}, 0, ErrLengthMSB
		}
		if v <= 0xFFFF {
			return Header{}, 0, ErrNonMinimalLength
		}
		h.Length = int64(v)
		n = 10
	default:
		h.Length = int64(l)
	}
	if b1&0x80 != 0 {
		if len(b) < n+4 {
			return Header{}, 0, ErrShortHeader
		}
		h.Masked = true
		copy(h.Key[:], b[n:n+4])
		n += 4
	}
	h.Fin = b0&0x80 != 0
	h.Rsv = b0 & 0x70
	h.Opcode = Opcode(b0 & 0x0F)
	return h, n, nil
}

// Put writes h into b, which must hold at least Size(h.Length, h.Masked)
// bytes (MaxHeaderSize always suffices), and returns the number of bytes
// written. The length uses the minimal encoding (§5.2). Put panics if
// h.Length is negative.
func Put(b []byte, h Header) int {
	if h.Length < 0 {
		panic("frame: negative payload length")
	}
	b0 := h.Rsv&0x70 | byte(h.Opcode)&0x0F
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	var n int
	switch {
	case h.Length < 126:
		_ = b[1]
		b[1] = b1 | byte(h.Length)
		n = 2
	case h.Length <= 0xFFFF:
		_ = b[3]
		b[1] = b1 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(h.Length))
		n = 4
	default:
		_ = b[9]
		b[1] = b1 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(h.Length))
		n = 10
	}
	b[0] = b0
	if h.Masked {
		n += copy(b[n:n+4], h.Key[:])
	}
	return n
}

// Append appends to b a whole frame: h's header, with h.Length set to
// len(payload), then payload, masked with h.Key when h.Masked (§5.3). It is
// for peers that write frames of their own (tests, the doctor), not for the
// connection, whose engine frames its messages.
func Append(b []byte, h Header, payload []byte) []byte {
	h.Length = int64(len(payload))
	var hb [MaxHeaderSize]byte
	b = append(b, hb[:Put(hb[:], h)]...)
	start := len(b)
	b = append(b, payload...)
	if h.Masked {
		Mask(h.Key, 0, b[start:])
	}
	return b
}

// Size returns the encoded size of a header with the given payload length and
// mask flag.
func Size(length int64, masked bool) int {
	n := 2
	switch {
	case length >= 1<<16:
		n = 10
	case length >= 126:
		n = 4
	}
	if masked {
		n += 4
	}
	return n
}
