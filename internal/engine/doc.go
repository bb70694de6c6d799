// Package engine is the WebSocket protocol of RFC 6455 and RFC 7692 as a state machine free of
// I/O ("Sans-I/O"): it is fed bytes and returns events, and it is given messages and returns
// bytes. It never touches a socket, a clock or a goroutine, so the same engine runs under every
// transport: a TCP connection, an HTTP/2 or HTTP/3 stream (RFC 8441, RFC 9220) and an event loop.
//
// A Receiver is the receiving half of one endpoint. Next takes the bytes that arrived and a
// buffer for message data and returns the next event: the start or end of a data message, a
// ping, a pong, the peer's Close, or a failure that carries the close code the connection must
// be failed with (§7.1.7). It decides framing (§5.2), masking (§5.1, §5.3), fragmentation
// (§5.4), control frames (§5.5), UTF-8 (§8.1), decompression (RFC 7692 §6.2) and every limit
// (§10.4). Input may arrive split anywhere: the events are the same for any split.
//
// A Sender is the sending half. It makes the frames of the messages and control frames this
// endpoint sends (masked with fresh keys on the client, §5.3; compressed under permessage-deflate),
// refuses text that is not UTF-8 before anything goes out (§8.1), and keeps the closing handshake's
// state: no data after our Close (§5.5.1), the peer's Close answered once, with its code and
// reason.
//
// The two halves share nothing, so that one goroutine can read while others write; the driver
// (wsx.Conn, or an event loop) serialises the calls on each half and carries what one half asks
// of the other (a Pong for a Ping, the answer to a Close).
package engine
