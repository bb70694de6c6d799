package handshake

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/header"
)

// connectRequest is an extended CONNECT as net/http's HTTP/2 server hands it to a handler
// (RFC 8441 §4-§5), with fields set (an empty value deletes one).
func connectRequest(fields ...string) *http.Request {
	r := &http.Request{
		Method: http.MethodConnect, Proto: "HTTP/2.0", ProtoMajor: 2, Host: "server.example.com",
		Header: http.Header{FieldPseudoProtocol: {"websocket"}, FieldVersion: {"13"}},
	}
	for i := 0; i+1 < len(fields); i += 2 {
		name := http.CanonicalHeaderKey(fields[i])
		if fields[i+1] == "" {
			delete(r.Header, name)
			continue
		}
		r.Header[name] = []string{fields[i+1]}
	}
	return r
}

// refusalFields returns the header fields a refusal of f carries, as "name: value" lines.
func refusalFields(f *Finding) string {
	var b strings.Builder
	f.RefusalFields(func(name, value string) { b.WriteString(name + ": " + value + "\n") })
	return b.String()
}

// TestCheckStreamRequest_8441_4: each rule of an extended CONNECT, with the status and the
// header fields of its refusal. Over HTTP/2 a version refusal is 400, not 426: a 426 must
// carry Upgrade, which HTTP/2 forbids (RFC 9113 §8.2.2).
func TestCheckStreamRequest_8441_4(t *testing.T) {
	get := connectRequest()
	get.Method = http.MethodGet
	h1 := connectRequest()
	h1.Proto, h1.ProtoMajor, h1.ProtoMinor = "HTTP/1.1", 1, 1
	noAuthority := connectRequest()
	noAuthority.Host = ""
	h3 := func(protocol string) *http.Request { // quic-go: :protocol in Proto
		r := connectRequest(FieldPseudoProtocol, "")
		r.Proto, r.ProtoMajor = protocol, 3
		return r
	}
	h3get := h3("websocket")
	h3get.Method = http.MethodGet
	for _, tt := range []struct {
		name    string
		r       *http.Request
		p       Policy
		status  int
		problem string
		fields  string
	}{
		{"valid", connectRequest("Sec-WebSocket-Protocol", "chat, v2", "Origin", "https://server.example.com"), Policy{}, 0, "", ""},
		{"valid over HTTP/3", h3("websocket"), Policy{}, 0, "", ""},
		{":protocol in another case", connectRequest(FieldPseudoProtocol, "WebSocket"), Policy{}, 0, "", ""},
		{"a key, ignored", connectRequest("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), Policy{}, 0, "", ""},
		{"HTTP/1.1", h1, Policy{}, 400, `extended CONNECT over "HTTP/1.1"; it needs HTTP/2 or HTTP/3, and HTTP/1.1 upgrades with GET (RFC 8441 §4, RFC 6455 §4.2.1 item 1)`, ""},
		{"GET", get, Policy{}, 405, `method "GET"; a WebSocket over "HTTP/2.0" is opened with an extended CONNECT (RFC 8441 §4)`, "Allow: CONNECT\n"},
		{"GET over HTTP/3", h3get, Policy{}, 405, `method "GET"; a WebSocket over "HTTP/3" is opened with an extended CONNECT (RFC 8441 §4)`, "Allow: CONNECT\n"},
		{"no :protocol", connectRequest(FieldPseudoProtocol, ""), Policy{}, 400, "CONNECT without :protocol; a WebSocket needs :protocol websocket (RFC 8441 §4)", ""},
		{"another :protocol", connectRequest(FieldPseudoProtocol, "connect-udp"), Policy{}, 400, `:protocol "connect-udp"; want websocket (RFC 8441 §4)`, ""},
		{"HTTP/3 webtransport", h3("webtransport"), Policy{}, 400, `:protocol "webtransport"; want websocket (RFC 8441 §4)`, ""},
		{"no :authority", noAuthority, Policy{}, 400, "extended CONNECT without :authority (RFC 8441 §4)", ""},
		{"a name not listed", connectRequest(), Policy{Hosts: []string{"localhost:*"}}, 421, `Host "server.example.com" is not a name of this server: no HostPatterns entry matches (RFC 9110 §7.4, §15.5.20)`, ""},
		{"no version", connectRequest("Sec-WebSocket-Version", ""), Policy{}, 400, "missing Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)", ""},
		{"version 8", connectRequest("Sec-WebSocket-Version", "8"), Policy{}, 400, `unsupported Sec-WebSocket-Version "8"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`, "Sec-Websocket-Version: 13\n"},
		{"cross-origin", connectRequest("Origin", "https://evil.example"), Policy{}, 403, "", ""},
		{"subprotocol twice", connectRequest("Sec-WebSocket-Protocol", "a, a"), Policy{}, 400, `Sec-WebSocket-Protocol "a, a" offers "a" twice; subprotocols must be unique (RFC 6455 §4.1 item 10)`, ""},
		{"malformed extensions", connectRequest("Sec-WebSocket-Extensions", ";"), Policy{}, 400, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var o Offer
			f := CheckStreamRequest(tt.r, &tt.p, &o)
			if tt.status == 0 {
				if f.Failed() {
					t.Fatalf("refused: %s", f.Problem)
				}
				return
			}
			if !f.Failed() || f.Status != tt.status || tt.problem != "" && f.Problem != tt.problem {
				t.Fatalf("%d %q\nwant %d %q", f.Status, f.Problem, tt.status, tt.problem)
			}
			if got := refusalFields(&f); got != tt.fields {
				t.Errorf("refusal fields %q, want %q", got, tt.fields)
			}
		})
	}
}

// TestRefusalFields: the HTTP/1.1 refusals that name what the server wants (RFC 9110
// §15.5.6, §15.5.22; RFC 6455 §4.4), and none for a missing version.
func TestRefusalFields(t *testing.T) {
	get := parseRequest(t, upgradeRequest("POST /chat HTTP/1.1"))
	v8 := parseRequest(t, strings.Replace(upgradeRequest(""), "Version: 13", "Version: 8", 1))
	none := parseRequest(t, strings.Replace(upgradeRequest(""), "Sec-WebSocket-Version: 13\r\n", "", 1))
	for _, tt := range []struct {
		r      *http.Request
		status int
		fields string
	}{
		{get, 405, "Allow: GET\n"},
		{v8, 426, "Sec-Websocket-Version: 13\nUpgrade: websocket\nConnection: Upgrade\n"},
		{none, 400, ""},
	} {
		f := CheckRequest(tt.r, &Policy{}, new(Offer))
		if f.Status != tt.status || refusalFields(&f) != tt.fields {
			t.Errorf("%s: %d %q, want %d %q", f.Problem, f.Status, refusalFields(&f), tt.status, tt.fields)
		}
	}
}

// TestExplainStreamRequest lists every finding of an extended CONNECT, in order: a key sent
// anyway is worth an Info, not a failure (RFC 8441 §5).
func TestExplainStreamRequest(t *testing.T) {
	r := connectRequest("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "8", "Sec-WebSocket-Protocol", "chat")
	var o Offer
	got := ExplainStreamRequest(r, &Policy{AnyOrigin: true}, &o)
	want := []struct {
		verdict Verdict
		line    string
	}{
		{Pass, "HTTP version: HTTP/2.0 (RFC 8441 §4, RFC 9220 §3)"},
		{Pass, "method: CONNECT (RFC 8441 §4)"},
		{Pass, ":protocol: websocket (RFC 8441 §4)"},
		{Pass, ":authority: server.example.com (RFC 8441 §4)"},
		{Fail, `unsupported Sec-WebSocket-Version "8"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`},
		{Info, "Sec-WebSocket-Key is not used over extended CONNECT and is ignored (RFC 8441 §5)"},
		{Info, "Origin: none (RFC 6455 §10.2)"},
		{Pass, "Sec-WebSocket-Protocol: chat (RFC 6455 §4.1 item 10)"},
		{Pass, "Sec-WebSocket-Extensions: none (RFC 6455 §9.1)"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Verdict != w.verdict || got[i].String() != w.line {
			t.Errorf("finding %d: %v %q\nwant         %v %q", i, got[i].Verdict, got[i].String(), w.verdict, w.line)
		}
	}
	if len(o.Protocols) != 1 || o.Protocols[0] != "chat" || o.Key != "" {
		t.Errorf("offer %+v", o)
	}
}

// TestZeroAllocsCheckStreamRequest: as over HTTP/1.1, the rules allocate nothing for a
// valid request.
func TestZeroAllocsCheckStreamRequest(t *testing.T) {
	r := connectRequest("Origin", "https://app.example.com", "Sec-WebSocket-Protocol", "chat, superchat",
		"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	p := &Policy{Hosts: []string{"server.example.com"}, Origins: []string{"*.example.com"}}
	var o Offer
	allocs := testing.AllocsPerRun(100, func() {
		o.Reset()
		if f := CheckStreamRequest(r, p, &o); f.Failed() {
			t.Fatal(f.Problem)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request, want 0", allocs)
	}
}

// TestCheckStreamResponse_8441_5: a 2xx accepts, with only what was offered; no
// Sec-WebSocket-Accept is needed, and one sent anyway is ignored.
func TestCheckStreamResponse_8441_5(t *testing.T) {
	offer := Offer{Protocols: []string{"chat"}}
	offer.Extensions = append(offer.Extensions, connectDeflateOffer(t)...)
	for _, tt := range []struct {
		status  int
		fields  []string
		problem string // "" for a valid response
		answer  string
	}{
		{200, nil, "", "|"},
		{200, []string{"Sec-WebSocket-Protocol", "chat", "Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=10"}, "", "chat|permessage-deflate; server_max_window_bits=10"},
		{204, []string{"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, "", "|"},
		{101, nil, `server answered "101 Switching Protocols", want 200 (RFC 8441 §5)`, ""},
		{403, nil, `server answered "403 Forbidden", want 200 (RFC 8441 §5)`, ""},
		{200, []string{"Sec-WebSocket-Protocol", "v2"}, `server chose subprotocol "v2", which was not offered (RFC 6455 §4.1, response rule 6)`, ""},
		{200, []string{"Sec-WebSocket-Extensions", "x-other"}, `server accepted extension "x-other", which was not offered (RFC 6455 §4.1, response rule 5)`, ""},
		{200, []string{"Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=12"}, "extension permessage-deflate; server_max_window_bits=12: server_max_window_bits=12 is larger than the 10 offered (§7.1.2.1) (RFC 7692 §7.1)", ""},
	} {
		resp := &http.Response{StatusCode: tt.status, Status: strconv.Itoa(tt.status) + " " + http.StatusText(tt.status), Header: http.Header{}}
		for i := 0; i+1 < len(tt.fields); i += 2 {
			resp.Header.Set(tt.fields[i], tt.fields[i+1])
		}
		var a Answer
		f := CheckStreamResponse(resp, &offer, &a)
		if f.Problem != tt.problem || f.Failed() != (tt.problem != "") {
			t.Errorf("%d %v:\n got %q\nwant %q", tt.status, tt.fields, f.Problem, tt.problem)
			continue
		}
		var exts []string
		for _, e := range a.Extensions {
			exts = append(exts, e.String())
		}
		if got := a.Protocol + "|" + strings.Join(exts, ", "); tt.problem == "" && got != tt.answer {
			t.Errorf("%d %v: answer %q, want %q", tt.status, tt.fields, got, tt.answer)
		}
		all := ExplainStreamResponse(resp, &offer)
		if tt.status/100 != 2 && len(all) != 1 {
			t.Errorf("%d: %d findings after a refusal, want the status's only", tt.status, len(all))
		}
	}
}

func connectDeflateOffer(t *testing.T) []header.Extension {
	t.Helper()
	exts, err := header.ParseExtensions([]string{"permessage-deflate; server_max_window_bits=10"})
	if err != nil {
		t.Fatal(err)
	}
	return exts
}
