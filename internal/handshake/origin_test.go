package handshake

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestParseOrigin_10_2 checks which Origin values are serialized origins
// (RFC 6454 §6.2) and how they are parsed for comparison.
func TestParseOrigin_10_2(t *testing.T) {
	valid := []struct {
		origin, scheme string
		want           hostPort
	}{
		{"https://example.com", "https", hostPort{name: "example.com"}},
		{"HTTPS://Example.com", "HTTPS", hostPort{name: "Example.com"}}, // compared case-insensitively later
		{"https://example.com:443", "https", hostPort{name: "example.com", port: "443"}},
		{"http://127.0.0.1:8080", "http", hostPort{addr: netip.MustParseAddr("127.0.0.1"), port: "8080"}},
		{"http://[::1]:80", "http", hostPort{addr: netip.MustParseAddr("::1"), port: "80"}},
		{"http://[::1]", "http", hostPort{addr: netip.MustParseAddr("::1")}},
		{"http://[::ffff:127.0.0.1]", "http", hostPort{addr: netip.MustParseAddr("127.0.0.1")}},
		{"chrome-extension://abcdef", "chrome-extension", hostPort{name: "abcdef"}},
	}
	for _, tt := range valid {
		scheme, hp, ok := parseOrigin(tt.origin)
		if !ok || scheme != tt.scheme || hp != tt.want {
			t.Errorf("parseOrigin(%q) = %q, %+v, %v; want %q, %+v, true", tt.origin, scheme, hp, ok, tt.scheme, tt.want)
		}
	}
	invalid := []string{
		"", "example.com", "//example.com", "https://", "https:example.com",
		"https://user@example.com", "https://user:pw@example.com",
		"https://example.com/", "https://example.com/app", "https://example.com?", "https://example.com?a",
		"https://example.com#f", "https://exa mple.com", "https://example.com https://other.com",
		"javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "http://[::1", "http://[::1]x",
		"http://example.com:", "http://example.com:8a", "http://[fe80::1%25eth0]", "http://[127.0.0.1]", "1http://x",
	}
	for _, o := range invalid {
		if scheme, hp, ok := parseOrigin(o); ok {
			t.Errorf("parseOrigin(%q) = %q, %+v, true; want malformed", o, scheme, hp)
		}
	}
}

// TestPatternGrammar checks which patterns are valid, for origins and for
// hosts, and the error a bad one gets.
func TestPatternGrammar(t *testing.T) {
	for _, p := range []string{
		"example.com", "*.example.com", "*", "*:*", "localhost:3000", "localhost:*", "127.0.0.1",
		"127.0.0.0/8", "127.0.0.0/8:*", "[::1]", "[::1]:*", "[fd00::/8]", "[fd00::/8]:443", "my_host",
	} {
		if err := ValidateHostPatterns([]string{p}); err != nil {
			t.Errorf("host pattern %q: %v", p, err)
		}
		if err := ValidateOriginPatterns([]string{p, "https://" + p}); err != nil {
			t.Errorf("origin pattern %q: %v", p, err)
		}
	}
	if err := ValidateOriginPatterns([]string{"null"}); err != nil {
		t.Errorf("origin pattern null: %v", err)
	}
	for _, tt := range []struct{ pattern, err string }{
		{"127.*", `bad host "127.*": "*" stands alone or as the first label ("*.example.com"); for addresses use a prefix such as 127.0.0.0/8`},
		{"a.*.example.com", `"*" stands alone or as the first label`},
		{"*example.com", `"*" stands alone or as the first label`},
		{"[a-", "no closing ]"},
		{"[::1", "no closing ]"},
		{"[::1]x", "want [address]:port"},
		{"[::1]:", "want [address]:port"},
		{"[127.0.0.1]", "bad IPv6 address"},
		{"[fe80::1%eth0]", "bad IPv6 address"},
		{"::1", "want host[:port]"},
		{"example.com:", "want host[:port]"},
		{":80", "want host[:port]"},
		{"example.com:0", `bad port "0"`},
		{"example.com:65536", `bad port "65536"`},
		{"example.com:http", `bad port "http"`},
		{"300.0.0.1", "bad IPv4 address"},
		{"10.0.0.0/33", "bad IPv4 address"},
		{"ex ample.com", "want a name, *.name, an address or a prefix"},
		{"example..com", "want a name"},
		{"bücher.example", "want a name"},
		{"", "want host[:port]"},
		{"1ws://x", `bad scheme "1ws"`},
	} {
		err := ValidateOriginPatterns([]string{"ok.example", tt.pattern})
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "[1] ") {
			t.Errorf("pattern %q: %v; want an error at [1] with %q", tt.pattern, err, tt.err)
		}
	}
	for _, p := range []string{"null", "https://example.com"} {
		if err := ValidateHostPatterns([]string{p}); err == nil {
			t.Errorf("host pattern %q: valid, want an error", p)
		}
	}
}

// TestOriginPatterns_10_2 matches Origins against patterns as parsed values:
// issue 8 item 9's cases first.
func TestOriginPatterns_10_2(t *testing.T) {
	for _, tt := range []struct {
		pattern, origin string
		want            bool
	}{
		{"[::1]:*", "http://[::1]:8080", true},
		{"[::1]:*", "http://[::1]", true},
		{"[::1]", "http://[::1]:80", true},
		{"[::1]", "http://[::1]:8080", false},
		{"[0:0::1]:*", "http://[::1]:8080", true},
		{"127.0.0.0/8:*", "http://127.0.0.1:3000", true},
		{"127.0.0.0/8:*", "http://127.evil.test", false},
		{"127.0.0.0/8:*", "http://[::ffff:127.0.0.2]:1", true},
		{"[::ffff:127.0.0.0/104]:*", "http://127.9.9.9:1", true},
		{"127.0.0.1", "http://127.0.0.1", true},
		{"127.0.0.1", "http://127.0.0.2", false},
		{"[fd00::/8]", "https://[fd12::5]", true},
		{"[fd00::/8]", "https://[fe12::5]", false},
		{"*.example.com", "https://a.example.com", true},
		{"*.example.com", "https://a.b.EXAMPLE.com:443", true},
		{"*.example.com", "https://example.com", false},
		{"*.example.com", "https://evilexample.com", false},
		{"*.example.com", "https://a.example.com:8443", false},
		{"*.example.com:*", "https://a.example.com:8443", true},
		{"*.1", "http://127.0.0.1", false}, // a name pattern never matches an address
		{"example.com", "http://example.com:80", true},
		{"example.com", "ws://example.com", true},
		{"example.com:443", "https://example.com", true},
		{"example.com:443", "http://example.com", false},
		{"localhost:3000", "http://localhost:3000", true},
		{"localhost:3000", "http://localhost:03000", true},
		{"localhost:3000", "http://localhost:3001", false},
		{"https://app.example.com", "https://APP.example.com", true},
		{"https://app.example.com", "http://app.example.com", false},
		{"HTTPS://app.example.com", "https://app.example.com", true},
		{"*", "https://anything.example", true},
		{"*", "https://anything.example:8443", false},
		{"*:*", "http://[::1]:9", true},
		{"abcdef", "chrome-extension://abcdef", true},
		{"null", "https://null", false},
	} {
		f := CheckOrigin([]string{tt.origin}, "server.example.com", &Policy{Origins: []string{tt.pattern}})
		if got := !f.Failed(); got != tt.want {
			t.Errorf("pattern %q, Origin %q: allowed %v, want %v (%s)", tt.pattern, tt.origin, got, tt.want, f.Problem)
		}
	}
}

// TestSameOrigin_10_2 compares Origins with the request's Host as parsed
// values.
func TestSameOrigin_10_2(t *testing.T) {
	for _, tt := range []struct {
		host, origin string
		want         bool
	}{
		{"server.example.com", "http://server.example.com", true},
		{"Server.Example.com", "HTTPS://SERVER.example.COM", true},
		{"server.example.com:443", "https://server.example.com", true},
		{"server.example.com", "http://server.example.com:80", true},
		{"server.example.com", "http://server.example.com:8080", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"[::1]:8080", "http://[::1]:8080", true},
		{"[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080", true},
		{"[::1]:8080", "http://localhost:8080", false},
		{"127.0.0.1", "http://127.0.0.1.evil.example", false},
		{"server example.com", "http://server", false},
	} {
		f := CheckOrigin([]string{tt.origin}, tt.host, &Policy{})
		if got := !f.Failed(); got != tt.want {
			t.Errorf("Host %q, Origin %q: allowed %v, want %v (%s)", tt.host, tt.origin, got, tt.want, f.Problem)
		}
	}
}

// TestHostPatterns_9110_7_4 checks the Host allow-list: DNS rebinding is
// refused with 421, the server's own names pass.
func TestHostPatterns_9110_7_4(t *testing.T) {
	loopback := []string{"localhost:*", "127.0.0.0/8:*", "[::1]:*"}
	for _, tt := range []struct {
		patterns []string
		host     string
		want     bool
	}{
		{loopback, "evil.example:8080", false},
		{loopback, "localhost:8080", true},
		{loopback, "LOCALHOST:8080", true},
		{loopback, "localhost", true},
		{loopback, "localhost.:8080", false},
		{loopback, "127.0.0.1:8080", true},
		{loopback, "127.1.2.3", true},
		{loopback, "[::1]:8080", true},
		{loopback, "[::2]:8080", false},
		{loopback, "127.0.0.1.nip.io:8080", false},
		{[]string{"example.com"}, "example.com:443", true},
		{[]string{"example.com"}, "example.com:80", true},
		{[]string{"example.com"}, "example.com:8080", false},
		{[]string{"example.com:8080"}, "example.com", false},
		{[]string{"example.com:80"}, "example.com", true},
		{[]string{"*.example.com:*"}, "a.example.com:1", true},
		{loopback, "bad host", false},
	} {
		r := &http.Request{Host: tt.host}
		f := checkHost(requestCheck{r: r, p: Policy{Hosts: tt.patterns}, o: new(Offer)})
		if got := !f.Failed(); got != tt.want {
			t.Errorf("patterns %q, Host %q: allowed %v, want %v (%s)", tt.patterns, tt.host, got, tt.want, f.Problem)
		}
		if !tt.want && f.Status != http.StatusMisdirectedRequest {
			t.Errorf("Host %q refused with %d, want 421", tt.host, f.Status)
		}
	}
}
