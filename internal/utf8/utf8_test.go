package utf8

import (
	"testing"
	"unicode/utf8"
)

// TestValidMatchesStdlib checks Valid and Validator against unicode/utf8 for
// all 1-, 2- and 3-byte inputs over an interesting byte alphabet.
func TestValidMatchesStdlib(t *testing.T) {
	alpha := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	var buf []byte
	var rec func(depth int)
	rec = func(depth int) {
		want := utf8.Valid(buf)
		if got := Valid(buf); got != want {
			t.Fatalf("Valid(% x) = %v, want %v", buf, got, want)
		}
		var v Validator
		if got := v.Write(buf) && v.Complete(); got != want {
			t.Fatalf("Validator(% x) = %v, want %v", buf, got, want)
		}
		if depth == 0 {
			return
		}
		for _, c := range alpha {
			buf = append(buf, c)
			rec(depth - 1)
			buf = buf[:len(buf)-1]
		}
	}
	rec(4)
}
