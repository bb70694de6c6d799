// Package proto is the RFC 6455 protocol state machine, free of I/O ("Sans-I/O").
//
// A Decoder is told about each frame header and each piece of payload in the order they
// arrive, from whatever transport carries them (a TCP connection, an HTTP/2 or HTTP/3 stream,
// an event loop's buffers). It enforces the rules that depend on connection state: masking
// direction (§5.1, §5.3), reserved bits and opcodes (§5.2), control frame limits (§5.5),
// fragmentation (§5.4), UTF-8 in text messages (§5.6, §8.1), close payloads (§5.5.1) and the
// implementation limits of §10.4. A violation comes back as an *Error carrying the close code
// with which the connection must be failed (§7.1.7).
//
// An Encoder does the same for the frames this endpoint sends.
package proto
