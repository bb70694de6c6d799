package frame

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// TestValidCloseCode checks every uint16 against the lists of §7.4.1 (defined
// codes), §7.4.2 (ranges) and the IANA registry (§11.7).
func TestValidCloseCode(t *testing.T) {
	allowed := map[uint16]bool{
		1000: true, 1001: true, 1002: true, 1003: true, // §7.4.1
		1007: true, 1008: true, 1009: true, 1010: true, 1011: true, // §7.4.1
		1012: true, 1013: true, 1014: true, // IANA registry
	}
	for c := range 1 << 16 {
		code := uint16(c)
		want := allowed[code] || 3000 <= c && c <= 4999 // §7.4.2: libraries, frameworks, applications
		if got := ValidCloseCode(code); got != want {
			t.Errorf("ValidCloseCode(%d) = %v, want %v", code, got, want)
		}
	}
	// Codes that §7.4.1 reserves for local reporting never appear on the wire.
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		if ValidCloseCode(code) {
			t.Errorf("ValidCloseCode(%d) = true", code)
		}
	}
}

func TestParseClose(t *testing.T) {
	tests := []struct {
		name   string
		p      []byte
		code   uint16
		reason []byte
		err    error
	}{
		{"empty payload is 1005 (§7.4.1)", nil, 1005, nil, nil},
		{"empty non-nil payload", []byte{}, 1005, nil, nil},
		{"1-byte payload (§5.5.1)", []byte{0x03}, 0, nil, ErrCloseLength},
		{"code only", []byte{0x03, 0xe8}, 1000, []byte{}, nil},
		{"code and reason", []byte("\x03\xe9going away"), 1001, []byte("going away"), nil},
		{"multibyte reason", []byte("\x0f\xa0κόσμε"), 4000, []byte("κόσμε"), nil},
		{"IANA 1012", []byte{0x03, 0xf4}, 1012, []byte{}, nil},
		{"1004 reserved (§7.4.1)", []byte{0x03, 0xec}, 0, nil, ErrCloseCode},
		{"1005 not on the wire (§7.4.1)", []byte{0x03, 0xed}, 0, nil, ErrCloseCode},
		{"1006 not on the wire (§7.4.1)", []byte{0x03, 0xee}, 0, nil, ErrCloseCode},
		{"1015 not on the wire (§7.4.1)", []byte{0x03, 0xf7}, 0, nil, ErrCloseCode},
		{"0 (§7.4.2)", []byte{0x00, 0x00}, 0, nil, ErrCloseCode},
		{"999 (§7.4.2)", []byte{0x03, 0xe7}, 0, nil, ErrCloseCode},
		{"2999 (§7.4.2)", []byte{0x0b, 0xb7}, 0, nil, ErrCloseCode},
		{"5000 (§7.4.2)", []byte{0x13, 0x88}, 0, nil, ErrCloseCode},
		{"invalid UTF-8 reason (§5.5.1, §8.1)", []byte("\x03\xe8\xff"), 0, nil, ErrCloseReason},
		{"truncated UTF-8 reason", []byte("\x03\xe8\xce"), 0, nil, ErrCloseReason},
		{"surrogate in reason", []byte("\x03\xe8\xed\xa0\x80"), 0, nil, ErrCloseReason},
		// An invalid code is reported before an invalid reason.
		{"bad code and bad reason", []byte("\x03\xed\xff"), 0, nil, ErrCloseCode},
	}
	for _, tt := range tests {
		code, reason, err := ParseClose(tt.p)
		if code != tt.code || !bytes.Equal(reason, tt.reason) || (reason == nil) != (tt.reason == nil) || err != tt.err {
			t.Errorf("%s: ParseClose(% x) = %d, %q (nil %v), %v; want %d, %q, %v",
				tt.name, tt.p, code, reason, reason == nil, err, tt.code, tt.reason, tt.err)
		}
	}
}

func TestAppendClose(t *testing.T) {
	got := AppendClose([]byte("x"), 1001, "going away")
	if want := []byte("x\x03\xe9going away"); !bytes.Equal(got, want) {
		t.Errorf("AppendClose = % x, want % x", got, want)
	}
	p := AppendClose(nil, 4999, "")
	if code, reason, err := ParseClose(p); code != 4999 || len(reason) != 0 || err != nil {
		t.Errorf("ParseClose(AppendClose(4999)) = %d, %q, %v", code, reason, err)
	}
}

// FuzzParseClose checks ParseClose against the rules of §5.5.1 and §7.4
// stated directly, and that AppendClose reproduces the payload it accepts.
func FuzzParseClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte("\x03\xe8normal"))
	f.Add([]byte("\x03\xed"))
	f.Add([]byte("\x0f\xa0\xce\xba\xe1"))
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ParseClose(p)
		switch {
		case len(p) == 0:
			if code != 1005 || reason != nil || err != nil {
				t.Fatalf("empty payload: %d, %q, %v", code, reason, err)
			}
			return
		case len(p) == 1:
			if err != ErrCloseLength {
				t.Fatalf("1-byte payload: err %v", err)
			}
			return
		}
		wire := uint16(p[0])<<8 | uint16(p[1])
		var want error
		if !ValidCloseCode(wire) {
			want = ErrCloseCode
		} else if !utf8.Valid(p[2:]) {
			want = ErrCloseReason
		}
		if err != want {
			t.Fatalf("ParseClose(% x) error %v, want %v", p, err, want)
		}
		if err != nil {
			if code != 0 || reason != nil {
				t.Fatalf("ParseClose(% x) = %d, %q with error", p, code, reason)
			}
			return
		}
		if got := AppendClose(nil, code, string(reason)); !bytes.Equal(got, p) {
			t.Fatalf("AppendClose(ParseClose(% x)) = % x", p, got)
		}
	})
}
