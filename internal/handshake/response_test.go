package handshake

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/header"
)

func parseResponse(t *testing.T, s string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestCheckResponse_4_1 checks each response rule: the exact problem for a
// broken one, the answer for a valid one.
func TestCheckResponse_4_1(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	const head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	deflateOffer, _ := header.ParseExtensions([]string{"permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits"})
	offer := Offer{Key: key, Protocols: []string{"chat", "v2"}, Extensions: deflateOffer}
	for _, tt := range []struct {
		response string
		problem  string // "" for a valid response
		answer   string // the answer, as "protocol|extensions"
	}{
		{head + "\r\n", "", "|"},
		{head + "Sec-WebSocket-Protocol: v2\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n\r\n", "", "v2|permessage-deflate; server_max_window_bits=9"},
		{head + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n\r\n", "", "|permessage-deflate; client_max_window_bits=12"},
		{head + "Content-Length: 0\r\n\r\n", "", "|"}, // a warning only
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", `server answered "404 Not Found", want 101 Switching Protocols (RFC 6455 §4.1, response rule 1)`, ""},
		{strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n", `101 response in "HTTP/1.0"; the handshake needs HTTP/1.1 (RFC 6455 §4.1)`, ""},
		{strings.Replace(head, "Upgrade: websocket\r\n", "", 1) + "\r\n", `missing Upgrade header; want "websocket" (RFC 6455 §4.1, response rule 2)`, ""},
		{strings.Replace(head, "Upgrade: websocket", "Upgrade: websocket, h2c", 1) + "\r\n", `Upgrade header "websocket, h2c" is not "websocket" (RFC 6455 §4.1, response rule 2)`, ""},
		{strings.Replace(head, "Connection: Upgrade\r\n", "", 1) + "\r\n", "missing Connection header (RFC 6455 §4.1, response rule 3)", ""},
		{strings.Replace(head, "Connection: Upgrade", "Connection: keep-alive", 1) + "\r\n", `Connection header "keep-alive" does not include "Upgrade" (RFC 6455 §4.1, response rule 3)`, ""},
		{strings.Replace(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", key, 1) + "\r\n", `Sec-WebSocket-Accept "dGhlIHNhbXBsZSBub25jZQ==" is wrong; want "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (RFC 6455 §4.1, response rule 4)`, ""},
		{head + "Sec-WebSocket-Accept: x\r\n\r\n", "Sec-WebSocket-Accept header sent 2 times; want it once (RFC 6455 §4.1, response rule 4; §11.3.3)", ""},
		{head + "Sec-WebSocket-Extensions: x-other\r\n\r\n", `server accepted extension "x-other", which was not offered (RFC 6455 §4.1, response rule 5)`, ""},
		{head + "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n\r\n", `server accepted extension "permessage-deflate" twice (RFC 6455 §9.1)`, ""},
		{head + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n\r\n", "", "|permessage-deflate; server_max_window_bits=11"}, // answers the second offer
		{head + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11; client_max_window_bits=16\r\n\r\n",
			`extension permessage-deflate; server_max_window_bits=11; client_max_window_bits=16: client_max_window_bits value 16 is out of the range 8..15 (RFC 7692 §7.1)`, ""},
		{head + "Sec-WebSocket-Extensions: permessage-deflate;\r\n\r\n", `malformed Sec-WebSocket-Extensions header: expected a parameter name (a token) at offset 19 in "permessage-deflate;" (RFC 6455 §9.1)`, ""},
		{head + "Sec-WebSocket-Protocol: chat, v2\r\n\r\n", `Sec-WebSocket-Protocol "chat, v2" is not one subprotocol (RFC 6455 §4.1, response rule 6; §4.2.2)`, ""},
		{head + "Sec-WebSocket-Protocol: Chat\r\n\r\n", `server chose subprotocol "Chat", which was not offered (RFC 6455 §4.1, response rule 6)`, ""},
	} {
		var a Answer
		f := CheckResponse(parseResponse(t, tt.response), &offer, &a)
		if tt.problem == "" {
			if f.Failed() {
				t.Errorf("%q: %s", tt.response, f.Problem)
				continue
			}
			var exts []string
			for _, e := range a.Extensions {
				exts = append(exts, e.String())
			}
			if got := a.Protocol + "|" + strings.Join(exts, ", "); got != tt.answer {
				t.Errorf("%q: answer %q, want %q", tt.response, got, tt.answer)
			}
			continue
		}
		if f.Problem != tt.problem {
			t.Errorf("%q:\n got %q\nwant %q", tt.response, f.Problem, tt.problem)
		}
	}
	// One offer: a window larger than it allows.
	one := Offer{Key: key, Extensions: deflateOffer[:1]}
	f := CheckResponse(parseResponse(t, head+"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n\r\n"), &one, new(Answer))
	if want := "extension permessage-deflate; server_max_window_bits=11: server_max_window_bits=11 is larger than the 10 offered (§7.1.2.1) (RFC 7692 §7.1)"; f.Problem != want {
		t.Errorf("got %q\nwant %q", f.Problem, want)
	}
}

// TestExplainResponse: after a status other than 101 nothing else is
// judged; a valid 101 with Content-Length gets a warning.
func TestExplainResponse(t *testing.T) {
	o := &Offer{Key: "dGhlIHNhbXBsZSBub25jZQ=="}
	if got := ExplainResponse(parseResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), o); len(got) != 1 || !got[0].Failed() {
		t.Errorf("200: %v", got)
	}
	got := ExplainResponse(parseResponse(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nContent-Length: 0\r\n\r\n"), o)
	if len(got) != len(upgradeResponseRules) {
		t.Fatalf("%d findings: %v", len(got), got)
	}
	for _, f := range got[:len(got)-1] {
		if f.Verdict != Pass {
			t.Errorf("%v %s", f.Verdict, f.String())
		}
	}
	if last := got[len(got)-1]; last.Verdict != Warn || last.Problem != "a 101 response carries Content-Length or Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1)" {
		t.Errorf("last finding %v %q", last.Verdict, last.Problem)
	}
	if got[4].Want != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" || got[4].String() != "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (RFC 6455 §4.1, response rule 4)" {
		t.Errorf("accept finding %+v", got[4])
	}
}
