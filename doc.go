// Package wsx implements the WebSocket protocol (RFC 6455) for servers and clients, with
// permessage-deflate compression (RFC 7692).
//
// It is strict where the RFC says MUST, safe by default against misbehaving peers, and fast:
// the steady-state read and write paths allocate nothing.
//
// # Server
//
// Accept upgrades an HTTP request from a net/http handler:
//
//	func echo(w http.ResponseWriter, r *http.Request) {
//		c, err := wsx.Accept(w, r, nil)
//		if err != nil {
//			return // Accept has answered the request with the reason
//		}
//		defer c.CloseNow()
//		for {
//			typ, msg, err := c.Read(r.Context())
//			if err != nil {
//				return
//			}
//			if err := c.Write(r.Context(), typ, msg); err != nil {
//				return
//			}
//		}
//	}
//
// Accept checks every rule of the opening handshake (§4.2.1) and answers a bad request with the
// right status and a line naming the rule. By default it accepts only same-origin browser
// requests, against cross-site WebSocket hijacking; AcceptOptions.OriginPatterns allows more,
// and AcceptOptions.HostPatterns limits the Host names a server answers for, against DNS
// rebinding. AcceptOptions.Validate checks the patterns when the server starts.
//
// # Client
//
// Dial opens a connection to a ws:// or wss:// URL, through HTTP or SOCKS5 proxies when the
// environment or DialOptions say so:
//
//	c, _, err := wsx.Dial(ctx, "wss://example.com/socket", nil)
//	if err != nil {
//		return err
//	}
//	defer c.CloseNow()
//	err = c.Write(ctx, wsx.MessageText, []byte("hello"))
//
// # Messages
//
// Read, ReadMessage and Reader receive messages whole, into a caller's buffer, or as a stream;
// Write and Writer send them. Text is validated as UTF-8 as it arrives (§8.1), and text that is
// not UTF-8 is refused before it goes out. Messages larger than ConnOptions.ReadLimit fail the
// connection with StatusMessageTooBig (1009); SetReadLimit changes the limit later.
//
// A peer cannot make a connection hold memory or a call hang for long: a message that stops
// making progress fails the connection after ConnOptions.StallTimeout, a write the peer does not
// let progress closes it after the same time, and the memory all connections' messages in
// progress hold together is bounded by SetMessageMemoryLimit.
//
// An idle connection costs its goroutine and about 350 bytes besides its socket. The working
// state of each side (the protocol engine's half, deadlines, buffers: about half a kilobyte
// each) comes from a pool while a call reads or writes and goes back once nothing is left in it,
// so that a read loop parked between messages on a TCP socket holds none, whatever context the
// writes use. A read whose context can be cancelled keeps the reading side's state while it
// waits, as the cancellation must interrupt it there: read loops of long-lived idle connections
// are cheapest with context.Background (bound them with KeepAlive or a Ping instead). On
// transports that are not sockets (TLS, HTTP/2 and HTTP/3 streams) a read waits in
// net.Conn.Read with its buffer and state.
//
// Every call takes a context. A read whose context expires returns its error and leaves the
// connection usable; the next read carries on. A write that expires part-way through a frame
// closes the connection, since the peer cannot make sense of what follows.
//
// A server that sends one message to many connections frames it once with
// NewPreparedMessage and sends it with WritePrepared, several at a time in one system call;
// the hub package (github.com/wsx-go/wsx/hub) builds topics and fan-out on it.
//
// # Closing
//
// Close runs the closing handshake (§7); the peer's Close is answered automatically by the
// reading goroutine, with the peer's code and reason, and they come back from reads as a
// *CloseError (CloseError.Local tells whether this side started the close). When wsx fails a
// connection because the peer broke a rule, reads return a *ProtocolError naming the rule and
// the close code sent; CloseStatus returns either code. CloseNow drops the connection.
// KeepAlive detects dead peers, and Group closes a server's connections with StatusGoingAway
// (1001) when it shuts down.
//
// # Control frames
//
// Pings are answered and pongs matched by the reading goroutine; ConnOptions.OnPing and OnPong
// see them. Ping and KeepAlive work when nobody reads (Ping then reads by itself until its
// pong), and CloseRead hands the reading to wsx for a connection the application only writes
// to.
//
// # WebSockets over HTTP/2 and HTTP/3
//
// Accept also serves the extended CONNECT of RFC 8441 (HTTP/2) and RFC 9220 (HTTP/3): a
// WebSocket on one stream of a multiplexed connection, with the same options, checks and Conn.
// A handler needs no change, with two things to know:
//
//   - net/http's HTTP/2 server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, without which
//     browsers keep WebSockets on HTTP/1.1, only when GODEBUG holds http2xconnect=1 at start
//     (Go 1.24-1.26), or when the program imports github.com/wsx-go/wsx/xconnect.
//   - net/http ends an HTTP/2 stream when its handler returns: the handler must not return
//     before it is done with the Conn (on HTTP/1.1 and HTTP/3 it may).
//
// HTTP/3 servers use quic-go through github.com/wsx-go/wsx/h3transport, whose Handler lets
// Accept take the stream over. Clients set DialOptions.Transport to an h2transport.Transport
// (HTTP/2, with golang.org/x/net) or an h3transport.Transport; both share one connection among
// the WebSockets to a server, and fall back to HTTP/1.1 when the server does not support them.
//
// A read whose context expires leaves the connection usable on every transport: the deadlines
// of HTTP/2 streams, which would end the stream, are never used; a goroutine per connection
// reads the stream and the waiting is done above it.
//
// # Concurrency
//
// One goroutine may read at a time; any number may write, ping and close. wsx starts no
// goroutine of its own per connection, except the one that reads an HTTP/2 or HTTP/3 stream.
//
// # Streams, JSON and tests
//
// NetConn turns a Conn into a net.Conn, to run HTTP, gRPC, SSH or any stream protocol over a
// WebSocket. ReadJSON and WriteJSON exchange one JSON value per text message. Pipe returns two
// connected Conns in memory, through the real handshake with any options, for testing
// handlers without a network.
//
// # WebAssembly
//
// Built with GOOS=js GOARCH=wasm, wsx runs in a browser: Dial opens the browser's WebSocket,
// and Conn has Read, ReadMessage, Reader, Write, Writer, Close, CloseNow, CloseRead,
// SetReadLimit, Subprotocol, Extensions, LocalAddr and RemoteAddr, so that NetConn, ReadJSON
// and WriteJSON work there too. What a page cannot do is not there, or differs:
//
//   - Dial takes only Subprotocols and ConnOptions, of which ReadLimit and CloseTimeout apply:
//     the browser sets the headers, cookies, Origin, TLS, proxy and permessage-deflate offer
//     itself, frames and buffers messages, and answers pings without telling the page (OnPing
//     and OnPong are never called). It does not say why a handshake failed, so Dial returns no
//     *http.Response then.
//   - There is no Accept, AcceptConn, Group, Ping, KeepAlive, SetMessageMemoryLimit or
//     CompressionOptions; WriteOptions such as Uncompressed are ignored.
//   - Close sends only 1000 or 3000-4999, as browsers allow. CloseNow cannot drop the
//     connection: the browser still closes it with a Close frame without a status (1005), in
//     the background. A message over the read limit, or one that CloseRead receives, closes
//     it the same way, since a page may not send 1009 or 1008.
//   - The browser delivers and sends whole messages: Reader's stream is in memory already,
//     Writer sends at Close, and Write returns once the browser holds the message (waiting
//     while it holds more than 4 MiB unsent). Text must be valid UTF-8, which Write checks.
package wsx
