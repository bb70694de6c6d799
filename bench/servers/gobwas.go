package servers

import (
	"io"
	"net"

	"github.com/gobwas/ws"
)

func init() {
	register(&Lib{Name: "gobwas", Serve: serveGobwas})
}

// serveGobwas uses gobwas's low-level API the way its README does for speed and memory: a
// zero-copy ws.Upgrade on the raw accepted connection (no net/http), ReadHeader straight from
// the socket (no per-connection bufio), Cipher to unmask. Beyond the README it reuses one
// buffer per connection and sends header and payload in one write. permessage-deflate is not
// part of this path.
func serveGobwas(ln net.Listener, _ Options) (Server, error) {
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go gobwasConn(nc)
		}
	}()
	return ln, nil
}

func gobwasConn(nc net.Conn) {
	defer nc.Close()
	if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	var hb [ws.MaxHeaderSize]byte
	var out []byte
	for {
		h, err := ws.ReadHeaderBuffer(nc, hb[:])
		if err != nil || h.Length > ReadLimit {
			return
		}
		n := int(h.Length)
		rh := ws.Header{Fin: h.Fin, Rsv: h.Rsv, OpCode: h.OpCode, Length: h.Length}
		if h.OpCode == ws.OpPing {
			rh.OpCode = ws.OpPong
		}
		hs := ws.HeaderSize(rh)
		if cap(out) < hs+n {
			out = make([]byte, hs+n)
		}
		out = out[:hs+n]
		if _, err := io.ReadFull(nc, out[hs:]); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(out[hs:], h.Mask, 0)
		}
		if err := ws.WriteHeaderBuffer(&fixedWriter{b: out[:0:hs]}, rh, hb[:]); err != nil {
			return
		}
		if h.OpCode == ws.OpPong {
			continue
		}
		if _, err := nc.Write(out); err != nil || h.OpCode == ws.OpClose {
			return
		}
	}
}

// fixedWriter writes into a slice whose capacity is exactly what will be written.
type fixedWriter struct{ b []byte }

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		return 0, io.ErrShortBuffer
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
