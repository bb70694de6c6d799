package wsx

import "testing"

// TestParseOrigin_10_2 checks which Origin values are serialized origins
// (RFC 6454 §6.2) and how they are reduced to scheme and host for comparison.
func TestParseOrigin_10_2(t *testing.T) {
	valid := []struct{ origin, scheme, host string }{
		{"https://example.com", "https", "example.com"},
		{"HTTPS://Example.com", "https", "Example.com"}, // hosts compare case-insensitively later
		{"https://example.com:443", "https", "example.com"},
		{"https://example.com:80", "https", "example.com:80"},
		{"http://example.com:80", "http", "example.com"},
		{"ws://example.com:80", "ws", "example.com"},
		{"wss://example.com:443", "wss", "example.com"},
		{"http://127.0.0.1:8080", "http", "127.0.0.1:8080"},
		{"http://[::1]:80", "http", "[::1]"},
		{"http://[::1]:8080", "http", "[::1]:8080"},
		{"chrome-extension://abcdef", "chrome-extension", "abcdef"},
	}
	for _, tt := range valid {
		scheme, host, ok := parseOrigin(tt.origin)
		if !ok || scheme != tt.scheme || host != tt.host {
			t.Errorf("parseOrigin(%q) = %q, %q, %v; want %q, %q, true", tt.origin, scheme, host, ok, tt.scheme, tt.host)
		}
	}
	invalid := []string{
		"", "example.com", "//example.com", "https://", "https:example.com",
		"https://user@example.com", "https://user:pw@example.com",
		"https://example.com/", "https://example.com/app", "https://example.com?", "https://example.com?a",
		"https://example.com#f", "https://exa mple.com", "https://example.com https://other.com",
		"javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "http://[::1",
	}
	for _, o := range invalid {
		if scheme, host, ok := parseOrigin(o); ok {
			t.Errorf("parseOrigin(%q) = %q, %q, true; want malformed", o, scheme, host)
		}
	}
}
