package servers

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"

	"github.com/wsx-go/wsx/internal/frame"
)

func init() {
	register(&Lib{Name: "bare", Serve: serveBare, Floor: true})
}

// serveBare is the floor the libraries are judged against, not a WebSocket implementation:
// per connection a goroutine on Go's netpoller that does one read into a 64 KiB buffer and
// one write of what that read completed, as the least any goroutine-per-connection server
// pays. Between the two it only turns the client's frames into server frames in place (drops
// the masking key, unmasks, §5.3) so that the generator's check of every echo passes: no
// protocol rules, no control frames, no messages (a large frame streams through in pieces as
// it arrives, without being gathered whole). The handshake is as bare: find the key, answer
// 101 (§4.2.2).
func serveBare(ln net.Listener, _ Options) (Server, error) {
	return serveConns(ln, bareConn)
}

func bareConn(nc net.Conn) {
	defer nc.Close()
	buf := make([]byte, 64<<10)
	n, err := bareHandshake(nc, buf)
	if err != nil {
		return
	}
	var e bareEchoer
	r := copy(buf, buf[n[0]:n[1]]) // frames right behind the request
	for {
		w, keep, err := e.convert(buf[:r])
		if err != nil {
			return
		}
		if w > 0 {
			if _, err := nc.Write(buf[:w]); err != nil {
				return
			}
		}
		r = copy(buf, buf[keep:r]) // a partial header waits for the next read
		m, err := nc.Read(buf[r:])
		if err != nil {
			return
		}
		r += m
	}
}

// bareHandshake reads the request into buf and answers it; it returns where the bytes that
// followed the request lie in buf.
func bareHandshake(nc net.Conn, buf []byte) ([2]int, error) {
	r := 0
	for {
		m, err := nc.Read(buf[r:4096])
		if err != nil {
			return [2]int{}, err
		}
		r += m
		end := bytes.Index(buf[:r], []byte("\r\n\r\n"))
		if end < 0 {
			if r == 4096 {
				return [2]int{}, errors.New("request too long")
			}
			continue
		}
		_, rest, ok := bytes.Cut(buf[:end], []byte("\r\nSec-WebSocket-Key: "))
		if !ok {
			return [2]int{}, errors.New("no key")
		}
		key, _, _ := bytes.Cut(rest, []byte("\r\n"))
		h := sha1.New()
		h.Write(key)
		h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		var resp [128]byte
		out := append(resp[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		out = base64.StdEncoding.AppendEncode(out, h.Sum(nil))
		out = append(out, "\r\n\r\n"...)
		_, err = nc.Write(out)
		return [2]int{end + 4, r}, err
	}
}

// bareEchoer turns client frames into server frames as their bytes arrive.
type bareEchoer struct {
	key  [4]byte
	pos  int   // masking key offset of the next payload byte
	left int64 // payload bytes of the current frame still to come
}

// convert rewrites b in place: the frames, and pieces of frames, it holds become the server
// frames in b[:w]; b[keep:] is the start of a header still incomplete.
func (e *bareEchoer) convert(b []byte) (w, keep int, err error) {
	r := 0
	for r < len(b) {
		if e.left == 0 {
			h, n, err := frame.Parse(b[r:])
			if err == frame.ErrShortHeader {
				break
			}
			if err != nil {
				return 0, 0, err
			}
			if h.Opcode == frame.OpClose {
				return 0, 0, errors.New("close")
			}
			r += n
			e.key, e.pos, e.left = h.Key, 0, h.Length
			h.Masked = false
			w += frame.Put(b[w:], h) // 4 bytes shorter than the client's: w stays behind r
			continue
		}
		k := int(min(e.left, int64(len(b)-r)))
		p := b[r : r+k]
		e.pos = frame.Mask(e.key, e.pos, p)
		w += copy(b[w:], p)
		r += k
		e.left -= int64(k)
	}
	return w, r, nil
}
