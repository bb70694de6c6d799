package wsx

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"time"
)

// keyGUID is the string a server appends to the client's key before hashing
// it into Sec-WebSocket-Accept (§1.3, §4.2.2 step 5.4).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// DefaultHandshakeTimeout bounds Dial and AcceptConn when their context has no deadline, so
// that a silent peer cannot hold a handshake forever.
const DefaultHandshakeTimeout = 30 * time.Second

// handshakeTimeout is DefaultHandshakeTimeout, shortened by tests.
var handshakeTimeout = DefaultHandshakeTimeout

// withHandshakeTimeout gives ctx the default handshake deadline if it has none.
func withHandshakeTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, handshakeTimeout)
}

// version is the only WebSocket protocol version wsx speaks (§4.1 item 9,
// §11.6).
const version = "13"

// Header fields of the opening handshake (§4.1, §4.2, §11.3), spelled as the
// keys of an http.Header (textproto.CanonicalMIMEHeaderKey), so that map
// lookups need no conversion. Header names are case-insensitive on the wire.
const (
	hdrUpgrade    = "Upgrade"
	hdrConnection = "Connection"
	hdrOrigin     = "Origin"
	hdrKey        = "Sec-Websocket-Key"
	hdrAccept     = "Sec-Websocket-Accept"
	hdrVersion    = "Sec-Websocket-Version"
	hdrProtocol   = "Sec-Websocket-Protocol"
	hdrExtensions = "Sec-Websocket-Extensions"
)

// isHandshakeField reports whether name (in any case) is a header field the
// opening handshake sets itself on either side, so that extra fields supplied
// by the caller must not: Upgrade, Connection and every Sec-WebSocket-* field
// (§4.1, §4.2.2, §11.3).
func isHandshakeField(name string) bool {
	const prefix = "Sec-WebSocket-"
	return strings.EqualFold(name, hdrUpgrade) || strings.EqualFold(name, hdrConnection) ||
		len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}

// keyLen is the length of a valid Sec-WebSocket-Key: the padded base64 of
// 16 bytes (§4.1 item 7, §4.2.1 item 5).
const keyLen = 24

// AcceptKey returns the Sec-WebSocket-Accept value that proves a server read
// the client's Sec-WebSocket-Key: the base64 of the SHA-1 of key followed by
// the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 (§4.2.2 step 5.4). The key is
// used as sent, without decoding it.
//
// Accept and Dial compute and check this value themselves; AcceptKey is for
// code that performs the handshake on its own.
func AcceptKey(key string) string {
	var buf [28]byte // base64 of a 20-byte SHA-1
	return string(appendAcceptKey(buf[:0], key))
}

// appendAcceptKey appends AcceptKey(key) to dst.
func appendAcceptKey(dst []byte, key string) []byte {
	var buf [keyLen + len(keyGUID)]byte // enough for any valid key
	sum := sha1.Sum(append(append(buf[:0], key...), keyGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

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

// strictBase64 refuses encodings whose padding bits are not zero.
var strictBase64 = base64.StdEncoding.Strict()

// validKey reports whether key, a Sec-WebSocket-Key value, is the base64
// (RFC 4648 §4, padded) of exactly 16 bytes (§4.2.1 item 5). Non-canonical
// encodings, whose padding bits are not zero, are refused: NewKey's output,
// and any other encoder's, never has them.
func validKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	var b [18]byte // 24 base64 characters decode to at most 18 bytes
	n, err := strictBase64.Decode(b[:], []byte(key))
	return err == nil && n == 16
}
