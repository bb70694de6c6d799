package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// chunkReader returns its data in reads of the sizes given, cycling, to cut a request head
// where the network might.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)])%64 + 1
		r.i++
	}
	n = copy(p[:min(n, len(p))], r.data)
	r.data = r.data[n:]
	return n, nil
}

// The router's reading of request heads (serve_listen.go), whatever the bytes and however
// they arrive: the head it finds is a prefix of the input ending with an empty line, it
// reads no more than its buffer, and what it takes from the head is bounded.
func FuzzRouteHead(f *testing.F) {
	f.Add([]byte("GET /echo?wsx-playground=abc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nOrigin: http://x\r\n\r\n\x81\x00"), []byte{3, 7})
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\n"), []byte{1})
	f.Add([]byte("POST / HTTP/1.1\r\n\r\n"), []byte{})
	f.Add([]byte("\x16\x03\x01\x02\x00"), []byte{2})
	f.Add([]byte("GET "+strings.Repeat("a", 300)+"\r\n"+strings.Repeat("X-A: b\r\n", 200)+"\r\n"), []byte{63})
	f.Fuzz(func(t *testing.T, in, sizes []byte) {
		buf := make([]byte, 1024)
		n, headLen, err := readRequestHead(&chunkReader{data: in, sizes: sizes}, buf)
		if n > len(buf) || n > len(in) || !bytes.Equal(buf[:n], in[:n]) {
			t.Fatalf("read %d bytes, not a prefix of the input", n)
		}
		if headLen >= 0 {
			head := buf[:headLen]
			if err != nil || headLen > n || !(bytes.HasSuffix(head, []byte("\n\n")) || bytes.HasSuffix(head, []byte("\n\r\n"))) {
				t.Fatalf("head %q of %d bytes read, err %v", head, n, err)
			}
		} else if err == nil && n < len(buf) && mayBeHandshake(buf[:n]) {
			t.Fatalf("stopped after %d bytes, with no head, no error and room left", n)
		}
		head := buf[:max(headLen, 0)]
		isWebSocketHead(head)
		info := parseHandshakeHead(head, "127.0.0.1:1")
		if len(info.path)+len(info.origin)+len(info.userAgent)+len(info.playgroundID) > len(head) {
			t.Fatalf("took more from the head than it holds: %+v", info)
		}
		rec := recordHead(head, "127.0.0.1:1")
		if rec.size > maxRecordBytes || len(rec.Headers) > maxRecordFields {
			t.Fatalf("record of %d bytes in %d fields", rec.size, len(rec.Headers))
		}
	})
}

// appendJSONString writes a JSON string that decodes to its input, with invalid UTF-8 as
// U+FFFD, as encoding/json does.
func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add([]byte("q\"b\\n\n\r\t\x00\x1f\x7f é \u2028\u2029 \xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := appendJSONString(nil, in)
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		std, _ := json.Marshal(string(in))
		var want string
		json.Unmarshal(std, &want)
		if s != want {
			t.Fatalf("%q decodes to %q; encoding/json's to %q", in, s, want)
		}
		if bytes.ContainsAny(out, "\n\r\x00") {
			t.Fatalf("%q holds a raw control character", out)
		}
	})
}
