package load

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"
)

// The key of every handshake: servers must not require keys to differ, and a fixed key lets
// the request be built once (§4.1).
const (
	clientKey = "dGhlIHNhbXBsZSBub25jZQ=="
	// DeflateOffer asks for permessage-deflate without context takeover in either direction
	// (RFC 7692 §7.1.1), so every library compresses each message on its own and the
	// generator can pre-compress its frames.
	DeflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
)

var acceptKey = func() string {
	h := sha1.Sum([]byte(clientKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}()

// Request returns the opening handshake request for host (§4.1).
func Request(host string, deflate bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", host, clientKey)
	if deflate {
		b.WriteString("Sec-WebSocket-Extensions: " + DeflateOffer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Dialer opens connections, spreading their source addresses over 127.0.0.2 and up so that
// many thousands of connections do not exhaust one address's ephemeral ports.
type Dialer struct {
	addr    string
	sources int
	deflate bool
	req     []byte

	// TLS, when set, makes every connection start with a TLS handshake (wss://). Only the
	// idle load runs over TLS: the echo loads drive raw sockets.
	TLS *tls.Config
}

// NewDialer returns a Dialer for the server at addr using the given number of source
// addresses (at most 250; 0 lets the system choose). With deflate it offers
// permessage-deflate and requires it in the response.
func NewDialer(addr string, sources int, deflate bool) *Dialer {
	return &Dialer{addr: addr, sources: min(sources, 250), deflate: deflate, req: Request(addr, deflate)}
}

// Conn is an upgraded client connection.
type Conn struct {
	net.Conn
	leftover []byte // bytes read past the handshake response
}

// Dial opens connection number i and performs the opening handshake.
func (d *Dialer) Dial(ctx context.Context, i int) (*Conn, error) {
	var nd net.Dialer
	if d.sources > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%d.sources))}
	}
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if d.TLS != nil {
		tc := tls.Client(nc, d.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			abort(nc)
			return nil, err
		}
		nc = tc
	}
	c, err := d.handshake(nc)
	if err != nil {
		abort(nc)
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (d *Dialer) handshake(nc net.Conn) (*Conn, error) {
	if _, err := nc.Write(d.req); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			return nil, errors.New("load: handshake response too long")
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 {
			head := buf[:end+2]
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
				line, _, _ := bytes.Cut(head, []byte("\r\n"))
				return nil, fmt.Errorf("load: handshake refused: %q", line)
			}
			if !headerHas(head, "sec-websocket-accept", acceptKey) {
				return nil, errors.New("load: wrong Sec-WebSocket-Accept (§4.2.2)")
			}
			if d.deflate && !headerHas(head, "sec-websocket-extensions", "permessage-deflate") {
				return nil, errors.New("load: server did not accept permessage-deflate")
			}
			return &Conn{Conn: nc, leftover: buf[end+4:]}, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// headerHas reports whether a header line named name (lower case) contains value.
func headerHas(head []byte, name, value string) bool {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(bytes.ToLower(bytes.TrimSpace(k))) == name && bytes.Contains(v, []byte(value)) {
			return true
		}
	}
	return false
}

// abort closes nc with a reset, so that the generator leaves no TIME_WAIT sockets behind.
func abort(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}

// Abort closes the connection with a reset.
func (c *Conn) Abort() { abort(c.Conn) }
