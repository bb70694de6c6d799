//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// The client handshake of RFC 6455 §1.2/§4.1, to which each test applies one change.
var rfcRequest = []string{
	"GET /chat HTTP/1.1",
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Sec-WebSocket-Version: 13",
}

// The exact response to rfcRequest (§1.3, §4.2.2 step 5).
const rfcResponse = "HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
	"\r\n"

// upgradeRequest returns rfcRequest with the header lines whose name is in drop
// removed, the first line replaced by reqLine if not empty, and add appended.
func upgradeRequest(reqLine string, drop []string, add ...string) string {
	var b strings.Builder
	for i, l := range rfcRequest {
		if i == 0 && reqLine != "" {
			l = reqLine
		}
		name, _, _ := strings.Cut(l, ":")
		if i > 0 && slices.ContainsFunc(drop, func(d string) bool { return strings.EqualFold(d, name) }) {
			continue
		}
		b.WriteString(l + "\r\n")
	}
	for _, l := range add {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// acceptResult is what the handler under test saw.
type acceptResult struct {
	conn *Conn
	err  error
}

// acceptServer starts an HTTP server (TLS if tlsServer) whose handler calls
// Accept with opts and reports the result on the returned channel. Accepted
// connections are closed at the end of the test.
func acceptServer(t testing.TB, opts *AcceptOptions, tlsServer bool) (*httptest.Server, <-chan acceptResult) {
	t.Helper()
	results := make(chan acceptResult, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if c != nil {
			t.Cleanup(func() { c.CloseNow() })
		}
		results <- acceptResult{c, err}
	}))
	if tlsServer {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, results
}

// dialAcceptServer opens a TCP (or TLS) connection to srv.
func dialAcceptServer(t testing.TB, srv *httptest.Server) net.Conn {
	t.Helper()
	addr := srv.Listener.Addr().String()
	var nc net.Conn
	var err error
	if srv.TLS != nil {
		nc, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}

// readRawHead reads a response head byte by byte, so that nothing after it is
// consumed, and returns it with its final CRLF CRLF.
func readRawHead(t testing.TB, nc net.Conn) string {
	t.Helper()
	var b []byte
	var c [1]byte
	for !bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		if _, err := io.ReadFull(nc, c[:]); err != nil {
			t.Fatalf("reading response head after %q: %v", b, err)
		}
		b = append(b, c[0])
	}
	return string(b)
}

// acceptedOn waits for the handler's Accept result.
func acceptedOn(t testing.TB, results <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not run")
		return acceptResult{}
	}
}

// doHandshake sends req to a new server with opts and returns the raw response
// head, the client connection and the handler's result.
func doHandshake(t *testing.T, opts *AcceptOptions, req string) (string, net.Conn, acceptResult) {
	t.Helper()
	srv, results := acceptServer(t, opts, false)
	nc := dialAcceptServer(t, srv)
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	head := readRawHead(t, nc)
	return head, nc, acceptedOn(t, results)
}

// refusalTests break the rules of §4.2.1 (and §10.2, §9.1) one at a time:
// Accept and AcceptConn refuse each with the same status, fields and text.
var refusalTests = []struct {
	name   string
	req    string
	opts   *AcceptOptions
	status int
	body   string
	extra  []string // header name, value pairs besides those of every refusal
}{
	{
		name: "4_2_1_Item1_MethodPost", req: upgradeRequest("POST /chat HTTP/1.1", nil),
		status: 405, body: `wsx: method "POST" is not GET (RFC 6455 §4.2.1 item 1)`, extra: []string{"Allow", "GET"},
	},
	{
		name: "4_2_1_Item1_MethodPut", req: upgradeRequest("PUT /chat HTTP/1.1", nil),
		status: 405, body: `wsx: method "PUT" is not GET (RFC 6455 §4.2.1 item 1)`, extra: []string{"Allow", "GET"},
	},
	{
		name: "4_2_1_Item1_HTTP10", req: upgradeRequest("GET /chat HTTP/1.0", nil),
		status: 400, body: `wsx: "HTTP/1.0" request; the handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1 item 1)`,
	},
	{
		name: "4_2_1_Item3_MissingUpgrade", req: upgradeRequest("", []string{"Upgrade"}),
		status: 400, body: "wsx: missing Upgrade header (RFC 6455 §4.2.1 item 3)",
	},
	{
		name: "4_2_1_Item3_UpgradeNotWebsocket", req: upgradeRequest("", []string{"Upgrade"}, "Upgrade: h2c, websocket/13"),
		status: 400, body: `wsx: Upgrade header "h2c, websocket/13" does not include "websocket" (RFC 6455 §4.2.1 item 3)`,
	},
	{
		name: "4_2_1_Item4_MissingConnection", req: upgradeRequest("", []string{"Connection"}),
		status: 400, body: "wsx: missing Connection header (RFC 6455 §4.2.1 item 4)",
	},
	{
		name: "4_2_1_Item4_ConnectionWithoutUpgrade", req: upgradeRequest("", []string{"Connection"}, "Connection: keep-alive"),
		status: 400, body: `wsx: Connection header "keep-alive" does not include "Upgrade" (RFC 6455 §4.2.1 item 4)`,
	},
	{
		name: "4_2_1_Item5_MissingKey", req: upgradeRequest("", []string{"Sec-WebSocket-Key"}),
		status: 400, body: "wsx: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)",
	},
	{
		name: "4_2_1_Item5_KeyTwice", req: upgradeRequest("", nil, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="),
		status: 400, body: "wsx: Sec-WebSocket-Key header sent 2 times; it must be sent once (RFC 6455 §4.2.1 item 5, §11.3.1)",
	},
	{
		name: "4_2_1_Item5_Key15Bytes", req: upgradeRequest("", []string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"),
		status: 400, body: `wsx: Sec-WebSocket-Key "dGhlIHNhbXBsZSBub25j" is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)`,
	},
	{
		name: "4_2_1_Item5_KeyNotBase64", req: upgradeRequest("", []string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: the sample nonce!!!!!!!!"),
		status: 400, body: `wsx: Sec-WebSocket-Key "the sample nonce!!!!!!!!" is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)`,
	},
	{
		name: "4_2_1_Item6_MissingVersion", req: upgradeRequest("", []string{"Sec-WebSocket-Version"}),
		status: 400, body: "wsx: missing Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)",
	},
	{
		// §4.2.2 /version/ and §4.4: 426 and the version the server speaks.
		name: "4_4_Version8", req: upgradeRequest("", []string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8"),
		status: 426, body: `wsx: unsupported Sec-WebSocket-Version "8"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`,
		extra: []string{"Sec-Websocket-Version", "13", "Upgrade", "websocket", "Connection", "Upgrade"},
	},
	{
		name: "4_4_VersionList", req: upgradeRequest("", []string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 13, 8"),
		status: 426, body: `wsx: unsupported Sec-WebSocket-Version "13, 8"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`,
		extra: []string{"Sec-Websocket-Version", "13", "Upgrade", "websocket", "Connection", "Upgrade"},
	},
	{
		name: "4_4_VersionTwice", req: upgradeRequest("", nil, "Sec-WebSocket-Version: 13"),
		status: 426, body: `wsx: unsupported Sec-WebSocket-Version "13, 13"; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)`,
		extra: []string{"Sec-Websocket-Version", "13", "Upgrade", "websocket", "Connection", "Upgrade"},
	},
	{
		name: "4_1_Body", req: upgradeRequest("", nil, "Content-Length: 5") + "hello",
		status: 400, body: "wsx: handshake request has a body; frames must follow the request directly (RFC 6455 §4.1)",
	},
	{
		name: "4_1_Item10_MalformedProtocol", req: upgradeRequest("", nil, "Sec-WebSocket-Protocol: chat, super chat"),
		status: 400, body: `wsx: malformed Sec-WebSocket-Protocol header: expected ',' after a token (found 'c') at offset 12 in "chat, super chat" (RFC 6455 §4.1 item 10)`,
	},
	{
		name: "4_1_Item10_EmptyProtocol", req: upgradeRequest("", nil, "Sec-WebSocket-Protocol: "),
		status: 400, body: `wsx: malformed Sec-WebSocket-Protocol header: empty list at offset 0 in "" (RFC 6455 §4.1 item 10)`,
	},
	{
		name: "9_1_MalformedExtensions", req: upgradeRequest("", nil, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="),
		status: 400, body: `wsx: malformed Sec-WebSocket-Extensions header: expected a parameter value (a token or quoted-string) at offset 43 in "permessage-deflate; client_max_window_bits=" (RFC 6455 §9.1)`,
	},
	{
		name: "9_1_QuotedValueNotToken", req: upgradeRequest("", nil, `Sec-WebSocket-Extensions: foo; a="1 2"`),
		status: 400, body: `wsx: malformed Sec-WebSocket-Extensions header: byte not allowed in a token inside a quoted parameter value (found ' ') at offset 9 in "foo; a=\"1 2\"" (RFC 6455 §9.1)`,
	},
	{
		name: "10_2_CrossOrigin", req: upgradeRequest("", nil, "Origin: https://evil.example"),
		status: 403, body: `wsx: Origin "https://evil.example" is not allowed to connect to host "server.example.com": not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)`,
	},
	{
		// A suffix of the host is not the host.
		name: "10_2_OriginSuffix", req: upgradeRequest("", nil, "Origin: https://evilserver.example.com"),
		opts:   &AcceptOptions{OriginPatterns: []string{"*.server.example.com"}},
		status: 403, body: `wsx: Origin "https://evilserver.example.com" is not allowed to connect to host "server.example.com": not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)`,
	},
	{
		// Same host, other port: another origin (RFC 6454 §5).
		name: "10_2_OriginOtherPort", req: upgradeRequest("", nil, "Origin: http://server.example.com:8080"),
		status: 403, body: `wsx: Origin "http://server.example.com:8080" is not allowed to connect to host "server.example.com": not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)`,
	},
	{
		name: "10_2_OriginNull", req: upgradeRequest("", nil, "Origin: null"),
		status: 403, body: `wsx: Origin "null" is not allowed; list "null" in OriginPatterns to allow it (RFC 6455 §10.2)`,
	},
	{
		name: "10_2_OriginMalformed", req: upgradeRequest("", nil, "Origin: server.example.com"),
		status: 403, body: `wsx: malformed Origin header "server.example.com"; want scheme://host[:port] (RFC 6454 §7, RFC 6455 §10.2)`,
	},
	{
		name: "10_2_OriginWithPath", req: upgradeRequest("", nil, "Origin: http://server.example.com/app"),
		status: 403, body: `wsx: malformed Origin header "http://server.example.com/app"; want scheme://host[:port] (RFC 6454 §7, RFC 6455 §10.2)`,
	},
	{
		name: "10_2_OriginTwice", req: upgradeRequest("", nil, "Origin: http://server.example.com", "Origin: http://server.example.com"),
		status: 403, body: "wsx: Origin header sent 2 times; a request has one origin (RFC 6454 §7, RFC 6455 §10.2)",
	},
	{
		name: "ResponseHeaderOverridesHandshake", req: upgradeRequest("", nil),
		opts:   &AcceptOptions{ResponseHeader: http.Header{"Sec-WebSocket-Protocol": {"chat"}}},
		status: 500, body: "wsx: AcceptOptions.ResponseHeader must not set Sec-WebSocket-Protocol: the handshake sets it (use AcceptOptions.Subprotocols to choose a subprotocol)",
	},
	{
		name: "ResponseHeaderConnection", req: upgradeRequest("", nil),
		opts:   &AcceptOptions{ResponseHeader: http.Header{"Connection": {"close"}}},
		status: 500, body: "wsx: AcceptOptions.ResponseHeader must not set Connection: the handshake sets it (use AcceptOptions.Subprotocols to choose a subprotocol)",
	},
	{
		// A value that would end the field early (response splitting).
		name: "ResponseHeaderCRLF", req: upgradeRequest("", nil),
		opts:   &AcceptOptions{ResponseHeader: http.Header{"X-A": {"1\r\nX-B: 2"}}},
		status: 500, body: `wsx: AcceptOptions.ResponseHeader field X-A has a value with a control character: "1\r\nX-B: 2"`,
	},
	{
		// §4.1 item 10: the elements "MUST all be unique strings".
		name: "4_1_Item10_DuplicateProtocol", req: upgradeRequest("", nil, "Sec-WebSocket-Protocol: chat, v2", "Sec-WebSocket-Protocol: chat"),
		status: 400, body: `wsx: Sec-WebSocket-Protocol "chat, v2, chat" offers "chat" twice; subprotocols must be unique (RFC 6455 §4.1 item 10)`,
	},
	{
		// §4.2.1 item 1, §3: the resource name, or an absolute http(s) or ws(s) URI.
		name: "4_2_1_Item1_TargetAsterisk", req: upgradeRequest("GET * HTTP/1.1", nil),
		status: 400, body: `wsx: request target "*" is neither a path nor an absolute http, https, ws or wss URI (RFC 6455 §4.2.1 item 1, §3)`,
	},
	{
		name: "4_2_1_Item1_TargetOtherScheme", req: upgradeRequest("GET ftp://server.example.com/chat HTTP/1.1", nil),
		status: 400, body: `wsx: request target "ftp://server.example.com/chat" is neither a path nor an absolute http, https, ws or wss URI (RFC 6455 §4.2.1 item 1, §3)`,
	},
	{
		// DNS rebinding (issue 8 item 10): a page on evil.example whose name
		// now resolves to this server sends its own name as Host and Origin.
		name: "9110_7_4_HostNotListed", req: upgradeRequest("", []string{"Host"}, "Host: evil.example:8080", "Origin: http://evil.example:8080"),
		opts:   &AcceptOptions{HostPatterns: loopbackHosts},
		status: 421, body: `wsx: Host "evil.example:8080" is not a name of this server: no HostPatterns entry matches (RFC 9110 §7.4, §15.5.20)`,
	},
	{
		name: "9110_7_4_HostNotListedNoOrigin", req: upgradeRequest("", []string{"Host"}, "Host: 127.0.0.1.nip.io:8080"),
		opts:   &AcceptOptions{HostPatterns: loopbackHosts},
		status: 421, body: `wsx: Host "127.0.0.1.nip.io:8080" is not a name of this server: no HostPatterns entry matches (RFC 9110 §7.4, §15.5.20)`,
	},
	{
		// Issue 8 item 9: "127.*" is not a pattern; it is reported, and no
		// request can be judged while it is there, a same-origin one neither.
		name: "10_2_BadPatternSameOrigin", req: upgradeRequest("", nil, "Origin: http://server.example.com"),
		opts:   &AcceptOptions{OriginPatterns: []string{"127.*"}},
		status: 500, body: `wsx: AcceptOptions.OriginPatterns[0] "127.*": bad host "127.*": "*" stands alone or as the first label ("*.example.com"); for addresses use a prefix such as 127.0.0.0/8`,
	},
	{
		name: "10_2_OriginGlobIsNotText", req: upgradeRequest("", nil, "Origin: http://127.evil.test"),
		opts:   &AcceptOptions{OriginPatterns: []string{"127.0.0.0/8:*"}},
		status: 403, body: `wsx: Origin "http://127.evil.test" is not allowed to connect to host "server.example.com": not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)`,
	},
	{
		name: "9110_7_4_BadHostPattern", req: upgradeRequest("", nil),
		opts:   &AcceptOptions{HostPatterns: []string{"localhost:*", "[::1"}},
		status: 500, body: `wsx: AcceptOptions.HostPatterns[1] "[::1": "[::1": no closing ] after an IPv6 address`,
	},
}

// loopbackHosts is what a development server on a loopback address lets in
// (the patterns wsx serve uses): its own names, not a rebound one.
var loopbackHosts = []string{"localhost:*", "127.0.0.0/8:*", "[::1]:*"}

// refusalHeader returns the header fields of a refusal with body, besides
// Date: those of every refusal and the extra name, value pairs.
func refusalHeader(body string, extra ...string) http.Header {
	h := http.Header{
		"Content-Type":           {"text/plain; charset=utf-8"},
		"X-Content-Type-Options": {"nosniff"},
		"Content-Length":         {strconv.Itoa(len(body) + 1)},
	}
	for i := 0; i < len(extra); i += 2 {
		h.Add(extra[i], extra[i+1])
	}
	return h
}

// TestAccept_4_2_1_Refusals sends each of refusalTests and checks the whole
// response but its Date, and Accept's error.
func TestAccept_4_2_1_Refusals(t *testing.T) {
	tests := refusalTests
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, results := acceptServer(t, tt.opts, false)
			nc := dialAcceptServer(t, srv)
			if _, err := io.WriteString(nc, tt.req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status = %q, want %d", resp.Status, tt.status)
			}
			if want := tt.body + "\n"; string(body) != want {
				t.Errorf("body = %q\nwant   %q", body, want)
			}
			resp.Header.Del("Date")
			if want := refusalHeader(tt.body, tt.extra...); !maps.EqualFunc(resp.Header, want, slices.Equal) {
				t.Errorf("header = %q\nwant     %q", resp.Header, want)
			}
			res := acceptedOn(t, results)
			if res.conn != nil || res.err == nil || res.err.Error() != tt.body {
				t.Errorf("Accept = %v, %v; want nil, %q", res.conn, res.err, tt.body)
			}
		})
	}
}

// TestCheckRequest_4_2_1_Item2_MissingHost checks the Host rule on the request
// itself: net/http already refuses an HTTP/1.1 request without Host.
func TestCheckRequest_4_2_1_Item2_MissingHost(t *testing.T) {
	r := parseRequest(t, upgradeRequest("", nil))
	r.Host = ""
	_, rej := checkRequest(r, &AcceptOptions{})
	if rej == nil || rej.status != 400 || rej.msg != "wsx: missing Host header (RFC 6455 §4.2.1 item 2)" {
		t.Fatalf("checkRequest without Host = %+v", rej)
	}
}

// checkRequest runs the checks of Accept and AcceptConn on r, without a
// connection.
func checkRequest(r *http.Request, opts *AcceptOptions) (acceptance, *refusal) {
	var st serverState
	return st.prepare(r, opts)
}

func parseRequest(t testing.TB, s string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// responseTests are valid requests, including the forms browsers and other
// clients send, with the exact 101 response (§4.2.2 step 5) that Accept and
// AcceptConn give them.
var responseTests = []struct {
	name string
	req  string
	opts *AcceptOptions
	want string // the response head
	sub  string // Conn.Subprotocol
}{
	{name: "RFCExample", req: upgradeRequest("", nil), want: rfcResponse},
	{
		// Firefox: "Connection: keep-alive, Upgrade" (§4.2.1 item 4, "includes").
		name: "4_2_1_Item4_Firefox",
		req:  upgradeRequest("", []string{"Connection"}, "Connection: keep-alive, Upgrade"),
		want: rfcResponse,
	},
	{
		// Tokens compare case-insensitively; lists may span lines.
		name: "4_2_1_Items3_4_CaseAndLines",
		req:  upgradeRequest("", []string{"Connection", "Upgrade"}, "upgrade: WebSocket", "CONNECTION: keep-alive", "connection: UPGRADE"),
		want: rfcResponse,
	},
	{
		// A client that offers extensions gets none back (§9.1) until one is negotiated.
		name: "9_1_ExtensionsDeclined",
		req:  upgradeRequest("", nil, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
		want: rfcResponse,
	},
	{
		name: "4_2_1_Item1_AbsoluteURI",
		req:  upgradeRequest("GET http://server.example.com/chat HTTP/1.1", nil),
		want: rfcResponse,
	},
	{
		// §4.2.2 /subprotocol/: the server's preference order wins.
		name: "4_2_2_SubprotocolServerPreference",
		req:  upgradeRequest("", nil, "Sec-WebSocket-Protocol: chat, superchat"),
		opts: &AcceptOptions{Subprotocols: []string{"superchat", "chat"}},
		want: strings.Replace(rfcResponse, "\r\n\r\n", "\r\nSec-WebSocket-Protocol: superchat\r\n\r\n", 1),
		sub:  "superchat",
	},
	{
		// Several Sec-WebSocket-Protocol lines form one list.
		name: "4_2_2_SubprotocolSeveralLines",
		req:  upgradeRequest("", nil, "Sec-WebSocket-Protocol: v1.a", "Sec-WebSocket-Protocol: v2.b, v3.c"),
		opts: &AcceptOptions{Subprotocols: []string{"v3.c", "v2.b"}},
		want: strings.Replace(rfcResponse, "\r\n\r\n", "\r\nSec-WebSocket-Protocol: v3.c\r\n\r\n", 1),
		sub:  "v3.c",
	},
	{
		// No common subprotocol: no header at all (§4.2.2: "MUST NOT send back").
		name: "4_2_2_NoCommonSubprotocol",
		req:  upgradeRequest("", nil, "Sec-WebSocket-Protocol: Chat"),
		opts: &AcceptOptions{Subprotocols: []string{"chat"}},
		want: rfcResponse,
	},
	{
		name: "4_2_2_SubprotocolNotOffered",
		req:  upgradeRequest("", nil),
		opts: &AcceptOptions{Subprotocols: []string{"chat"}},
		want: rfcResponse,
	},
	{
		// Extra fields follow the handshake's, sorted by name.
		name: "ResponseHeader",
		req:  upgradeRequest("", nil),
		opts: &AcceptOptions{ResponseHeader: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-Server": {"wsx"}}},
		want: strings.Replace(rfcResponse, "\r\n\r\n", "\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Server: wsx\r\n\r\n", 1),
	},
}

// TestAccept_4_2_2_Response checks the response to each of responseTests.
func TestAccept_4_2_2_Response(t *testing.T) {
	tests := responseTests
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, _, res := doHandshake(t, tt.opts, tt.req)
			if head != tt.want {
				t.Errorf("response =\n%q\nwant\n%q", head, tt.want)
			}
			if res.err != nil {
				t.Fatalf("Accept: %v", res.err)
			}
			if got := res.conn.Subprotocol(); got != tt.sub {
				t.Errorf("Subprotocol() = %q, want %q", got, tt.sub)
			}
			if got := res.conn.Extensions(); got != "" {
				t.Errorf("Extensions() = %q, want none", got)
			}
		})
	}
}

// TestAccept_10_2_OriginAllowed checks the origins the policy lets through.
func TestAccept_10_2_OriginAllowed(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		origin string
		opts   *AcceptOptions
	}{
		{name: "NoOrigin", host: "server.example.com"}, // §4.2.1 item 7: not a browser
		{name: "SameOrigin", host: "server.example.com", origin: "http://server.example.com"},
		{name: "SameOriginTLS", host: "server.example.com", origin: "https://server.example.com"},
		{name: "CaseInsensitive", host: "Server.Example.com", origin: "HTTPS://SERVER.example.COM"},
		{name: "SamePort", host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080"},
		{name: "DefaultPortInHost", host: "server.example.com:443", origin: "https://server.example.com"},
		{name: "DefaultPortInOrigin", host: "server.example.com", origin: "http://server.example.com:80"},
		{name: "IPv6", host: "[::1]:8080", origin: "http://[::1]:8080"},
		{
			name: "PatternSubdomain", host: "api.example.com", origin: "https://app.example.com",
			opts: &AcceptOptions{OriginPatterns: []string{"other.org", "*.example.com"}},
		},
		{
			name: "PatternAnyPort", host: "server.example.com", origin: "http://localhost:3000",
			opts: &AcceptOptions{OriginPatterns: []string{"localhost:*"}},
		},
		{
			name: "PatternWithScheme", host: "server.example.com", origin: "https://App.Example.com",
			opts: &AcceptOptions{OriginPatterns: []string{"https://app.example.com"}},
		},
		{
			name: "PatternNull", host: "server.example.com", origin: "null",
			opts: &AcceptOptions{OriginPatterns: []string{"null"}},
		},
		{
			name: "InsecureSkipOriginCheck", host: "server.example.com", origin: "https://evil.example",
			opts: &AcceptOptions{InsecureSkipOriginCheck: true},
		},
		{
			name: "InsecureSkipOriginCheckMalformed", host: "server.example.com", origin: "not an origin",
			opts: &AcceptOptions{InsecureSkipOriginCheck: true},
		},
		{
			// Issue 8 item 9: an IPv6 literal with any port, as a parsed address.
			name: "PatternIPv6AnyPort", host: "server.example.com", origin: "http://[::1]:8080",
			opts: &AcceptOptions{OriginPatterns: []string{"[::1]:*"}},
		},
		{
			name: "PatternPrefix", host: "server.example.com", origin: "http://127.0.0.2:3000",
			opts: &AcceptOptions{OriginPatterns: []string{"127.0.0.0/8:*"}},
		},
		{
			// Issue 8 item 10: with the Host allow-list on, same-origin
			// localhost and IPv6 loopback pages still connect.
			name: "HostListedLocalhost", host: "localhost:8080", origin: "http://localhost:8080",
			opts: &AcceptOptions{HostPatterns: loopbackHosts},
		},
		{
			name: "HostListedIPv6", host: "[::1]:8080", origin: "http://[::1]:8080",
			opts: &AcceptOptions{HostPatterns: loopbackHosts},
		},
		{
			name: "HostListedLoopbackPrefix", host: "127.0.0.3:8080",
			opts: &AcceptOptions{HostPatterns: loopbackHosts},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add := []string{"Host: " + tt.host}
			if tt.origin != "" {
				add = append(add, "Origin: "+tt.origin)
			}
			head, _, res := doHandshake(t, tt.opts, upgradeRequest("", []string{"Host"}, add...))
			if head != rfcResponse || res.err != nil {
				t.Fatalf("response %q, Accept error %v; want 101", head, res.err)
			}
		})
	}
	// A scheme pattern does not match another scheme.
	_, rej := checkRequest(parseRequest(t, upgradeRequest("", nil, "Origin: http://app.example.com")),
		&AcceptOptions{OriginPatterns: []string{"https://app.example.com"}})
	if rej == nil || rej.status != http.StatusForbidden {
		t.Errorf("http origin against an https pattern: %v, want 403", rej)
	}
}

// TestAccept_10_2_BadPattern checks that a malformed OriginPatterns entry is
// the server's error: Validate reports it, and while it is there every
// request is refused with 500, same-origin or not.
func TestAccept_10_2_BadPattern(t *testing.T) {
	opts := &AcceptOptions{OriginPatterns: []string{"*.example.com", "127.*"}}
	const want = `wsx: AcceptOptions.OriginPatterns[1] "127.*": bad host "127.*": "*" stands alone or as the first label ("*.example.com"); for addresses use a prefix such as 127.0.0.0/8`
	if err := opts.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v\nwant       %s", err, want)
	}
	for _, origin := range []string{"Origin: https://app.example.com", "Origin: http://server.example.com"} {
		_, rej := checkRequest(parseRequest(t, upgradeRequest("", nil, origin)), opts)
		if rej == nil || rej.status != 500 || rej.msg != want {
			t.Fatalf("%s: got %+v", origin, rej)
		}
	}
}

// TestAccept_5_PipelinedFrame sends a frame in the same write as the
// handshake: the bytes net/http read past the request must reach the Conn.
func TestAccept_5_PipelinedFrame(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		name := "TCP"
		if tlsServer {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			srv, results := acceptServer(t, nil, tlsServer)
			nc := dialAcceptServer(t, srv)
			checkPipelinedExchange(t, nc, results)
		})
	}
}

// checkPipelinedExchange sends a handshake request with two frames right behind it ("early"
// as text, 01 02 03 as binary) and checks that the 101 comes back, that the frames reach the
// accepted Conn, and that the Conn's reply reaches the client unmasked (§5.1).
func checkPipelinedExchange(t *testing.T, client net.Conn, results <-chan acceptResult) {
	t.Helper()
	req := []byte(upgradeRequest("", nil))
	req = append(req, frameBytes(true, 0, frame.OpText, true, []byte("early"))...)
	req = append(req, frameBytes(true, 0, frame.OpBinary, true, []byte{1, 2, 3})...)
	if _, err := client.Write(req); err != nil {
		t.Fatal(err)
	}
	if head := readRawHead(t, client); head != rfcResponse {
		t.Fatalf("response %q", head)
	}
	res := acceptedOn(t, results)
	if res.err != nil {
		t.Fatal(res.err)
	}
	c := res.conn
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, want := range []struct {
		typ MessageType
		p   string
	}{{MessageText, "early"}, {MessageBinary, "\x01\x02\x03"}} {
		typ, p, err := c.Read(ctx)
		if err != nil || typ != want.typ || string(p) != want.p {
			t.Fatalf("Read = %v, %q, %v; want %v, %q", typ, p, err, want.typ, want.p)
		}
	}
	if err := c.Write(ctx, MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	peer := &rawPeer{t: t, nc: client, client: true}
	if h, p := peer.readFrame(); h.Opcode != frame.OpText || !h.Fin || h.Masked || string(p) != "hi" {
		t.Fatalf("server frame %+v %q", h, p)
	}
}

// TestAccept_ClearsHijackedDeadlines checks that deadlines left on the
// hijacked connection by the server in front of Accept are cleared before the
// 101 response is written, and do not limit the WebSocket connection.
func TestAccept_ClearsHijackedDeadlines(t *testing.T) {
	server, client := tcpPair(t)
	server.SetDeadline(time.Unix(1, 0)) // already expired
	w := &hijackWriter{h: http.Header{}, nc: server, brw: bufio.NewReadWriter(bufio.NewReader(server), nil)}
	c, err := Accept(w, parseRequest(t, upgradeRequest("", nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if head := readRawHead(t, client); head != rfcResponse {
		t.Fatalf("response %q", head)
	}
	peer := &rawPeer{t: t, nc: client, client: true}
	peer.send(true, frame.OpText, []byte("after"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "after" {
		t.Fatalf("Read = %q, %v", p, err)
	}
}

// TestAccept_ServerTimeouts checks that a connection accepted by an
// http.Server with ReadTimeout and WriteTimeout outlives them: net/http (on
// Hijack) and Accept both clear the deadlines they set.
func TestAccept_ServerTimeouts(t *testing.T) {
	results := make(chan acceptResult, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		results <- acceptResult{c, err}
	}))
	srv.Config.ReadTimeout = 50 * time.Millisecond
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	nc := dialAcceptServer(t, srv)
	io.WriteString(nc, upgradeRequest("", nil))
	if head := readRawHead(t, nc); head != rfcResponse {
		t.Fatalf("response %q", head)
	}
	res := acceptedOn(t, results)
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.conn.CloseNow()
	time.Sleep(200 * time.Millisecond) // well past both timeouts
	// No deadline in the context, so that the Conn has no reason to set one.
	ctx := context.Background()
	if err := res.conn.Write(ctx, MessageText, []byte("late")); err != nil {
		t.Fatalf("Write after the server's WriteTimeout: %v", err)
	}
	peer := &rawPeer{t: t, nc: nc, client: true}
	if _, p := peer.readFrame(); string(p) != "late" {
		t.Fatalf("got %q", p)
	}
	peer.send(true, frame.OpText, []byte("later"))
	if _, p, err := res.conn.Read(ctx); err != nil || string(p) != "later" {
		t.Fatalf("Read after the server's ReadTimeout = %q, %v", p, err)
	}
}

// TestAccept_HTTP2 checks that an HTTP/2 request that is not an extended
// CONNECT is refused with 405 and "Allow: CONNECT" (RFC 8441 §4; the extended
// CONNECT itself is tested in accept_stream_test.go).
func TestAccept_HTTP2(t *testing.T) {
	results := make(chan acceptResult, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		results <- acceptResult{c, err}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	const want = `wsx: method "GET"; a WebSocket over "HTTP/2.0" is opened with an extended CONNECT (RFC 8441 §4)`
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "CONNECT" || string(body) != want+"\n" {
		t.Fatalf("%s %s %v: %q", resp.Proto, resp.Status, resp.Header, body)
	}
	if res := acceptedOn(t, results); res.conn != nil || res.err == nil || res.err.Error() != want {
		t.Fatalf("Accept = %v, %v", res.conn, res.err)
	}
}

// hijackWriter is a minimal http.ResponseWriter that can be hijacked, for
// measuring Accept without net/http's server around it.
type hijackWriter struct {
	h   http.Header
	nc  net.Conn
	brw *bufio.ReadWriter
}

func (w *hijackWriter) Header() http.Header         { return w.h }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(int)             {}
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, w.brw, nil
}

// discardConn is a net.Conn that discards what is written to it.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) Close() error                     { return nil }

// BenchmarkAccept measures Accept alone, from a parsed request to a Conn, as
// a browser would open it: Origin, a subprotocol and a declined extension.
func BenchmarkAccept(b *testing.B) {
	r := parseRequest(b, upgradeRequest("", nil,
		"Origin: https://server.example.com",
		"Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))
	opts := &AcceptOptions{Subprotocols: []string{"superchat"}}
	w := &hijackWriter{h: http.Header{}, nc: discardConn{}, brw: bufio.NewReadWriter(bufio.NewReader(strings.NewReader("")), nil)}
	b.ReportAllocs()
	for b.Loop() {
		c, err := Accept(w, r, opts)
		if err != nil || c.Subprotocol() != "superchat" {
			b.Fatal(c, err)
		}
	}
}

// BenchmarkAcceptLoopback measures a whole handshake through net/http over
// loopback TCP, client side included.
func BenchmarkAcceptLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		c.CloseNow()
	}))
	defer srv.Close()
	req := []byte(upgradeRequest("", nil))
	buf := make([]byte, len(rfcResponse))
	b.ReportAllocs()
	for b.Loop() {
		nc, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != rfcResponse {
			b.Fatalf("%q, %v", buf, err)
		}
		nc.Close()
	}
}

// An echo endpoint: Accept answers refused handshakes itself, so the handler
// only returns on error.
func ExampleAccept() {
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{
			Subprotocols:   []string{"echo.v2", "echo.v1"},
			OriginPatterns: []string{"*.example.com"},
		})
		if err != nil {
			log.Print(err) // e.g. wsx: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)
			return
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, p); err != nil {
				return
			}
		}
	})
}
