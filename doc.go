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
// Write and Writer send them. Text is validated as UTF-8 as it arrives (§8.1). Messages
// larger than ConnOptions.ReadLimit fail the connection with StatusMessageTooBig (1009).
//
// Every call takes a context. A read whose context expires returns its error and leaves the
// connection usable; the next read carries on. A write that expires part-way through a frame
// closes the connection, since the peer cannot make sense of what follows.
//
// # Closing
//
// Close runs the closing handshake (§7); the peer's Close is answered automatically by the
// reading goroutine, and its code and reason come back from reads as a *CloseError (see
// CloseStatus). CloseNow drops the connection. KeepAlive detects dead peers, and Group closes a
// server's connections with StatusGoingAway (1001) when it shuts down.
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
package wsx
