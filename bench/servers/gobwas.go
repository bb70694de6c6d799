package servers

import (
	"bytes"
	"compress/flate"
	"io"
	"net"
	"slices"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

func init() {
	register(&Lib{Name: "gobwas", Serve: serveGobwas, Deflate: true})
}

// serveGobwas uses gobwas's low-level API the way its README does for speed and memory: a
// zero-copy ws.Upgrade on the raw accepted connection (no net/http), ReadHeader straight from
// the socket (no per-connection bufio), Cipher to unmask. Beyond the README it reuses one
// buffer per connection and sends header and payload in one write.
//
// permessage-deflate follows the README's wsflate example (Extension.Negotiate with
// DefaultParameters: no context takeover) but keeps one wsflate Reader and Writer per
// connection, at compress/flate level DeflateLevel like the other libraries, instead of the helpers that
// build a level-9 compressor for every frame.
func serveGobwas(ln net.Listener, o Options) (Server, error) {
	return serveConns(ln, func(nc net.Conn) { gobwasConn(nc, o.Deflate) })
}

func gobwasConn(nc net.Conn, deflate bool) {
	defer nc.Close()
	var fl *gobwasFlate
	if deflate {
		e := wsflate.Extension{Parameters: wsflate.DefaultParameters}
		if _, err := (ws.Upgrader{Negotiate: e.Negotiate}).Upgrade(nc); err != nil {
			return
		}
		if _, ok := e.Accepted(); ok {
			fl = newGobwasFlate()
		}
	} else if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	var hb [ws.MaxHeaderSize]byte
	var out []byte
	hw := new(fixedWriter) // one per connection: an io.Writer made per message would escape
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
		if fl != nil && h.Rsv != 0 {
			if rh, out, err = fl.recompress(rh, out[hs:], out[:0]); err != nil {
				return
			}
			hs = ws.HeaderSize(rh)
		}
		hw.b = out[:0:hs]
		if err := ws.WriteHeaderBuffer(hw, rh, hb[:]); err != nil {
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

// gobwasFlate holds a connection's decompressor and compressor, reset for every message.
type gobwasFlate struct {
	r     *wsflate.Reader
	w     *wsflate.Writer
	src   bytes.Reader
	plain bytes.Buffer
	comp  bytes.Buffer
}

func newGobwasFlate() *gobwasFlate {
	return &gobwasFlate{
		r: wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor {
			return &flateReader{flate.NewReader(r)}
		}),
		w: wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
			f, _ := flate.NewWriter(w, DeflateLevel)
			return f
		}),
	}
}

// recompress inflates a compressed single-frame message and deflates it again, returning the
// header of the reply and dst with room for that header followed by the compressed payload.
func (f *gobwasFlate) recompress(h ws.Header, payload, dst []byte) (ws.Header, []byte, error) {
	f.src.Reset(payload)
	f.r.Reset(&f.src)
	f.plain.Reset()
	if _, err := f.plain.ReadFrom(f.r); err != nil {
		return h, dst, err
	}
	f.comp.Reset()
	f.w.Reset(&f.comp)
	if _, err := f.w.Write(f.plain.Bytes()); err != nil {
		return h, dst, err
	}
	if err := f.w.Flush(); err != nil {
		return h, dst, err
	}
	h.Length = int64(f.comp.Len())
	hs := ws.HeaderSize(h)
	dst = append(slices.Grow(dst[:0], hs+f.comp.Len())[:hs], f.comp.Bytes()...)
	return h, dst, nil
}

// flateReader lets wsflate reset compress/flate's reader instead of building a new one per
// message (flate's Resetter takes a dictionary argument).
type flateReader struct{ io.ReadCloser }

func (r *flateReader) Reset(src io.Reader) { r.ReadCloser.(flate.Resetter).Reset(src, nil) }

// fixedWriter writes into a slice whose capacity is exactly what will be written.
type fixedWriter struct{ b []byte }

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		return 0, io.ErrShortBuffer
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
