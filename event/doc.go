// Package event serves WebSocket connections in event mode: an idle connection holds no
// goroutine and no buffer, so that one machine can keep a million of them.
//
// A Server accepts on a listener, answers the opening handshake with the rules of
// wsx.AcceptConn, and calls its handlers as things happen: OnOpen when a connection is
// upgraded, OnMessage with each whole message, OnClose when it ends. Messages go out with
// Conn.Write from any goroutine, handlers included; it never blocks.
//
//	srv := &event.Server{
//		Options: &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}},
//		OnMessage: func(c *event.Conn, typ wsx.MessageType, msg []byte) {
//			c.Write(typ, msg) // echo
//		},
//	}
//	log.Fatal(srv.ListenAndServe(":8080"))
//
// # How it works
//
// On Linux, a few workers (GOMAXPROCS by default) each hold an epoll set of sockets. When
// bytes arrive, the worker that owns the socket reads them into its own buffer and runs wsx's
// protocol engine over them, with the same rules, limits and close codes as a wsx.Conn; a
// message that arrived whole is handed to OnMessage straight from that buffer. Between
// messages, a connection is its socket, a Conn of 160 bytes and an 8-byte slot in a table of
// descriptors: the engine's state, a message being assembled and output waiting for the
// socket come from pools while they are needed. Measured at 19,900 idle connections, the
// server's RSS grows by about 200 bytes per connection (bench/, scenario idlemax); the
// kernel's own state of a TCP socket in an epoll set is some 4.2-4.9 KB more
// (bench/cmd/socketcost). Elsewhere (and for listeners without a file descriptor) the same
// API runs on a goroutine per connection.
//
// # Compared with wsx.Conn
//
// wsx.Conn is a goroutine-per-connection design: code reads messages in a loop, with
// contexts, backpressure from blocking writes, streaming Reader and Writer, and pings that
// wait for their pong. It costs about 5 KB per idle connection (a goroutine stack and the
// connection's state) and is the right choice for most servers.
//
// Event mode trades that programming model for memory: about 200 bytes per idle connection
// (and the kernel's socket). In exchange:
//
//   - Handlers run on the workers, one connection's at a time: a handler that blocks stalls
//     every connection of its worker. Hand long work to a goroutine of your own and Write
//     from there.
//   - Messages arrive whole, within ConnOptions.ReadLimit; there is no streaming read.
//   - Writes never block: what the socket cannot take waits in the connection's output,
//     bounded by Server.MaxPending; a peer that does not read is disconnected with 1008
//     (StallTimeout, MaxPending) instead of slowing the writer down.
//   - Close, Ping and CloseNow return at once; their outcome reaches OnClose and
//     ConnOptions.OnPong.
//   - Routing by path and authentication by cookies need the request, which a Server does
//     not keep: serve such endpoints with wsx.Accept.
//
// # Limits
//
// Every limit of wsx.ConnOptions applies: ReadLimit (1009), MaxFragments (1008),
// StallTimeout for a message the peer stops sending (1008) and for output it stops reading
// (1008), CloseTimeout, and the process's message memory limit (wsx.SetMessageMemoryLimit,
// 1013), which counts the messages event mode assembles as well as those of wsx.Conn.
// HandshakeTimeout bounds the opening handshake and TLS's; a worker never waits for either.
//
// # TLS
//
// With Server.TLSConfig set, each connection starts with a TLS handshake (crypto/tls) run by
// a goroutine that exists for the handshake only, then the worker decrypts records as they
// arrive. An idle TLS connection keeps its tls.Conn: its keys, cipher state and the buffers
// crypto/tls holds on to, about 8.4 KB in all (against 20 KB for wsx.AcceptConn over TLS).
// crypto/tls also allocates once each time it reads a record.
package event
