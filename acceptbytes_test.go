//go:build !js

package wsx

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/bridge"
)

// TestAcceptBytes_4_2: the handshake on bytes answers a request that arrived whole with
// AcceptConn's 101 response, tells where the frames behind it start, asks for more while the
// head is incomplete (at every split), and refuses as AcceptConn does.
func TestAcceptBytes_4_2(t *testing.T) {
	req := upgradeRequest("", nil)
	frames := "\x81\x82\x01\x02\x03\x04hi"
	b := []byte(req + frames)
	cfg, n, out, err := acceptBytes(b, nil, nil)
	if err != nil || string(out) != rfcResponse || n != len(req) || cfg.client {
		t.Fatalf("acceptBytes = %d, %q, %v\nwant %d, %q", n, out, err, len(req), rfcResponse)
	}
	for k := range len(req) {
		if _, _, out, err := acceptBytes(b[:k], nil, nil); err != bridge.ErrIncomplete || len(out) != 0 {
			t.Fatalf("after %d of %d bytes: %q, %v; want to wait for the rest", k, len(req), out, err)
		}
	}

	_, _, out, err = acceptBytes([]byte(upgradeRequest("", []string{"Sec-WebSocket-Key"})), nil, []byte("kept:"))
	var ref *refusal
	if !errors.As(err, &ref) || ref.status != 400 || !bytes.HasPrefix(out, []byte("kept:HTTP/1.1 400 Bad Request\r\n")) ||
		!bytes.HasSuffix(out, []byte(ref.msg+"\n")) || !bytes.Contains(out, []byte("Connection: close\r\n")) {
		t.Errorf("refusal %q, %v", out, err)
	}
	long := []byte("GET / HTTP/1.1\r\nCookie: " + strings.Repeat("a", 20<<10))
	if _, _, out, err := acceptBytes(long, nil, nil); !errors.As(err, &ref) || ref.status != 431 || !bytes.HasPrefix(out, []byte("HTTP/1.1 431 ")) {
		t.Errorf("a head over the limit: %q, %v; want 431 (RFC 6585 §5)", out, err)
	}
}

// FuzzAcceptBytes: for any bytes, and any prefix of them, acceptBytes never panics, and a
// prefix that holds a whole head gets the answer the whole input gets: the handshake on an
// event loop does not depend on how the request was cut into reads.
func FuzzAcceptBytes(f *testing.F) {
	f.Add([]byte(upgradeRequest("", nil)+"\x81\x80abcd"), 40)
	f.Add([]byte(upgradeRequest("", nil, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")), 200)
	for _, tt := range refusalTests {
		f.Add([]byte(tt.req), len(tt.req)/2)
	}
	opts := &AcceptOptions{Compression: &CompressionOptions{}, Subprotocols: []string{"chat"}}
	f.Fuzz(func(t *testing.T, b []byte, k int) {
		k = min(max(k, 0), len(b))
		wcfg, wn, wout, werr := acceptBytes(b, opts, nil)
		if werr == nil && (wn > len(b) || !bytes.HasPrefix(wout, []byte("HTTP/1.1 101 "))) {
			t.Fatalf("accepted with n=%d of %d, response %q", wn, len(b), wout)
		}
		pcfg, pn, pout, perr := acceptBytes(b[:k], opts, nil)
		switch {
		case perr == bridge.ErrIncomplete:
			if werr == nil && wn <= k {
				t.Fatalf("the head (%d bytes) is within the first %d, which were called incomplete", wn, k)
			}
		case perr == nil:
			if werr != nil || pn != wn || !bytes.Equal(pout, wout) || pcfg.subprotocol != wcfg.subprotocol || pcfg.extensions != wcfg.extensions {
				t.Fatalf("the first %d bytes: %d, %q; the whole: %d, %q, %v", k, pn, pout, wn, wout, werr)
			}
		default:
			status, _, _ := bytes.Cut(pout, []byte("\r\n"))
			if werr == nil || werr == bridge.ErrIncomplete || !bytes.HasPrefix(wout, status) {
				t.Fatalf("the first %d bytes refused with %q (%v); the whole: %q, %v", k, status, perr, wout, werr)
			}
		}
	})
}
