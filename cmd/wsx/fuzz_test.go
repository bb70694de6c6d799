package main

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// readHead returns a prefix of its input that ends with an empty line, or an error.
func FuzzReadHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00"))
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\n"))
	f.Add([]byte("no end\r\n"))
	f.Add([]byte(strings.Repeat("x", 5000) + "\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		head, err := readHead(bufio.NewReaderSize(bytes.NewReader(in), 16), 4096)
		if !bytes.HasPrefix(in, head) {
			t.Fatalf("head %q is not a prefix of the input", head)
		}
		if err != nil {
			return
		}
		if len(head) > 4096 || !(bytes.HasSuffix(head, []byte("\n\n")) || bytes.HasSuffix(head, []byte("\n\r\n")) || string(head) == "\n" || string(head) == "\r\n") {
			t.Fatalf("head %q does not end with an empty line", head)
		}
	})
}

// readFrame keeps at most limit bytes of a payload and unmasks it (§5.2, §5.3).
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x02, 'h', 'i'})
	f.Add(appendCloseFrame(nil, wsx.StatusNormalClosure, "bye", true))
	f.Add([]byte{0x82, 126, 0x01, 0x00})
	f.Add([]byte{0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(in)), 64)
		if err != nil {
			return
		}
		if uint64(len(fr.payload)) != min(fr.length, 64) {
			t.Fatalf("payload of %d bytes for a frame of %d", len(fr.payload), fr.length)
		}
		if fr.op == opClose && fr.masked && fr.length >= 2 && bytes.Equal(in[:2], []byte{0x88, 0x80 | byte(fr.length)}) && fr.length < 126 {
			// A masked Close we would send decodes back to its code and reason.
			code, reason := closePayload(fr.payload)
			again, _ := readFrame(bufio.NewReader(bytes.NewReader(appendCloseFrame(nil, code, reason, true))), 64)
			if !bytes.Equal(again.payload, fr.payload) {
				t.Fatalf("close frame round trip: %q != %q", again.payload, fr.payload)
			}
		}
	})
}

// parseExtensions returns only names and values that are tokens, and reads back what
// extension.String writes (§9.1).
func FuzzParseExtensions(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits, permessage-deflate")
	f.Add(`permessage-deflate; server_max_window_bits="10"; client_no_context_takeover`)
	f.Add(" ,;=, x ; = ; y=")
	f.Add(`x; a="b\"c", y; q="a,b;c"`)
	f.Fuzz(func(t *testing.T, v string) {
		xs, err := parseExtensions(v)
		if err == nil && len(xs) == 0 {
			t.Fatalf("%q: no extension and no error", v)
		}
		var parts []string
		for _, x := range xs {
			if !isToken(x.name) {
				t.Fatalf("%q: name %q is not a token", v, x.name)
			}
			for _, p := range x.params {
				if !isToken(p[0]) || p[1] != "" && !isToken(p[1]) {
					t.Fatalf("%q: parameter %q is not a token or its value %q is not one", v, p[0], p[1])
				}
			}
			parts = append(parts, x.String())
		}
		if len(xs) > 0 {
			if again, err := parseExtensions(strings.Join(parts, ", ")); err != nil || !reflect.DeepEqual(again, xs) {
				t.Fatalf("%q: parsed %v, then %v, %v", v, xs, again, err)
			}
		}
		for _, x := range xs {
			if x.name == "permessage-deflate" {
				checkDeflateResponse(x, xs)
			}
		}
	})
}

// escapeControl leaves nothing a terminal would act on (tabs and newlines aside).
func FuzzEscapeControl(f *testing.F) {
	f.Add([]byte("\x1b]0;title\x07\u202e\xff\xc2\x85ok\t\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := escapeControl(in)
		if !utf8.ValidString(out) {
			t.Fatalf("%q: invalid UTF-8", out)
		}
		for _, r := range out {
			if (unicode.Is(unicode.Cc, r) && r != '\t' && r != '\n') || unicode.Is(unicode.Bidi_Control, r) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("%q left %U", out, r)
			}
		}
		if utf8.Valid(in) && !bytes.ContainsFunc(in, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r > 0x2027 && r < 0x202a
		}) && out != string(in) {
			t.Fatalf("%q changed to %q", in, out)
		}
	})
}

// parseSize reads back what formatSize writes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "16", "16K", "64MiB", "1g", "-1", "9223372036854775807", "4611686018427387904"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Fatalf("%q = %d, formatted %q, read back %d, %v", s, n, formatSize(n), back, err)
		}
	})
}

// diagnoseAccept accepts exactly the right value, whitespace around it aside (§4.1 response
// rule 4), and always explains a wrong one.
func FuzzDiagnoseAccept(f *testing.F) {
	f.Add("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
	f.Add("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ==")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, key, got string) {
		why := diagnoseAccept(key, got)
		if right := strings.TrimSpace(got) == wsx.AcceptKey(key); right != (why == "") {
			t.Fatalf("key %q, accept %q: %q", key, got, why)
		}
	})
}
