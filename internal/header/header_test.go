package header

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestIsToken(t *testing.T) {
	for _, s := range []string{"a", "websocket", "permessage-deflate", "x!#$%&'*+-.^_`|~09AZaz"} {
		if !IsToken(s) {
			t.Errorf("IsToken(%q) = false, want true", s)
		}
	}
	// Separators, whitespace, controls and non-ASCII are not tchar (RFC 7230 §3.2.6).
	for _, s := range []string{"", "a b", "a,b", "a;b", "a=b", `"a"`, "a/b", "a\tb", "a\x00", "a\x7f", "é", "(a)", "[a]", "{a}", "a:b", "a?", "a@b", `a\b`} {
		if IsToken(s) {
			t.Errorf("IsToken(%q) = true, want false", s)
		}
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"Upgrade"}, "upgrade", true},
		{[]string{"upgrade"}, "Upgrade", true},
		{[]string{"UPGRADE"}, "upgrade", true},
		// Firefox sends "keep-alive, Upgrade" (§4.2.1 item 4: "includes the token").
		{[]string{"keep-alive, Upgrade"}, "upgrade", true},
		{[]string{"keep-alive,Upgrade"}, "upgrade", true},
		{[]string{"  keep-alive ,\t Upgrade \t"}, "upgrade", true},
		// Several header lines form one list (RFC 7230 §3.2.2).
		{[]string{"keep-alive", "Upgrade"}, "upgrade", true},
		{[]string{"", ",,", " , upgrade ,"}, "upgrade", true},
		{[]string{"keep-alive"}, "upgrade", false},
		{[]string{"upgrades"}, "upgrade", false},
		{[]string{"up grade"}, "upgrade", false},
		{[]string{"websocket/13"}, "websocket", false},
		{[]string{`"websocket"`}, "websocket", false},
		{nil, "upgrade", false},
		{[]string{""}, "upgrade", false},
		// An empty token is not a token: empty elements never match it.
		{[]string{",a"}, "", false},
	}
	for _, tt := range tests {
		if got := HasToken(tt.values, tt.token); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tt.values, tt.token, got, tt.want)
		}
	}
}

func TestAppendTokens(t *testing.T) {
	tests := []struct {
		values []string
		want   []string
	}{
		{nil, nil},
		{[]string{"chat"}, []string{"chat"}},
		// Order and case are preserved: subprotocols are compared exactly.
		{[]string{"Chat, superchat"}, []string{"Chat", "superchat"}},
		{[]string{"a", "b, c", " d "}, []string{"a", "b", "c", "d"}},
		{[]string{",a,,\tb ,", ","}, []string{"a", "b"}},
		{[]string{"v1.json.api, mqtt"}, []string{"v1.json.api", "mqtt"}},
	}
	for _, tt := range tests {
		got, err := AppendTokens(nil, tt.values)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("AppendTokens(nil, %q) = %q, %v; want %q, nil", tt.values, got, err, tt.want)
		}
	}
	got, err := AppendTokens([]string{"x"}, []string{"y"})
	if err != nil || !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("AppendTokens appends: got %q, %v", got, err)
	}
}

func TestAppendTokensErrors(t *testing.T) {
	tests := []struct {
		values []string
		err    string
	}{
		{[]string{""}, `empty list at offset 0 in ""`},
		{[]string{" , ,"}, `empty list at offset 0 in " , ,"`},
		{[]string{"a b"}, `expected ',' after a token (found 'b') at offset 2 in "a b"`},
		{[]string{"chat", "a/b"}, `expected ',' after a token (found '/') at offset 1 in "a/b"`},
		{[]string{"a, /b"}, `expected a token (found '/') at offset 3 in "a, /b"`},
		{[]string{`"chat"`}, `expected a token (found '"') at offset 0 in "\"chat\""`},
		{[]string{"caf\xc3\xa9"}, `expected ',' after a token (found byte 0xc3) at offset 3 in "caf\u00e9"`},
		{[]string{strings.Repeat("a", 70) + " b"}, `expected ',' after a token (found 'b') at offset 71 in "` + strings.Repeat("a", 64) + `"...`},
	}
	for _, tt := range tests {
		_, err := AppendTokens(nil, tt.values)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("AppendTokens(%q): err = %v, want a *SyntaxError", tt.values, err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("AppendTokens(%q): err = %s\nwant %s", tt.values, err, tt.err)
		}
	}
}

func TestParseExtensions(t *testing.T) {
	pmd := "permessage-deflate"
	tests := []struct {
		values []string
		want   []Extension
	}{
		{nil, nil},
		{[]string{"foo"}, []Extension{{Name: "foo"}}},
		// §9.1: these two are "exactly equivalent".
		{[]string{"foo", "bar; baz=2"}, []Extension{{Name: "foo"}, {Name: "bar", Params: []Param{{"baz", "2", true}}}}},
		{[]string{"foo, bar; baz=2"}, []Extension{{Name: "foo"}, {Name: "bar", Params: []Param{{"baz", "2", true}}}}},
		// §9.1 examples.
		{[]string{"deflate-stream"}, []Extension{{Name: "deflate-stream"}}},
		{[]string{"mux; max-channels=4; flow-control, deflate-stream"}, []Extension{
			{Name: "mux", Params: []Param{{"max-channels", "4", true}, {"flow-control", "", false}}},
			{Name: "deflate-stream"},
		}},
		// What browsers send (RFC 7692 §7.1).
		{[]string{pmd + "; client_max_window_bits"}, []Extension{{Name: pmd, Params: []Param{{"client_max_window_bits", "", false}}}}},
		// Implied *LWS around separators, empty elements (RFC 7230 §7).
		{[]string{" ,\tfoo ;a = 1 ; b\t=\t\"2\" ;c ,, bar ,"}, []Extension{
			{Name: "foo", Params: []Param{{"a", "1", true}, {"b", "2", true}, {"c", "", false}}},
			{Name: "bar"},
		}},
		// quoted-string values are unquoted and unescaped (§9.1).
		{[]string{`x; v="10"; w="a\-b"; y="\a"`}, []Extension{{Name: "x", Params: []Param{{"v", "10", true}, {"w", "a-b", true}, {"y", "a", true}}}}},
		// Case is preserved; the same extension may be offered several times.
		{[]string{"Foo; A=B", "foo"}, []Extension{{Name: "Foo", Params: []Param{{"A", "B", true}}}, {Name: "foo"}}},
	}
	for _, tt := range tests {
		got, err := ParseExtensions(tt.values)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseExtensions(%q) =\n%+v, %v\nwant %+v", tt.values, got, err, tt.want)
		}
	}
}

func TestParseExtensionsErrors(t *testing.T) {
	tests := []struct {
		values []string
		err    string
	}{
		{[]string{""}, `empty list at offset 0 in ""`},
		{[]string{" , "}, `empty list at offset 0 in " , "`},
		{[]string{"foo", ";a"}, `expected an extension name (a token) (found ';') at offset 0 in ";a"`},
		{[]string{"foo;"}, `expected a parameter name (a token) at offset 4 in "foo;"`},
		{[]string{"foo; ;a"}, `expected a parameter name (a token) (found ';') at offset 5 in "foo; ;a"`},
		{[]string{"foo;a="}, `expected a parameter value (a token or quoted-string) at offset 6 in "foo;a="`},
		{[]string{"foo;a=,bar"}, `expected a parameter value (a token or quoted-string) (found ',') at offset 6 in "foo;a=,bar"`},
		{[]string{"foo;a==1"}, `expected a parameter value (a token or quoted-string) (found '=') at offset 6 in "foo;a==1"`},
		{[]string{"foo bar"}, `expected ',' or ';' after an extension (found 'b') at offset 4 in "foo bar"`},
		{[]string{"foo;a=1 2"}, `expected ',' or ';' after an extension (found '2') at offset 8 in "foo;a=1 2"`},
		{[]string{"foo/1"}, `expected ',' or ';' after an extension (found '/') at offset 3 in "foo/1"`},
		{[]string{"foo;a=b/c"}, `expected ',' or ';' after an extension (found '/') at offset 7 in "foo;a=b/c"`},
		{[]string{`foo;a="1`}, `unterminated quoted-string (found '"') at offset 6 in "foo;a=\"1"`},
		// §9.1: a quoted value must be a token once unquoted.
		{[]string{`foo;a=""`}, `quoted parameter value is not a token after unquoting (found '"') at offset 6 in "foo;a=\"\""`},
		{[]string{`foo;a="1 2"`}, `byte not allowed in a token inside a quoted parameter value (found ' ') at offset 8 in "foo;a=\"1 2\""`},
		{[]string{`foo;a="x,y"`}, `byte not allowed in a token inside a quoted parameter value (found ',') at offset 8 in "foo;a=\"x,y\""`},
		{[]string{`foo;a="\ "`}, `quoted-pair escapes a byte not allowed in a token (found ' ') at offset 8 in "foo;a=\"\\ \""`},
		{[]string{`foo;a="\"`}, `quoted-pair escapes a byte not allowed in a token (found '"') at offset 8 in "foo;a=\"\\\""`},
		{[]string{`foo;a="1\"`}, `quoted-pair escapes a byte not allowed in a token (found '"') at offset 9 in "foo;a=\"1\\\""`},
		{[]string{`foo;a="1\a`}, `unterminated quoted-string (found '"') at offset 6 in "foo;a=\"1\\a"`},
		{[]string{`foo;a="\`}, `quoted-pair escapes a byte not allowed in a token at offset 8 in "foo;a=\"\\"`},
		{[]string{"foo;a=\"\x80\""}, `byte not allowed in a token inside a quoted parameter value (found byte 0x80) at offset 7 in "foo;a=\"\x80\""`},
	}
	for _, tt := range tests {
		got, err := ParseExtensions(tt.values)
		var se *SyntaxError
		if !errors.As(err, &se) || got != nil {
			t.Errorf("ParseExtensions(%q) = %v, %v; want nil, a *SyntaxError", tt.values, got, err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("ParseExtensions(%q): err = %s\nwant %s", tt.values, err, tt.err)
		}
	}
}

func TestExtensionString(t *testing.T) {
	tests := []struct {
		ext  Extension
		want string
	}{
		{Extension{Name: "foo"}, "foo"},
		{Extension{Name: "permessage-deflate", Params: []Param{{"client_max_window_bits", "10", true}, {"server_no_context_takeover", "", false}}},
			"permessage-deflate; client_max_window_bits=10; server_no_context_takeover"},
		// A value that is not a token is quoted; ParseExtensions would refuse it.
		{Extension{Name: "x", Params: []Param{{"a", "", true}, {"b", `1 "2"\`, true}}}, `x; a=""; b="1 \"2\"\\"`},
	}
	for _, tt := range tests {
		if got := tt.ext.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.ext, got, tt.want)
		}
	}
}

var sink []Extension

func BenchmarkParseExtensions(b *testing.B) {
	values := []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate"}
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = ParseExtensions(values)
	}
}

func BenchmarkHasToken(b *testing.B) {
	values := []string{"keep-alive, Upgrade"}
	b.ReportAllocs()
	for b.Loop() {
		if !HasToken(values, "upgrade") {
			b.Fatal("no token")
		}
	}
}

func BenchmarkAppendTokens(b *testing.B) {
	values := []string{"v2.chat, v1.chat", "mqtt"}
	var buf [8]string
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendTokens(buf[:0], values); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValidFieldValue(t *testing.T) {
	for _, v := range []string{"", "a=1; Path=/", "tab\there", "obs-text \x80\xff", "\"quoted\""} {
		if !ValidFieldValue(v) {
			t.Errorf("ValidFieldValue(%q) = false, want true", v)
		}
	}
	// CR and LF would end the field early (response splitting); other controls are invalid too.
	for _, v := range []string{"a\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "del\x7f", "\x1b[0m"} {
		if ValidFieldValue(v) {
			t.Errorf("ValidFieldValue(%q) = true, want false", v)
		}
	}
}
