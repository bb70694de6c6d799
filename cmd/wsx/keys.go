package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/wsx-go/wsx"
)

const acceptUsage = `Usage: wsx accept KEY

Prints the Sec-WebSocket-Accept value a server must answer for the Sec-WebSocket-Key KEY:
the base64 of the SHA-1 of KEY followed by 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 (RFC 6455
§4.2.2). The key is used as given, not decoded; a key that is not the base64 of 16 bytes
(§4.2.1 item 5) gets a warning on stderr, since servers must refuse it.

Examples:
  $ wsx accept dGhlIHNhbXBsZSBub25jZQ==
  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
  $ wsx accept "$(wsx key)"
`

func runAccept(_ context.Context, e *env, args []string) int {
	f := newFlags("accept", acceptUsage)
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if len(pos) != 1 {
		return f.usageError(e, "want exactly one KEY, got %d arguments", len(pos))
	}
	key := pos[0]
	if problem := keyProblem(key); problem != "" {
		fmt.Fprintf(e.stderr, "wsx accept: warning: %s\n", problem)
	}
	fmt.Fprintln(e.stdout, wsx.AcceptKey(key))
	return exitOK
}

// keyProblem explains why key is not a valid Sec-WebSocket-Key (§4.2.1 item 5), or returns "".
func keyProblem(key string) string {
	if t := strings.TrimSpace(key); t != key {
		// HTTP strips the whitespace around a field value, so the server hashes the trimmed key.
		return fmt.Sprintf("the key has whitespace around it, which HTTP strips from a header value; the Accept value for the trimmed key is %s", wsx.AcceptKey(t))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(key)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not valid base64 (RFC 4648 §4); a server must refuse it (RFC 6455 §4.2.1 item 5)", key)
	case len(b) != 16:
		return fmt.Sprintf("the key decodes to %d bytes, not 16; a server must refuse it (RFC 6455 §4.2.1 item 5)", len(b))
	}
	return ""
}

const keyUsage = `Usage: wsx key

Prints a fresh Sec-WebSocket-Key: the base64 of 16 random bytes (RFC 6455 §4.1 item 7).

Examples:
  $ wsx key
  x3JJHMbDL1EzLkh9GBhXDw==
  $ wsx key --accept
  Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==
  Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=
`

func runKey(_ context.Context, e *env, args []string) int {
	f := newFlags("key", keyUsage)
	withAccept := f.Bool("accept", false, "also print the matching Sec-WebSocket-Accept, as header lines")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if len(pos) != 0 {
		return f.usageError(e, "takes no arguments, got %q", pos[0])
	}
	key := wsx.NewKey()
	if *withAccept {
		fmt.Fprintf(e.stdout, "Sec-WebSocket-Key: %s\nSec-WebSocket-Accept: %s\n", key, wsx.AcceptKey(key))
		return exitOK
	}
	fmt.Fprintln(e.stdout, key)
	return exitOK
}
