package header

import (
	"reflect"
	"strings"
	"testing"
)

// splitLines turns one fuzz input into header lines, so that the targets also
// cover fields sent on several lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// FuzzHasToken compares HasToken with a direct reading of the list rule
// (RFC 7230 §7): split at commas, trim optional whitespace, compare ASCII
// case-insensitively.
func FuzzHasToken(f *testing.F) {
	f.Add("keep-alive, Upgrade", "upgrade")
	f.Add("Upgrade\nkeep-alive", "UPGRADE")
	f.Add(" ,websocket ,", "websocket")
	f.Add("websocket/13", "websocket")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, lines, token string) {
		values := splitLines(lines)
		want := false
		for _, v := range values {
			for _, e := range strings.Split(v, ",") {
				if e = strings.Trim(e, " \t"); e != "" && strings.EqualFold(e, token) {
					want = true
				}
			}
		}
		if got := HasToken(values, token); got != want {
			t.Fatalf("HasToken(%q, %q) = %v, want %v", values, token, got, want)
		}
	})
}

// FuzzAppendTokens checks that a parsed token list holds only tokens and
// that writing it back as one line parses to the same list.
func FuzzAppendTokens(f *testing.F) {
	f.Add("chat, superchat")
	f.Add("a\n,b,,\t c")
	f.Add("a b")
	f.Add("")
	f.Fuzz(func(t *testing.T, lines string) {
		values := splitLines(lines)
		got, err := AppendTokens(nil, values)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			return
		}
		if len(values) > 0 && len(got) == 0 {
			t.Fatalf("AppendTokens(%q) returned an empty list without error", values)
		}
		for _, tok := range got {
			if !IsToken(tok) {
				t.Fatalf("AppendTokens(%q) returned non-token %q", values, tok)
			}
		}
		if len(got) == 0 {
			return
		}
		again, err := AppendTokens(nil, []string{strings.Join(got, ", ")})
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %q: got %q, %v", got, again, err)
		}
	})
}

// FuzzParseExtensions checks that every parsed name and value is a token
// (§9.1) and that String of each parsed extension, and the whole list joined
// with commas, parse back to the same value.
func FuzzParseExtensions(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits, permessage-deflate")
	f.Add("mux; max-channels=4; flow-control, deflate-stream")
	f.Add("foo\nbar; baz=2")
	f.Add(`x; a="1"; b="\a"`)
	f.Add(` ,foo ; a = "b" ,,`)
	f.Add(`foo;a=""`)
	f.Add("")
	f.Fuzz(func(t *testing.T, lines string) {
		values := splitLines(lines)
		exts, err := ParseExtensions(values)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if exts != nil {
				t.Fatalf("ParseExtensions(%q) returned %v with error %v", values, exts, err)
			}
			return
		}
		if len(values) > 0 && len(exts) == 0 {
			t.Fatalf("ParseExtensions(%q) returned an empty list without error", values)
		}
		var all []string
		for _, e := range exts {
			if !IsToken(e.Name) {
				t.Fatalf("extension name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !IsToken(p.Name) || p.HasValue != IsToken(p.Value) {
					t.Fatalf("bad parameter %+v in %q", p, values)
				}
			}
			s := e.String()
			all = append(all, s)
			again, err := ParseExtensions([]string{s})
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], e) {
				t.Fatalf("round trip of %+v via %q: got %+v, %v", e, s, again, err)
			}
		}
		if len(all) == 0 {
			return
		}
		again, err := ParseExtensions([]string{strings.Join(all, ", ")})
		if err != nil || !reflect.DeepEqual(again, exts) {
			t.Fatalf("round trip of %+v: got %+v, %v", exts, again, err)
		}
	})
}
