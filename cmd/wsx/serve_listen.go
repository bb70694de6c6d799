package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/wsx-go/wsx"
)

// wsx serve answers WebSocket handshakes and plain HTTP on one port. Sending every
// connection through net/http would cost each WebSocket net/http's per-connection state and
// a handler goroutine whose stack net/http grew (about 19 KB per idle connection against 5 KB
// with wsx.AcceptConn, issue 15). So the server reads each new connection's request head
// itself: a WebSocket handshake goes to wsx.AcceptConn, the cheapest way to accept one,
// and its read loop to a goroutine of its own with a small stack; any other request goes to
// net/http through a listener of its own, with the bytes already read given back first.

// headBuffers hold the request heads being routed; a buffer goes back once its head has
// been consumed, so that an established connection holds none.
var headBuffers = sync.Pool{New: func() any {
	b := make([]byte, maxRequestHead)
	return &b
}}

// readRequestHead reads from r into buf until buf holds a whole request head (up to the
// empty line that ends it, RFC 9112 §2.1), buf is full, r fails, or what came cannot start
// a WebSocket handshake, which is a GET (§4.1). It returns the number of bytes read and the
// length of the head, or -1 when the head is incomplete.
func readRequestHead(r io.Reader, buf []byte) (n, headLen int, err error) {
	for {
		m, err := r.Read(buf[n:])
		from := max(0, n-3) // the end may straddle two reads
		n += m
		if i := headEnd(buf[from:n]); i >= 0 {
			return n, from + i, nil
		}
		if err != nil {
			return n, -1, err
		}
		if n == len(buf) || !mayBeHandshake(buf[:n]) {
			return n, -1, nil
		}
	}
}

// mayBeHandshake reports whether the first bytes b of a connection may start a WebSocket
// handshake, which is a GET (§4.1).
func mayBeHandshake(b []byte) bool {
	p := min(len(b), 4)
	return string(b[:p]) == "GET "[:p]
}

// looksLikeHTTP reports whether the first five bytes of a connection are the start of an
// HTTP/1.x request: what net/http checks on a TLS port.
func looksLikeHTTP(b []byte) bool {
	switch string(b) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// headEnd returns the length of the request head at the start of b, through the empty line
// that ends it ("\r\n\r\n", or "\n\n", which lenient servers accept), or -1.
func headEnd(b []byte) int {
	crlf, lf := bytes.Index(b, []byte("\n\r\n")), bytes.Index(b, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return crlf + 3
	case lf >= 0:
		return lf + 2
	}
	return -1
}

// headFields calls fn for each header field of a request head: each line after the first
// with a colon, the name as sent and the value without surrounding whitespace.
func headFields(head []byte, fn func(name, value []byte)) {
	_, rest, _ := bytes.Cut(head, []byte("\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		name, value, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(":"))
		if ok {
			fn(name, bytes.TrimSpace(value))
		}
	}
}

// requestLine returns the first line of a request head, without its line end.
func requestLine(head []byte) []byte {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// isWebSocketHead reports whether a request head means to open a WebSocket, even a broken
// one, which AcceptConn then refuses with an explanation: it has an Upgrade,
// Sec-WebSocket-Key or Sec-WebSocket-Version field (the same test as isHandshake's).
func isWebSocketHead(head []byte) bool {
	found := false
	headFields(head, func(name, _ []byte) {
		found = found || bytes.EqualFold(name, []byte("Upgrade")) || bytes.EqualFold(name, []byte("Sec-WebSocket-Key")) ||
			bytes.EqualFold(name, []byte("Sec-WebSocket-Version"))
	})
	return found
}

// handshakeInfo is what wsx serve logs and uses of a WebSocket handshake's request.
type handshakeInfo struct {
	remote, path, origin, userAgent string
	playgroundID                    string // the playground's connection: keep the record
}

// parseHandshakeHead returns what wsx serve needs of a handshake's request head.
func parseHandshakeHead(head []byte, remote string) handshakeInfo {
	info := handshakeInfo{remote: remote}
	line := requestLine(head)
	if _, rest, ok := bytes.Cut(line, []byte(" ")); ok {
		target, _, _ := bytes.Cut(rest, []byte(" "))
		path, query, _ := bytes.Cut(target, []byte("?"))
		info.path = string(path)
		if bytes.Contains(query, []byte(playgroundParam+"=")) {
			q, _ := url.ParseQuery(string(query))
			info.playgroundID = q.Get(playgroundParam)
		}
	}
	headFields(head, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("Origin")):
			info.origin = string(value)
		case bytes.EqualFold(name, []byte("User-Agent")):
			info.userAgent = string(value)
		}
	})
	return info
}

// recordHead makes the playground's record of a handshake from its request head: the
// fields in the order and spelling the browser sent.
func recordHead(head []byte, remote string) *handshakeRecord {
	rec := newHandshakeRecord(remote, string(requestLine(head)))
	rec.Ordered = true
	headFields(head, func(name, value []byte) { rec.addField(string(name), string(value)) })
	return rec
}

// peekedConn is a connection whose first bytes were read to route it (a TLS connection):
// its reads return those bytes first.
type peekedConn struct {
	net.Conn
	head []byte  // still to be read
	buf  *[]byte // the pooled buffer behind head
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.head) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.head)
	c.head = c.head[n:]
	if len(c.head) == 0 {
		headBuffers.Put(c.buf)
		c.head, c.buf = nil, nil
	}
	return n, nil
}

var errHeadUnread = errors.New("the request head has not been read yet")

// SyscallConn gives wsx the socket, on which it waits for data without holding a buffer,
// once the head has been read from c; AcceptConn reads it all at once, as its buffer is as
// large as maxRequestHead.
func (c *peekedConn) SyscallConn() (syscall.RawConn, error) {
	if len(c.head) > 0 {
		return nil, errHeadUnread
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// CloseWrite shuts down the sending side of a TCP or TLS connection, as wsx does after a
// refused handshake to let the client read the refusal.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// connQueue is the net.Listener that the http.Server of wsx serve serves: the connections
// the router found are not WebSocket handshakes.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// put hands c to net/http, or closes it when the server is shutting down.
func (q *connQueue) put(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// route reads the request head of a new connection and sends it where it belongs.
func (s *server) route(nc net.Conn) {
	defer s.routing.Done()
	if !s.pending.add(nc) {
		nc.Close() // shutting down
		return
	}
	deadline := time.Now().Add(s.cfg.timeouts.readHeader)
	nc.SetReadDeadline(deadline)
	if isHTTP2(nc) { // transports.go
		nc.SetReadDeadline(time.Time{})
		s.pending.remove(nc)
		s.httpConns.put(nc)
		return
	}
	bp := headBuffers.Get().(*[]byte)
	// A TCP connection is peeked at, so that AcceptConn and net/http get it untouched, as
	// it came from the listener (a wrapper would cost wsx the vectored writes and large
	// reads it makes on a *net.TCPConn: 15-25 % more CPU per 64 KiB message); a TLS one,
	// whose plain text cannot be peeked at, is read and given back through peekedConn.
	tc, peek := nc.(*net.TCPConn)
	var n, headLen int
	var err error
	if peek && canPeek {
		n, headLen, err = peekRequestHead(tc, *bp)
	} else {
		peek = false
		n, headLen, err = readRequestHead(nc, *bp)
	}
	if n == 0 || err != nil && headLen < 0 {
		// Nothing, or an incomplete request: the client went away or timed out, or sent
		// plain HTTP to the TLS port, which gets net/http's answer to that.
		if rhe := (tls.RecordHeaderError{}); errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader[:]) {
			io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		s.pending.remove(nc)
		headBuffers.Put(bp)
		nc.Close()
		return
	}
	conn := nc
	if !peek {
		conn = &peekedConn{Conn: nc, head: (*bp)[:n], buf: bp}
	}
	head := (*bp)[:n]
	if headLen >= 0 {
		head = head[:headLen]
	}
	if !isWebSocketHead(head) {
		if peek {
			headBuffers.Put(bp)
		}
		nc.SetReadDeadline(time.Time{}) // net/http sets its own
		s.pending.remove(nc)
		s.httpConns.put(conn)
		return
	}
	info := parseHandshakeHead(head, nc.RemoteAddr().String())
	var rec *handshakeRecord
	if info.playgroundID != "" {
		rec = recordHead(head, info.remote) // now: the buffer goes back before the handshake ends
	}
	if peek {
		headBuffers.Put(bp)
	}
	// The handshake keeps the deadline the head had.
	c, err := wsx.AcceptConn(&deadlineContext{deadline}, conn, &s.opts)
	s.pending.remove(nc)
	if err != nil {
		s.refused(info, err)
		return
	}
	s.connected(c, info, rec, false)
}

// connSet is the set of connections whose handshake is in progress, closed when the server
// shuts down.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add puts c in the set; it reports false once the set is closed.
func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	if cs.conns == nil {
		cs.conns = make(map[net.Conn]struct{})
	}
	cs.conns[c] = struct{}{}
	return true
}

func (cs *connSet) remove(c net.Conn) {
	cs.mu.Lock()
	delete(cs.conns, c)
	cs.mu.Unlock()
}

// closeAll closes the connections in the set and refuses new ones.
func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for c := range cs.conns {
		c.Close()
	}
}
