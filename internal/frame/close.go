package frame

import (
	"encoding/binary"
	"errors"

	"github.com/wsx-go/wsx/internal/utf8"
)

var (
	// ErrCloseLength means that a close payload is 1 byte long: if there is
	// a body, its first two bytes are a status code (§5.5.1).
	ErrCloseLength = errors.New("close frame payload of 1 byte has no room for a status code (§5.5.1)")

	// ErrCloseCode means that a close payload carries a status code that
	// may not be sent on the wire (§7.4.1, §7.4.2).
	ErrCloseCode = errors.New("close frame status code is not allowed on the wire (§7.4)")

	// ErrCloseReason means that a close reason is not valid UTF-8
	// (§5.5.1, §8.1).
	ErrCloseReason = errors.New("close frame reason is not valid UTF-8 (§5.5.1)")
)

// closeNoStatus is the code reported for a close frame without a body
// (§7.4.1); it never appears on the wire.
const closeNoStatus = 1005

// ValidCloseCode reports whether code may appear in a close frame on the
// wire: 1000-1003, 1007-1011 (§7.4.1), 1012-1014 (registered with IANA,
// §11.7, and sent by real servers) and 3000-4999 (§7.4.2). 1004 is reserved,
// and 1005, 1006 and 1015 are for local reporting only.
func ValidCloseCode(code uint16) bool {
	switch {
	case 1000 <= code && code <= 1003,
		1007 <= code && code <= 1014,
		3000 <= code && code <= 4999:
		return true
	}
	return false
}

// ParseClose splits a close payload into status code and reason (§5.5.1).
// An empty payload gives code 1005 (no status received, §7.4.1) and a nil
// reason. The reason aliases p. ParseClose returns ErrCloseLength for a
// 1-byte payload, ErrCloseCode for a code that ValidCloseCode rejects and
// ErrCloseReason for a reason that is not valid UTF-8; on error code is 0 and
// reason nil. It does not check the control frame size limit (§5.5).
func ParseClose(p []byte) (code uint16, reason []byte, err error) {
	switch len(p) {
	case 0:
		return closeNoStatus, nil, nil
	case 1:
		return 0, nil, ErrCloseLength
	}
	code = binary.BigEndian.Uint16(p)
	if !ValidCloseCode(code) {
		return 0, nil, ErrCloseCode
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return 0, nil, ErrCloseReason
	}
	return code, reason, nil
}

// AppendClose appends a close payload, the 2-byte big-endian status code
// followed by reason, to dst and returns the extended slice (§5.5.1). It does
// not check code or reason: callers sending a close frame should use a code
// that ValidCloseCode accepts, and keep the payload within
// MaxControlPayload bytes (§5.5).
func AppendClose(dst []byte, code uint16, reason string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}
