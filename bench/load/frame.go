// Package load is a WebSocket load generator that spends as little CPU as it can, so that a
// benchmark measures the server: raw TCP, one handshake per connection, client frames built
// and masked once before the run, and echoes parsed only as far as their frame lengths.
package load

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Opcodes used by the generator (RFC 6455 §5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// maskKey masks every client frame (§5.3). A fixed key lets frames be masked ahead of time;
// the server cannot tell.
var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Frame returns a complete masked client frame with FIN set (§5.2). rsv1 marks a
// permessage-deflate compressed message (RFC 7692 §6).
func Frame(op byte, payload []byte, rsv1 bool) []byte {
	b0 := 0x80 | op
	if rsv1 {
		b0 |= 0x40
	}
	n := len(payload)
	f := make([]byte, 0, 14+n)
	switch {
	case n < 126:
		f = append(f, b0, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, b0, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, maskKey[:]...)
	start := len(f)
	f = append(f, payload...)
	for i := range payload {
		f[start+i] ^= maskKey[i&3]
	}
	return f
}

// Deflate compresses p as one permessage-deflate message without context takeover: a raw
// DEFLATE stream flushed to a byte boundary, less the trailing 00 00 ff ff (RFC 7692 §7.2.1).
func Deflate(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// Inflate undoes Deflate (RFC 7692 §7.2.2), for checking echoes.
func Inflate(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	defer r.Close()
	return io.ReadAll(r)
}

// ErrClosed reports a Close frame from the server.
var ErrClosed = errors.New("load: server sent a close frame")

// echoReader parses server frames from a connection. It counts complete messages and, when
// keep is set, collects the payload of the last one.
type echoReader struct {
	nc   net.Conn
	buf  []byte
	r, w int

	inFrame bool  // a frame header was parsed and its payload is being consumed
	left    int64 // payload bytes of the current frame not yet consumed
	fin     bool
	control bool

	keep   bool
	op     byte // opcode of the current message
	rsv1   bool
	msg    []byte
	lastOp byte
	last   []byte
	lastR1 bool
}

func newEchoReader(nc net.Conn, leftover []byte, size int) *echoReader {
	e := &echoReader{nc: nc, buf: make([]byte, max(size, 4096, len(leftover)))}
	e.w = copy(e.buf, leftover)
	return e
}

// readSome reads until at least one whole message has arrived and returns how many did.
func (e *echoReader) readSome() (int, error) {
	msgs := 0
	for {
		n, err := e.parse()
		msgs += n
		if err != nil {
			return msgs, err
		}
		if msgs > 0 {
			return msgs, nil
		}
		e.compact()
		m, err := e.nc.Read(e.buf[e.w:])
		e.w += m
		if err != nil && m == 0 {
			return msgs, err
		}
	}
}

// compact makes room after the buffered bytes, which parse has consumed but for at most a
// partial frame header.
func (e *echoReader) compact() {
	if e.r == e.w {
		e.r, e.w = 0, 0
	} else if e.r > 0 {
		e.w = copy(e.buf, e.buf[e.r:e.w])
		e.r = 0
	}
}

// parse consumes the buffered bytes and returns how many messages they completed.
func (e *echoReader) parse() (int, error) {
	msgs := 0
	for {
		if e.inFrame {
			k := min(e.left, int64(e.w-e.r))
			if e.keep && !e.control {
				e.msg = append(e.msg, e.buf[e.r:e.r+int(k)]...)
			}
			e.r += int(k)
			e.left -= k
			if e.left > 0 {
				return msgs, nil
			}
			e.inFrame = false
			if !e.control && e.fin {
				msgs++
				if e.keep {
					e.last, e.lastOp, e.lastR1 = append(e.last[:0], e.msg...), e.op, e.rsv1
					e.msg = e.msg[:0]
				}
			}
			continue
		}
		avail := e.buf[e.r:e.w]
		if len(avail) < 2 {
			return msgs, nil
		}
		b0, b1 := avail[0], avail[1]
		if b1&0x80 != 0 {
			return msgs, errors.New("load: masked server frame (§5.1)")
		}
		hl, n := 2, int64(b1&0x7f)
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if len(avail) < hl {
			return msgs, nil
		}
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(avail[2:]))
		case 127:
			u := binary.BigEndian.Uint64(avail[2:])
			if u>>63 != 0 {
				return msgs, errors.New("load: 64-bit length with the top bit set (§5.2)")
			}
			n = int64(u)
		}
		e.r += hl
		op := b0 & 0x0f
		e.inFrame, e.left, e.fin, e.control = true, n, b0&0x80 != 0, op >= 0x8
		switch {
		case op == opClose:
			return msgs, ErrClosed
		case op == opText || op == opBinary:
			e.op, e.rsv1 = op, b0&0x40 != 0
		case op == opCont, op == opPing, op == opPong:
		default:
			return msgs, fmt.Errorf("load: unexpected opcode %#x", op)
		}
	}
}
