//go:build !js

package event

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// TLS in event mode uses crypto/tls as it is. The TLS handshake, a conversation of several
// round trips that crypto/tls runs as blocking calls, runs in a goroutine of its own for the
// time it takes (within HandshakeTimeout), reading the bytes the worker hands it. From then
// on the worker decrypts records as they arrive: it gives tls.Conn the bytes it read and calls
// Read until the link has nothing more, which it says with a temporary net.Error, the one kind
// of read error crypto/tls does not keep (any other ends the tls.Conn for good). An idle TLS
// connection holds its tls.Conn: the session's keys, and the record buffer crypto/tls keeps.

// tlsLink is the transport under a connection's tls.Conn.
type tlsLink struct {
	c    *Conn
	conn *tls.Conn

	mu      sync.Mutex
	inbox   []byte        // bytes read during the handshake, not consumed by it yet
	ready   chan struct{} // the handshake's reader is woken: bytes came, or the link stopped
	stopped bool
	open    bool // the handshake finished: every caller of conn holds Conn.mu
	err     error
	cancel  context.CancelFunc

	// After the handshake: what the worker read, being decrypted, and where it stands in the
	// records (RFC 8446 §5.1: a 5-byte header whose last two bytes are the length).
	in     []byte
	hdr    [5]byte
	hdrN   int  // header bytes seen of the record in progress
	bodyN  int  // body bytes of the record in progress not handed over yet
	inBody bool // the header of the record in progress is complete
}

// maxTLSInbox bounds what a client may send during the TLS handshake before it is read.
const maxTLSInbox = 256 << 10

// startTLS starts the TLS handshake in a goroutine; the caller is the owner.
func (c *Conn) startTLS() {
	t := &tlsLink{c: c, ready: make(chan struct{}, 1)}
	t.conn = tls.Server(t, c.srv.TLSConfig)
	c.tls = t
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.handshakeTimeout)
	t.cancel = cancel
	c.srv.wg.Add(1)
	go func() {
		defer c.srv.wg.Done()
		err := t.conn.HandshakeContext(ctx)
		cancel()
		t.mu.Lock()
		t.open, t.err = true, err
		t.cancel, t.ready = nil, nil // kept by an idle connection otherwise
		t.mu.Unlock()
		c.post(taskTLSDone)
	}()
}

// tlsDone goes on after the TLS handshake: to the opening handshake, with whatever the client
// sent behind its last handshake message.
func (c *Conn) tlsDone() {
	t := c.tls
	t.mu.Lock()
	err := t.err
	t.mu.Unlock()
	if err != nil || c.phase != phTLS {
		c.release()
		return
	}
	c.phase = phUpgrade
	t.mu.Lock()
	rest := t.inbox // what the client sent behind its last handshake message
	t.inbox = nil
	t.mu.Unlock()
	t.receive(c, rest)
}

// feed hands bytes read during the TLS handshake to its goroutine; the caller is the owner.
func (t *tlsLink) feed(c *Conn, p []byte) {
	t.mu.Lock()
	over := len(t.inbox)+len(p) > maxTLSInbox
	if !over {
		t.inbox = append(t.inbox, p...)
	}
	t.wakeLocked()
	t.mu.Unlock()
	if over {
		c.release()
	}
}

// wakeLocked wakes the handshake's reader, if it waits; the caller holds mu.
func (t *tlsLink) wakeLocked() {
	select {
	case t.ready <- struct{}{}:
	default:
	}
}

// receive decrypts p, bytes the worker read, and runs the plaintext through the connection;
// the caller is the owner. Read hands tls.Conn one record at a time, so that once p is used
// up crypto/tls has nothing whole left to decrypt and need not be asked again (each time it is
// asked for a record it does not have, it allocates).
func (t *tlsLink) receive(c *Conn, p []byte) {
	t.in = p
	defer func() { t.in = nil }()
	plain := c.plain()
	first := true
	for c.phase != phReleased && (len(t.in) > 0 || first) {
		first = false
		c.mu.Lock()
		n, err := t.conn.Read(plain)
		c.mu.Unlock()
		if n > 0 {
			c.receive(plain[:n])
		}
		if err != nil && err != errWouldBlock {
			c.eof(err)
			return
		}
	}
}

// take copies to p the bytes of t.in up to the end of the record in progress.
func (t *tlsLink) take(p []byte) int {
	n := 0
	for n < len(p) && len(t.in) > 0 {
		if !t.inBody {
			k := copy(t.hdr[t.hdrN:], t.in[:min(len(t.in), len(p)-n)])
			copy(p[n:], t.in[:k])
			n, t.hdrN, t.in = n+k, t.hdrN+k, t.in[k:]
			if t.hdrN < len(t.hdr) {
				continue
			}
			t.hdrN, t.inBody = 0, true
			t.bodyN = int(binary.BigEndian.Uint16(t.hdr[3:]))
		}
		k := copy(p[n:], t.in[:min(len(t.in), t.bodyN)])
		n, t.bodyN, t.in = n+k, t.bodyN-k, t.in[k:]
		if t.bodyN == 0 {
			t.inBody = false
			break // the record is whole
		}
	}
	return n
}

// write sends a then b as TLS records; the caller holds Conn.mu. They are copied into one
// buffer: one record for a frame's header and payload, and nothing of the caller's kept by
// crypto/tls (which would make every frame header escape to the heap).
func (t *tlsLink) write(c *Conn, a, b []byte) error {
	buf := append(append(getBuffer(len(a)+len(b)), a...), b...)
	_, err := t.conn.Write(buf)
	putBuffer(buf)
	return err
}

// stop ends the link: a handshake in progress fails.
func (t *tlsLink) stop() {
	t.mu.Lock()
	t.stopped = true
	t.inbox = nil
	cancel := t.cancel
	t.wakeLocked()
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// errWouldBlock tells tls.Conn that the bytes read so far are all there is: a temporary
// net.Error, which crypto/tls does not keep as the connection's error.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "wsx: no more input for now" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Read gives tls.Conn the bytes read from the socket: during the handshake it waits for them;
// after it, it returns errWouldBlock when they run out.
func (t *tlsLink) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.inbox) == 0 {
		switch {
		case t.stopped:
			return 0, net.ErrClosed
		case t.open:
			if len(t.in) == 0 {
				return 0, errWouldBlock
			}
			return t.take(p), nil
		}
		ready := t.ready
		t.mu.Unlock()
		<-ready
		t.mu.Lock()
	}
	n := copy(p, t.inbox)
	if t.inbox = t.inbox[n:]; len(t.inbox) == 0 {
		t.inbox = nil
	}
	return n, nil
}

// Write sends TLS records to the socket. After the handshake its callers hold Conn.mu; the
// handshake's goroutine does not.
func (t *tlsLink) Write(p []byte) (int, error) {
	c := t.c
	t.mu.Lock()
	open := t.open
	t.mu.Unlock()
	if !open {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	if err := c.sendRaw(p, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close is called by crypto/tls when the handshake's context ends.
func (t *tlsLink) Close() error {
	t.mu.Lock()
	t.stopped = true
	t.wakeLocked()
	t.mu.Unlock()
	return nil
}

func (t *tlsLink) LocalAddr() net.Addr              { return t.c.LocalAddr() }
func (t *tlsLink) RemoteAddr() net.Addr             { return t.c.RemoteAddr() }
func (t *tlsLink) SetDeadline(time.Time) error      { return errNoDeadline }
func (t *tlsLink) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (t *tlsLink) SetWriteDeadline(time.Time) error { return errNoDeadline }

var errNoDeadline = errors.New("wsx: the event server bounds TLS handshakes itself")
