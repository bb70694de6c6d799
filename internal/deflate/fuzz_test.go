package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/header"
)

// FuzzNegotiate feeds arbitrary Sec-WebSocket-Extensions values to both
// sides of the negotiation. A response the server builds must parse, must
// be accepted by a client that made that offer, and must obey §7.1.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover",
		`permessage-deflate; server_max_window_bits="08", permessage-deflate`,
		"permessage-deflate; client_max_window_bits; client_max_window_bits",
		"x-webkit-deflate-frame, permessage-deflate; foo=bar",
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, knobs uint8) {
		exts, err := header.ParseExtensions([]string{s})
		if err != nil {
			return
		}
		cfg := Config{
			WindowBits:            8 + int(knobs&7),
			PeerWindowBits:        8 + int(knobs>>3&7),
			NoContextTakeover:     knobs&0x40 != 0,
			PeerNoContextTakeover: knobs&0x80 != 0,
		}
		for _, e := range exts {
			ClientAccept(e, cfg) // must not panic
		}
		p, resp, ok := ServerNegotiate(exts, cfg)
		if !ok {
			return
		}
		back, err := header.ParseExtensions([]string{resp.String()})
		if err != nil || len(back) != 1 {
			t.Fatalf("response %q does not parse: %v", resp.String(), err)
		}
		if _, err := parseParams(back[0].Params, true); err != nil {
			t.Fatalf("response %q is invalid: %v", resp.String(), err)
		}
		// Find the accepted offer: the first valid one (§5.1).
		var o offer
		for _, e := range exts {
			if strings.EqualFold(e.Name, ExtensionName) {
				if o, err = parseParams(e.Params, false); err == nil {
					break
				}
			}
		}
		if o.serverBits > 0 && p.ServerMaxWindowBits > o.serverBits {
			t.Fatalf("server window %d above the offered %d (§7.1.2.1)", p.ServerMaxWindowBits, o.serverBits)
		}
		if o.serverNCT && !p.ServerNoContextTakeover {
			t.Fatal("server_no_context_takeover offered but not applied (§7.1.1.1)")
		}
		if o.clientBits == 0 && strings.Contains(resp.String(), clientMaxWindowBits) {
			t.Fatal("client_max_window_bits answered but not offered (§7.1.2.2)")
		}
	})
}

// FuzzInflate inflates arbitrary input in pieces with a limit. It must not
// panic, must never produce more than the limit, and whatever it inflates
// completely must match compress/flate's reading of the same stream.
func FuzzInflate(f *testing.F) {
	c := NewCompressor(15, false, DefaultCompression)
	f.Add(c.AppendMessage(nil, jsonText(1, 3000)), uint16(100), uint8(7))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(3), uint8(1))
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint16(100), uint8(2))
	f.Add(bombPayload(100000), uint16(5000), uint8(64))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, piece uint8) {
		d := NewDecompressor(15, false)
		d.SetLimit(int64(limit))
		out := make([]byte, 1+int(piece)*3)
		var got []byte
		in := data
		for {
			chunk := in[:min(len(in), 1+int(piece))]
			n, ns, err := d.Inflate(out, chunk, len(chunk) == len(in))
			got = append(got, out[:n]...)
			in = in[ns:]
			if len(got) > int(limit) && limit > 0 {
				t.Fatalf("produced %d bytes over the limit %d", len(got), limit)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && err != ErrTooLarge {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if n == 0 && ns == 0 && len(chunk) != len(in) {
				t.Fatal("no progress")
			}
		}
		// Completed: where compress/flate accepts the stream too (it is
		// stricter about incomplete Huffman codes), it must agree: it
		// allows the same 32 KiB window and stops at BFINAL like we do.
		want, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(data), bytes.NewReader(messageTrailer[:]))))
		if (err == nil || err == io.ErrUnexpectedEOF) && !bytes.Equal(got, want) {
			t.Fatalf("inflated %d bytes, compress/flate %d", len(got), len(want))
		}
	})
}

// FuzzCompress compresses two arbitrary messages in a row, whole or in
// pieces, at any window, level and context takeover setting, and checks
// with the strict decoder that each inflates back exactly and refers no
// further than 2^bits bytes (RFC 7692 §7.1.2), across messages only with
// context takeover (§7.1.1).
func FuzzCompress(f *testing.F) {
	f.Add(jsonText(1, 3000), jsonText(2, 500), uint8(14), uint8(1), true, uint16(0))
	f.Add(randomBytes(3, 700), bytes.Repeat([]byte("ab"), 900), uint8(8), uint8(9), false, uint16(100))
	f.Fuzz(func(t *testing.T, m1, m2 []byte, bits, level uint8, takeover bool, piece uint16) {
		window := 1 << clampBits(int(bits))
		c := NewCompressor(int(bits), takeover, int(level))
		var hist []byte
		for i, m := range [][]byte{m1, m2} {
			var payload []byte
			if piece == 0 {
				payload = c.AppendMessage(nil, m)
			} else {
				for p := m; len(p) > 0; p = p[min(len(p), int(piece)):] {
					payload = c.Write(payload, p[:min(len(p), int(piece))])
				}
				payload = c.Finish(payload)
			}
			if !takeover {
				hist = nil
			}
			got, _, err := strictInflate(append(payload, messageTrailer[:]...), hist, window)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("message %d: round trip differs", i)
			}
			hist = append(hist, m...)
		}
	})
}
