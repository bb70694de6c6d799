// Package hostile attacks a wsx server as a hostile peer would and measures what the server
// holds meanwhile: the figures that issue 8 asks the README's limits to state (peak heap per
// deflate bomb, bytes held by a stalled message, RSS of thousands of stalled compressed
// connections under the message memory limit). cmd/wsxhostile prints them as a table; the
// tests here run the same attacks scaled down.
//
// The attacker speaks raw bytes (its own handshake and framing, nothing shared with wsx), so
// that it can break every rule; the server under attack runs in a process of its own, whose
// heap and RSS are sampled while it is attacked.
package hostile

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Peer is a WebSocket client that sends whatever it is told to, masked as a client must
// (RFC 6455 §5.3) unless told otherwise.
type Peer struct {
	Conn       net.Conn
	Extensions string // the server's Sec-WebSocket-Extensions answer
	br         *bufio.Reader
	key        [4]byte
}

// Dial opens a WebSocket connection to addr (host:port), offering permessage-deflate when
// deflate is set.
func Dial(addr string, deflate bool) (*Peer, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	p, err := Handshake(nc, addr, deflate)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

// DialCompressed is Dial offering permessage-deflate, and failing if the server declines it.
func DialCompressed(addr string) (*Peer, error) {
	p, err := Dial(addr, true)
	if err == nil && !p.Compressed() {
		p.Conn.Close()
		return nil, errors.New("the server declined permessage-deflate")
	}
	return p, err
}

// Handshake performs the client's opening handshake (§4.1) on nc.
func Handshake(nc net.Conn, host string, deflate bool) (*Peer, error) {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	req += "\r\n"
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return nil, errors.New("handshake: wrong Sec-WebSocket-Accept")
	}
	p := &Peer{Conn: nc, Extensions: resp.Header.Get("Sec-WebSocket-Extensions"), br: br}
	rand.Read(p.key[:])
	return p, nil
}

// Compressed reports whether the server agreed to permessage-deflate.
func (p *Peer) Compressed() bool { return strings.HasPrefix(p.Extensions, "permessage-deflate") }

// Opcodes (§5.2) and the RSV1 bit that marks a compressed message (RFC 7692 §6).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
	Rsv1           = 0x40
)

// Header encodes a masked frame header announcing length payload bytes. first is the first
// byte: FIN (0x80), RSV bits and opcode.
func (p *Peer) Header(first byte, length uint64) []byte {
	b := []byte{first, 0x80}
	switch {
	case length < 126:
		b[1] |= byte(length)
	case length <= 0xffff:
		b[1] |= 126
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	default:
		b[1] |= 127
		b = binary.BigEndian.AppendUint64(b, length)
	}
	return append(b, p.key[:]...)
}

// Frame encodes a whole masked frame.
func (p *Peer) Frame(first byte, payload []byte) []byte {
	b := p.Header(first, uint64(len(payload)))
	n := len(b)
	b = append(b, payload...)
	p.Mask(b[n:], 0)
	return b
}

// Mask masks payload bytes that start at offset pos of a frame's payload.
func (p *Peer) Mask(b []byte, pos int) {
	for i := range b {
		b[i] ^= p.key[(pos+i)&3]
	}
}

// Write writes raw bytes.
func (p *Peer) Write(b []byte) error {
	_, err := p.Conn.Write(b)
	return err
}

// ReadClose reads the server's frames until its Close frame and returns its status code
// (1005 for none) and reason; frames before it are skipped. A connection that ends first
// returns an error, as does one that sends nothing for timeout.
func (p *Peer) ReadClose(timeout time.Duration) (int, string, error) {
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	for {
		op, payload, err := p.ReadFrame()
		if err != nil {
			return 0, "", err
		}
		if op != OpClose {
			continue
		}
		if len(payload) < 2 {
			return 1005, "", nil
		}
		return int(binary.BigEndian.Uint16(payload)), string(payload[2:]), nil
	}
}

// ReadFrame reads one frame from the server; a payload over 1 MiB is skipped, not kept.
func (p *Peer) ReadFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("masked frame from the server")
	}
	if n > 1<<20 {
		_, err := io.CopyN(io.Discard, p.br, int64(n))
		return h[0] & 0xf, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(p.br, payload)
	return h[0] & 0xf, payload, err
}

// Deflated returns n zero bytes compressed with DEFLATE at the given level, without the
// 00 00 ff ff tail that permessage-deflate leaves out (RFC 7692 §7.2.1): the body of a
// compressed frame that inflates to n bytes. Zeros compress about 1,000 to 1, the most
// DEFLATE allows, which makes them the bomb.
func Deflated(n int64, level int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	zeros := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(zeros)))
		w.Write(zeros[:k])
		n -= k
	}
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}
