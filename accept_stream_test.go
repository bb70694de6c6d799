//go:build !js

package wsx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// streamRequest returns an extended CONNECT request as net/http's HTTP/2 server hands it to a
// handler (RFC 8441 §4-§5).
func streamRequest(fields ...string) *http.Request {
	r := httptest.NewRequest(http.MethodConnect, "https://wsx.test/chat", nil)
	r.Host = "wsx.test" // :authority
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.Header[":protocol"] = []string{"websocket"}
	r.Header.Set("Sec-WebSocket-Version", "13")
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			delete(r.Header, http.CanonicalHeaderKey(fields[i]))
			continue
		}
		r.Header[http.CanonicalHeaderKey(fields[i])] = []string{fields[i+1]}
	}
	return r
}

// Accept's refusals of HTTP/2 and HTTP/3 requests: the status, the header fields and the rule
// named. No Upgrade or Connection field goes out (RFC 9113 §8.2.2), so a version refusal is a
// 400 with Sec-WebSocket-Version, not a 426.
func TestAcceptStreamRefusals(t *testing.T) {
	h3 := func(protocol string) *http.Request {
		r := streamRequest(":protocol", "")
		r.ProtoMajor, r.Proto = 3, protocol // quic-go: :protocol in Proto
		return r
	}
	noHost := streamRequest()
	noHost.Host = ""
	get := streamRequest()
	get.Method = http.MethodGet
	for _, tc := range []struct {
		name   string
		r      *http.Request
		opts   *AcceptOptions
		status int
		field  string // name: value that the refusal carries
		text   string
	}{
		{"GET over HTTP/2", get, nil, 405, "Allow: CONNECT", "extended CONNECT (RFC 8441 §4)"},
		{"CONNECT without :protocol", streamRequest(":protocol", ""), nil, 400, "", "without :protocol"},
		{"another :protocol", streamRequest(":protocol", "connect-udp"), nil, 400, "", `:protocol "connect-udp"`},
		{"HTTP/3 :protocol webtransport", h3("webtransport"), nil, 400, "", `:protocol "webtransport"`},
		{"no :authority", noHost, nil, 400, "", ":authority"},
		{"no version", streamRequest("Sec-WebSocket-Version", ""), nil, 400, "", "missing Sec-WebSocket-Version"},
		{"version 8", streamRequest("Sec-WebSocket-Version", "8"), nil, 400, "Sec-WebSocket-Version: 13", "unsupported Sec-WebSocket-Version"},
		{"cross-origin", streamRequest("Origin", "https://evil.example"), nil, 403, "", "not allowed"},
		{"malformed subprotocols", streamRequest("Sec-WebSocket-Protocol", "a b"), nil, 400, "", "Sec-WebSocket-Protocol"},
		{"malformed extensions", streamRequest("Sec-WebSocket-Extensions", ";"), nil, 400, "", "Sec-WebSocket-Extensions"},
		{"bad ResponseHeader", streamRequest(), &AcceptOptions{ResponseHeader: http.Header{"Upgrade": {"x"}}}, 500, "", "must not set"},
		{"HTTP/3 without a stream taker", h3("websocket"), nil, 501, "", "h3transport.Handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, err := Accept(w, tc.r, tc.opts)
			if c != nil || err == nil {
				t.Fatalf("Accept = %v, %v; want a refusal", c, err)
			}
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.text) || w.Body.String() != err.Error()+"\n" {
				t.Errorf("%d %q (error %v); want %d mentioning %q", w.Code, w.Body, err, tc.status, tc.text)
			}
			if name, value, ok := strings.Cut(tc.field, ": "); ok && w.Header().Get(name) != value {
				t.Errorf("%s: %q, want %q", name, w.Header().Get(name), value)
			}
			for _, f := range []string{"Upgrade", "Connection"} {
				if v := w.Header().Values(f); len(v) > 0 {
					t.Errorf("refusal carries %s: %q, which HTTP/2 forbids", f, v)
				}
			}
		})
	}
}

// A valid HTTP/2 extended CONNECT is accepted with 200, the chosen subprotocol, the
// permessage-deflate answer and ResponseHeader; no Sec-WebSocket-Accept (RFC 8441 §5).
func TestAcceptStreamResponse(t *testing.T) {
	r := streamRequest("Sec-WebSocket-Protocol", "b, a", "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits", "Origin", "https://wsx.test")
	w := httptest.NewRecorder()
	w.Header().Set("X-Handler", "not sent")
	c, err := Accept(w, r, &AcceptOptions{
		Subprotocols:   []string{"a", "b"},
		Compression:    &CompressionOptions{},
		ResponseHeader: http.Header{"Set-Cookie": {"k=v"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	h := w.Result().Header
	if w.Code != 200 || c.Subprotocol() != "a" || h.Get("Sec-WebSocket-Protocol") != "a" ||
		!strings.HasPrefix(h.Get("Sec-WebSocket-Extensions"), "permessage-deflate") || h.Get("Set-Cookie") != "k=v" {
		t.Fatalf("%d %v, subprotocol %q", w.Code, h, c.Subprotocol())
	}
	for _, f := range []string{"Sec-WebSocket-Accept", "Upgrade", "Connection", "X-Handler"} {
		if v := h.Values(f); len(v) > 0 {
			t.Errorf("response carries %s: %q", f, v)
		}
	}
}
