package handshake

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestValidKey_4_2_1_Item5 checks the Sec-WebSocket-Key rule: base64 of
// exactly 16 bytes.
func TestValidKey_4_2_1_Item5(t *testing.T) {
	valid := []string{"dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA==", "/////////////////////w=="}
	for _, k := range valid {
		if !ValidKey(k) {
			t.Errorf("ValidKey(%q) = false, want true", k)
		}
	}
	invalid := []string{
		"",
		"dGhlIHNhbXBsZSBub25jZQ",     // padding missing
		"dGhlIHNhbXBsZSBub25jZQ=",    // padding short
		"dGhlIHNhbXBsZSBub25jZR==",   // non-zero padding bits
		"dGhlIHNhbXBsZSBub25jZQ===",  // too long
		"dGhlIHNhbXBsZSBub25jZSE=",   // 17 bytes
		"dGhlIHNhbXBsZSBub25j",       // 15 bytes
		"dGhlIHNhbXBsZSBub25jZQ-_",   // URL alphabet
		"dGhlIHNhbXBsZSBub25jZ\nQ==", // decoders skip newlines; the key must not hold one
		"dGhlIHNhbXBsZSBub25jZQ==\r",
		"dGhlIHNhbXBsZSBu b25jZQ==",
		"dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
	}
	for _, k := range invalid {
		if ValidKey(k) {
			t.Errorf("ValidKey(%q) = true, want false", k)
		}
	}
}

// TestAccept_4_2_2 checks the worked example of §4.2.2 step 5.4.
func TestAccept_4_2_2(t *testing.T) {
	if got := Accept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Accept = %q", got)
	}
}

func TestIsOwnField(t *testing.T) {
	for _, name := range []string{"Upgrade", "connection", "Sec-WebSocket-Protocol", "sec-websocket-extensions", "SEC-WEBSOCKET-X"} {
		if !IsOwnField(name) {
			t.Errorf("IsOwnField(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"Set-Cookie", "Sec-WebSocket-", "Sec-Fetch-Mode", "Upgrade-Insecure-Requests", "X-Connection"} {
		if IsOwnField(name) {
			t.Errorf("IsOwnField(%q) = true, want false", name)
		}
	}
}

func parseRequest(t testing.TB, s string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestExplainRequest lists every finding of a request that breaks many
// rules, in the order of the rules, with each one's section; CheckRequest
// stops at the first.
func TestExplainRequest(t *testing.T) {
	r := parseRequest(t, "POST /x HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"+
		"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: a, a\r\nSec-WebSocket-Extensions: x; =1\r\nOrigin: http://elsewhere\r\n\r\n")
	var o Offer
	got := ExplainRequest(r, &Policy{AnyOrigin: true}, &o)
	want := []struct {
		verdict Verdict
		line    string
	}{
		{Fail, `"HTTP/1.0" request; the handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1 item 1)`},
		{Fail, `method "POST" is not GET (RFC 6455 §4.2.1 item 1)`},
		{Pass, "request target: /x (RFC 6455 §4.2.1 item 1, §3)"},
		{Pass, "Host: h (RFC 6455 §4.2.1 item 2)"},
		{Pass, "Upgrade: websocket (RFC 6455 §4.2.1 item 3)"},
		{Fail, `Connection header "close" does not include "Upgrade" (RFC 6455 §4.2.1 item 4)`},
		{Fail, `unsupported Sec-WebSocket-Version "8"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`},
		{Fail, `Sec-WebSocket-Key "c2hvcnQ=" is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)`},
		{Pass, "body: none (RFC 6455 §4.1)"},
		{Info, "Origin: http://elsewhere (RFC 6455 §10.2)"},
		{Fail, `Sec-WebSocket-Protocol "a, a" offers "a" twice; subprotocols must be unique (RFC 6455 §4.1 item 10)`},
		{Fail, `malformed Sec-WebSocket-Extensions header: expected a parameter name (a token) (found '=') at offset 3 in "x; =1" (RFC 6455 §9.1)`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Verdict != w.verdict || got[i].String() != w.line {
			t.Errorf("finding %d: %v %q\nwant         %v %q", i, got[i].Verdict, got[i].String(), w.verdict, w.line)
		}
	}
	if o.Key != "c2hvcnQ=" {
		t.Errorf("offer key %q: the key sent, even if invalid", o.Key)
	}
	if f := CheckRequest(r, &Policy{}, new(Offer)); f.Status != http.StatusBadRequest || f.Problem != want[0].line {
		t.Errorf("CheckRequest = %d %q, want the first failure", f.Status, f.Problem)
	}
}

// TestZeroAllocsCheckRequest: the rules allocate nothing for a valid request,
// with an Origin, subprotocols and an extension offer, once the offer's
// storage is there.
func TestZeroAllocsCheckRequest(t *testing.T) {
	r := parseRequest(t, "GET /chat HTTP/1.1\r\nHost: server.example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://app.example.com\r\n"+
		"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
	p := &Policy{Hosts: []string{"server.example.com:8080"}, Origins: []string{"*.example.com"}}
	var o Offer
	allocs := testing.AllocsPerRun(100, func() {
		o.Reset()
		if f := CheckRequest(r, p, &o); f.Failed() {
			t.Fatal(f.Problem)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request, want 0", allocs)
	}
	if len(o.Protocols) != 2 || len(o.Extensions) != 1 {
		t.Fatalf("offer %+v", o)
	}
}
