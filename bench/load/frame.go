// Package load is a WebSocket load generator that spends as little CPU as it can, so that a
// benchmark measures the server: raw TCP, one handshake per connection, client frames built
// and masked once before the run, and echoes parsed only as far as their frame lengths.
package load

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/wsx-go/wsx/internal/frame"
)

// maskKey masks every client frame (§5.3). A fixed key lets frames be masked ahead of time;
// the server cannot tell.
var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Frame returns a complete masked client frame with FIN set (§5.2), encoded and masked by
// wsx's own frame codec. rsv1 marks a permessage-deflate compressed message (RFC 7692 §6).
func Frame(op frame.Opcode, payload []byte, rsv1 bool) []byte {
	h := frame.Header{Fin: true, Opcode: op, Masked: true, Key: maskKey, Length: int64(len(payload))}
	if rsv1 {
		h.Rsv = frame.Rsv1
	}
	hs := frame.Size(h.Length, true)
	f := make([]byte, hs+len(payload))
	frame.Put(f, h)
	frame.Mask(maskKey, 0, f[hs:hs+copy(f[hs:], payload)])
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
	op     frame.Opcode // opcode of the current message
	rsv1   bool
	msg    []byte
	lastOp frame.Opcode
	last   []byte
	lastR1 bool
}

func newEchoReader(nc net.Conn, leftover []byte, size int) *echoReader {
	e := &echoReader{nc: nc, buf: make([]byte, max(size, 4096, len(leftover)))}
	e.w = copy(e.buf, leftover)
	return e
}

// lastPayload returns the payload of the last message kept (keep), inflated when it has RSV1
// set, which is an error unless deflate (permessage-deflate in use).
func (e *echoReader) lastPayload(deflate bool) ([]byte, error) {
	if !e.lastR1 {
		return e.last, nil
	}
	if !deflate {
		return nil, errors.New("RSV1 set without permessage-deflate (§5.2)")
	}
	p, err := Inflate(e.last)
	if err != nil {
		return nil, fmt.Errorf("inflating: %v", err)
	}
	return p, nil
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
		h, hl, err := frame.Parse(e.buf[e.r:e.w])
		if err == frame.ErrShortHeader {
			return msgs, nil
		}
		if err != nil {
			return msgs, fmt.Errorf("load: %w", err)
		}
		if h.Masked {
			return msgs, errors.New("load: masked server frame (§5.1)")
		}
		e.r += hl
		op := h.Opcode
		e.inFrame, e.left, e.fin, e.control = true, h.Length, h.Fin, op.IsControl()
		switch {
		case op == frame.OpClose:
			return msgs, ErrClosed
		case op == frame.OpText || op == frame.OpBinary:
			e.op, e.rsv1 = op, h.Rsv&frame.Rsv1 != 0
		case op == frame.OpContinuation, op == frame.OpPing, op == frame.OpPong:
		default:
			return msgs, fmt.Errorf("load: unexpected opcode %#x", op)
		}
	}
}
