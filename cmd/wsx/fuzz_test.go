package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// readFrame keeps at most limit bytes of a payload and unmasks it (§5.2, §5.3); a Close frame
// the doctor sends reads back as itself.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x02, 'h', 'i'})
	f.Add(closeFrame(wsx.StatusNormalClosure, "bye", true))
	f.Add([]byte{0x82, 126, 0x01, 0x00})
	f.Add([]byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, payload, err := readFrame(bufio.NewReader(bytes.NewReader(in)), 64)
		if err != nil {
			return
		}
		if int64(len(payload)) != min(h.Length, 64) {
			t.Fatalf("payload of %d bytes for a frame of %d", len(payload), h.Length)
		}
		if code, reason, err := frame.ParseClose(payload); err == nil && h.Opcode == frame.OpClose && len(payload) >= 2 && h.Length <= 64 {
			_, again, err := readFrame(bufio.NewReader(bytes.NewReader(closeFrame(wsx.StatusCode(code), string(reason), true))), 64)
			if err != nil || !bytes.Equal(again, payload) {
				t.Fatalf("close frame round trip: %q != %q (%v)", again, payload, err)
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
