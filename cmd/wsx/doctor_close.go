package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// The closing handshakes of the doctor, as a client (wsx doctor URL) and as a server (wsx
// doctor --listen), with frames read and written by internal/frame.

// stream is what the client's closing handshake runs on: a TCP connection, or with --http2
// and --http3 a stream.
type stream interface {
	io.Writer
	SetDeadline(time.Time) error
}

// closingHandshake closes the established connection as a client (§7.1.2): a masked Close
// 1000, then the server's frames until its Close, then the end of TCP, which the server
// starts (§7.1.1), or of the server's half of the stream (RFC 8441 §5: END_STREAM stands for
// TCP's FIN).
func (d *doctor) closingHandshake(conn stream, br *bufio.Reader) {
	r := &d.rep
	conn.SetDeadline(time.Now().Add(min(d.cfg.timeout, 3*time.Second)))
	if _, err := conn.Write(closeFrame(wsx.StatusNormalClosure, "", true)); err != nil {
		r.warn("sending a Close frame: " + err.Error())
		return
	}
	for range 100 {
		h, payload, err := readFrame(br, 1<<20)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				r.warn("the server closed TCP without answering our Close frame (RFC 6455 §5.5.1, §7.1.2)")
			case isTimeoutErr(err):
				r.warn("the server did not answer our Close frame in time (RFC 6455 §5.5.1)")
			default:
				r.warn("reading the server's frames: " + err.Error())
			}
			return
		}
		if h.Masked {
			r.fail(fmt.Sprintf("the server sent a masked %s frame (RFC 6455 §5.1)", h.Opcode), "a server must not mask the frames it sends")
			return
		}
		if h.Opcode != frame.OpClose {
			r.info(fmt.Sprintf("the server sent a %s frame of %d bytes before answering our Close", h.Opcode, h.Length))
			continue
		}
		code, reason, err := frame.ParseClose(payload)
		if err != nil {
			r.fail(fmt.Sprintf("the server's Close frame %q is invalid: %v", payload, err))
			return
		}
		msg := fmt.Sprintf("closing handshake: the server answered our Close with %s", wsx.StatusCode(code))
		if len(reason) > 0 {
			msg += " " + strconv.Quote(string(reason))
		}
		r.ok(msg + " (§7.1.2)")
		ended, missing := "closed the TCP connection, as it should first (§7.1.1)", "close the TCP connection after the closing handshake (RFC 6455 §7.1.1)"
		if d.cfg.http2 || d.cfg.http3 {
			ended, missing = "ended its half of the stream (RFC 8441 §5)", "end its half of the stream after the closing handshake (RFC 8441 §5)"
		}
		if _, err := br.ReadByte(); errors.Is(err, io.EOF) {
			r.ok("the server then " + ended)
		} else {
			r.warn("the server did not " + missing)
		}
		return
	}
	r.warn("the server kept sending frames instead of answering our Close (RFC 6455 §5.5.1)")
}

// serverClose closes an established connection as a server (§7.1.2): a Close 1000, then the
// client's frames until its Close, which must be masked (§5.1).
func serverClose(r *report, conn net.Conn, br *bufio.Reader) {
	if _, err := conn.Write(closeFrame(wsx.StatusNormalClosure, "wsx doctor: handshake checked", false)); err != nil {
		r.warn("closing: " + err.Error())
		return
	}
	r.line("")
	r.info("answered 101 and closed with 1000")
	for range 100 {
		h, payload, err := readFrame(br, 1<<20)
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.warn("the client closed TCP without answering our Close frame (RFC 6455 §5.5.1)")
			} else {
				r.warn("the client did not answer our Close frame: " + err.Error())
			}
			return
		}
		if !h.Masked {
			r.fail(fmt.Sprintf("the client sent an unmasked %s frame (RFC 6455 §5.1, §5.3)", h.Opcode), "a client must mask every frame it sends")
			return
		}
		if h.Opcode == frame.OpClose {
			code, _, err := frame.ParseClose(payload)
			if err != nil {
				r.fail(fmt.Sprintf("the client's Close frame %q is invalid: %v", payload, err))
				return
			}
			r.ok(fmt.Sprintf("the client answered our Close with %s, masked (§5.1, §7.1.2)", wsx.StatusCode(code)))
			return
		}
		r.info(fmt.Sprintf("the client sent a %s frame of %d bytes", h.Opcode, h.Length))
	}
}

// readFrame reads one frame (§5.2) from br, keeping at most limit bytes of its payload,
// unmasked (§5.3).
func readFrame(br *bufio.Reader, limit int) (frame.Header, []byte, error) {
	var (
		h   frame.Header
		n   int
		err error
	)
	for need := 2; ; need++ {
		b, rerr := br.Peek(need)
		if h, n, err = frame.Parse(b); err != frame.ErrShortHeader {
			break
		}
		if rerr != nil {
			if rerr == io.EOF && need > 2 {
				rerr = io.ErrUnexpectedEOF
			}
			return h, nil, rerr
		}
	}
	if err != nil {
		return h, nil, err
	}
	br.Discard(n)
	payload := make([]byte, min(h.Length, int64(limit)))
	if _, err := io.ReadFull(br, payload); err != nil {
		return h, nil, err
	}
	if _, err := io.CopyN(io.Discard, br, h.Length-int64(len(payload))); err != nil {
		return h, nil, err
	}
	if h.Masked {
		frame.Mask(h.Key, 0, payload)
	}
	return h, payload, nil
}

// closeFrame returns a Close frame (§5.5.1) with code and reason, masked with a random key
// when mask is set, as a client's frames are (§5.3).
func closeFrame(code wsx.StatusCode, reason string, mask bool) []byte {
	return appendFrame(nil, true, frame.OpClose, frame.AppendClose(nil, uint16(code), reason), mask)
}

// appendFrame appends a frame (§5.2) with the given FIN bit, opcode and payload, masked with
// a random key when mask is set (§5.3).
func appendFrame(b []byte, fin bool, op frame.Opcode, payload []byte, mask bool) []byte {
	h := frame.Header{Fin: fin, Opcode: op, Masked: mask, Length: int64(len(payload))}
	if mask {
		rand.Read(h.Key[:])
	}
	var hb [frame.MaxHeaderSize]byte
	b = append(b, hb[:frame.Put(hb[:], h)]...)
	start := len(b)
	b = append(b, payload...)
	if mask {
		frame.Mask(h.Key, 0, b[start:])
	}
	return b
}
