package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

// The sample handshake of RFC 6455 §1.3.
func TestAcceptRFCSample(t *testing.T) {
	r := runWSX(t, context.Background(), nil, "accept", "dGhlIHNhbXBsZSBub25jZQ==")
	if r.code != exitOK || r.stdout != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n" || r.stderr != "" {
		t.Fatalf("got %+v", r)
	}
}

func TestAcceptWarnsAboutInvalidKeys(t *testing.T) {
	for key, warning := range map[string]string{
		" dGhlIHNhbXBsZSBub25jZQ==": "whitespace around it, which HTTP strips from a header value; the Accept value for the trimmed key is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"not base64!":               "is not valid base64",
		"dGhlIHNhbXBsZQ==":          "decodes to 10 bytes, not 16",
	} {
		r := runWSX(t, context.Background(), nil, "accept", key)
		// The value is still printed: it is what a server that skips the check would send.
		if r.code != exitOK || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, warning) {
			t.Errorf("accept %q: got %+v, want a warning with %q", key, r, warning)
		}
	}
}

func TestKey(t *testing.T) {
	r := runWSX(t, context.Background(), nil, "key")
	key := strings.TrimSuffix(r.stdout, "\n")
	if b, err := base64.StdEncoding.DecodeString(key); r.code != exitOK || err != nil || len(b) != 16 {
		t.Fatalf("wsx key: %+v: not the base64 of 16 bytes (§4.1 item 7)", r)
	}
	if again := runWSX(t, context.Background(), nil, "key"); again.stdout == r.stdout {
		t.Fatalf("two keys are equal: %q", r.stdout)
	}

	r = runWSX(t, context.Background(), nil, "key", "--accept")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Sec-WebSocket-Key: ") {
		t.Fatalf("wsx key --accept: %q", r.stdout)
	}
	want := runWSX(t, context.Background(), nil, "accept", strings.TrimPrefix(lines[0], "Sec-WebSocket-Key: ")).stdout
	if lines[1] != "Sec-WebSocket-Accept: "+strings.TrimSuffix(want, "\n") {
		t.Fatalf("wsx key --accept: %q does not match wsx accept's %q", lines[1], want)
	}
}
