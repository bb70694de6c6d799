package handshake

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/header"
)

// upgradeRequest is the client handshake of RFC 6455 §1.2 with extra lines.
func upgradeRequest(reqLine string, extra ...string) string {
	if reqLine == "" {
		reqLine = "GET /chat HTTP/1.1"
	}
	return reqLine + "\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		strings.Join(append(extra, ""), "\r\n") + "\r\n"
}

// fuzzPolicy is the server policy of FuzzCheckRequest.
var fuzzPolicy = Policy{
	Origins: []string{"*.example.com:*", "null", "127.0.0.0/8:*", "[::1]"},
	Hosts:   []string{"*.example.com:*", "server.example.com", "[::1]:*"},
}

// FuzzCheckRequest feeds arbitrary requests, as net/http parses them, to
// CheckRequest and ExplainRequest: they must never panic; every refusal is
// one line naming an RFC rule with a status of its kind; ExplainRequest's
// first failure is CheckRequest's; and every accepted request satisfies each
// rule of §4.2.1 and the server's policy, checked here independently of the
// code under test (net/url, net.SplitHostPort and netip instead of the
// package's parsers).
func FuzzCheckRequest(f *testing.F) {
	f.Add(upgradeRequest(""))
	f.Add(upgradeRequest("", "Connection: keep-alive, Upgrade", "Origin: https://server.example.com"))
	f.Add(upgradeRequest("", "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Protocol: v2"))
	f.Add(upgradeRequest("", "Sec-WebSocket-Protocol: chat, chat"))
	f.Add(upgradeRequest("", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x; a=\"1\""))
	f.Add(upgradeRequest("", "Origin: http://a.example.com:8080"))
	f.Add(upgradeRequest("", "Origin: http://127.evil.test"))
	f.Add(upgradeRequest("", "Origin: http://[::1]:80"))
	f.Add(upgradeRequest("", "Origin: null"))
	f.Add(upgradeRequest("POST / HTTP/1.1"))
	f.Add(upgradeRequest("GET / HTTP/1.0"))
	f.Add(upgradeRequest("GET http://server.example.com/chat HTTP/1.1"))
	f.Add(upgradeRequest("GET * HTTP/1.1"))
	f.Add(upgradeRequest("", "Sec-WebSocket-Version: 8"))
	f.Add(upgradeRequest("", "Transfer-Encoding: chunked") + "0\r\n\r\n")
	statuses := []int{400, 403, 405, 421, 426, 505}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		var o Offer
		f := CheckRequest(r, &fuzzPolicy, &o)
		checkRefusal(t, f, ExplainRequest(r, &fuzzPolicy, new(Offer)), statuses)
		if f.Failed() {
			return
		}
		// §4.2.1 item 1.
		if r.Method != "GET" || r.ProtoMajor != 1 || r.ProtoMinor < 1 {
			t.Fatalf("accepted %s %s", r.Method, r.Proto)
		}
		if target := r.RequestURI; !strings.HasPrefix(target, "/") {
			if u, err := url.Parse(target); err != nil || !slices.Contains([]string{"http", "https", "ws", "wss"}, strings.ToLower(u.Scheme)) {
				t.Fatalf("accepted request target %q", target)
			}
		}
		// §4.2.1 item 2, and the server's names.
		if r.Host == "" || !hostAllowed(r.Host) {
			t.Fatalf("accepted Host %q", r.Host)
		}
		// §4.2.1 items 3 and 4.
		if !listHas(r.Header["Upgrade"], "websocket") || !listHas(r.Header["Connection"], "upgrade") {
			t.Fatalf("accepted Upgrade %q, Connection %q", r.Header["Upgrade"], r.Header["Connection"])
		}
		// §4.2.1 item 5.
		keys := r.Header["Sec-Websocket-Key"]
		if len(keys) != 1 || o.Key != keys[0] {
			t.Fatalf("accepted keys %q as %q", keys, o.Key)
		}
		if b, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(b) != 16 || base64.StdEncoding.EncodeToString(b) != keys[0] {
			t.Fatalf("accepted key %q", keys[0])
		}
		// §4.2.1 item 6.
		if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
			t.Fatalf("accepted version %q", v)
		}
		if r.ContentLength != 0 {
			t.Fatalf("accepted a body of length %d", r.ContentLength)
		}
		// §10.2.
		if o := r.Header["Origin"]; len(o) > 0 && !originAllowed(o, r.Host) {
			t.Fatalf("accepted Origin %q for Host %q", o, r.Host)
		}
		// §4.1 item 10: the offer is the list of distinct tokens sent.
		offered := listElems(r.Header["Sec-Websocket-Protocol"])
		if !slices.Equal(o.Protocols, offered) {
			t.Fatalf("offer %q, sent %q", o.Protocols, offered)
		}
		for i, p := range offered {
			if !header.IsToken(p) || slices.Contains(offered[:i], p) {
				t.Fatalf("accepted subprotocols %q", offered)
			}
		}
	})
}

// FuzzCheckStreamRequest feeds arbitrary requests, as net/http parses them,
// to CheckStreamRequest and ExplainStreamRequest as extended CONNECTs (RFC
// 8441 §4-§5): the request's version becomes HTTP/2, or HTTP/3 with protocol
// in Proto as quic-go has it, and protocol is :protocol. The rules never
// panic; ExplainStreamRequest's first failure is CheckStreamRequest's; every
// refusal is one line naming a rule, with a status of its kind and the
// fields it calls for; and every accepted request satisfies each rule,
// checked here independently of the code under test.
func FuzzCheckStreamRequest(f *testing.F) {
	connect := strings.Replace(upgradeRequest("CONNECT /chat HTTP/1.1"), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1)
	f.Add(connect, "websocket", false)
	f.Add(connect, "websocket", true)
	f.Add(connect, "WebSocket", false)
	f.Add(connect, "", false)
	f.Add(connect, "webtransport", true)
	f.Add(upgradeRequest(""), "websocket", false)
	f.Add(strings.Replace(connect, "Version: 13", "Version: 8", 1), "websocket", false)
	f.Add(strings.Replace(connect, "\r\n\r\n", "\r\nOrigin: https://evil.test\r\nSec-WebSocket-Protocol: a, b\r\n\r\n", 1), "websocket", true)
	statuses := []int{400, 403, 405, 421}
	f.Fuzz(func(t *testing.T, raw, protocol string, h3 bool) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		if h3 {
			r.Proto, r.ProtoMajor, r.ProtoMinor = protocol, 3, 0
		} else {
			r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
			if protocol != "" {
				r.Header[FieldPseudoProtocol] = []string{protocol}
			}
		}
		var o Offer
		f := CheckStreamRequest(r, &fuzzPolicy, &o)
		checkRefusal(t, f, ExplainStreamRequest(r, &fuzzPolicy, new(Offer)), statuses)
		if f.Failed() {
			var fields []string
			f.RefusalFields(func(name, value string) { fields = append(fields, name+": "+value) })
			if f.Status == 405 && !slices.Equal(fields, []string{"Allow: CONNECT"}) || slices.ContainsFunc(fields, func(s string) bool {
				return strings.HasPrefix(s, "Upgrade") || strings.HasPrefix(s, "Connection") // RFC 9113 §8.2.2
			}) {
				t.Fatalf("refusal %d with fields %q", f.Status, fields)
			}
			return
		}
		// RFC 8441 §4.
		if r.Method != "CONNECT" || !strings.EqualFold(protocol, "websocket") {
			t.Fatalf("accepted %s with :protocol %q", r.Method, protocol)
		}
		if r.Host == "" || !hostAllowed(r.Host) {
			t.Fatalf("accepted :authority %q", r.Host)
		}
		// RFC 8441 §5 keeps §4.2.1 item 6, §10.2 and §4.1 item 10.
		if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
			t.Fatalf("accepted version %q", v)
		}
		if o := r.Header["Origin"]; len(o) > 0 && !originAllowed(o, r.Host) {
			t.Fatalf("accepted Origin %q for :authority %q", o, r.Host)
		}
		if offered := listElems(r.Header["Sec-Websocket-Protocol"]); !slices.Equal(o.Protocols, offered) {
			t.Fatalf("offer %q, sent %q", o.Protocols, offered)
		}
	})
}

// checkRefusal checks what a check (f) and an explanation (all) of one request
// found: the explanation's first failure is the check's; only failures and
// warnings and informations that say more carry a problem; a refusal is one
// line naming a rule, with one of statuses.
func checkRefusal(t *testing.T, f Finding, all []Finding, statuses []int) {
	t.Helper()
	first := slices.IndexFunc(all, func(f Finding) bool { return f.Failed() })
	if f.Failed() != (first >= 0) || first >= 0 && all[first].Problem != f.Problem {
		t.Fatalf("the check found %q, the explanation %v", f.Problem, all)
	}
	for _, g := range all {
		if g.Failed() && g.Problem == "" || g.Verdict == Pass && g.Problem != "" {
			t.Fatalf("finding %+v: a problem without a failure or the reverse", g)
		}
	}
	if !f.Failed() {
		return
	}
	if !slices.Contains(statuses, f.Status) {
		t.Fatalf("refused with status %d: %s", f.Status, f.Problem)
	}
	if strings.ContainsAny(f.Problem, "\r\n") || strings.HasPrefix(f.Problem, "wsx") || !strings.Contains(f.Problem, "(RFC ") {
		t.Fatalf("refusal is not one line naming a rule: %q", f.Problem)
	}
}

// listElems splits comma-separated lists the plain way.
func listElems(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func listHas(values []string, token string) bool {
	return slices.ContainsFunc(listElems(values), func(e string) bool { return strings.EqualFold(e, token) })
}

// splitHost splits host[:port] with net.SplitHostPort, lowering a name and
// parsing an address; port is "" when absent.
func splitHost(h string) (name string, addr netip.Addr, port string, ok bool) {
	host := h
	if hh, p, err := net.SplitHostPort(h); err == nil {
		host, port = hh, p
		if p == "" {
			return "", addr, "", false
		}
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		host = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" || a.Is4() && strings.HasPrefix(h, "[") || a.Is6() && !strings.HasPrefix(h, "[") {
			return "", addr, "", false
		}
		return "", a.Unmap(), port, true
	}
	return strings.ToLower(host), addr, port, host != "" && !strings.ContainsAny(host, "[]:")
}

// hostAllowed restates fuzzPolicy.Hosts.
func hostAllowed(h string) bool {
	name, addr, port, ok := splitHost(h)
	switch {
	case !ok:
		return false
	case addr.IsValid():
		return addr == netip.IPv6Loopback()
	case strings.HasSuffix(name, ".example.com") && len(name) > len(".example.com"):
		return true
	}
	return name == "server.example.com" && (port == "" || port == "80" || port == "443")
}

// originAllowed restates the Origin policy of fuzzPolicy.
func originAllowed(values []string, host string) bool {
	if len(values) != 1 {
		return false
	}
	if values[0] == "null" {
		return true
	}
	u, err := url.Parse(values[0])
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	def := map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[strings.ToLower(u.Scheme)]
	oname, oaddr, oport, ok := splitHost(u.Host)
	if !ok {
		return false
	}
	if oport == "" {
		oport = def
	}
	if hname, haddr, hport, ok := splitHost(host); ok {
		if hport == "" {
			hport = def
		}
		if strings.TrimLeft(hport, "0") == strings.TrimLeft(oport, "0") && oname == hname && oaddr == haddr {
			return true
		}
	}
	switch {
	case oaddr.IsValid():
		return netip.MustParsePrefix("127.0.0.0/8").Contains(oaddr) || oaddr == netip.IPv6Loopback() && (oport == def)
	case strings.HasSuffix(oname, ".example.com") && len(oname) > len(".example.com"):
		return true
	}
	return false
}

// FuzzCheckResponse feeds arbitrary responses to the §4.1 response rules:
// they never panic, ExplainResponse's first failure is CheckResponse's, and
// whatever CheckResponse accepts obeys every rule of §4.1, checked here with
// net/http's header functions.
func FuzzCheckResponse(f *testing.F) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	accept := Accept(key)
	for _, s := range []string{
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n",
		"HTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
		"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Extensions: x-test; a=1, permessage-deflate\r\n\r\n",
		"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11; client_max_window_bits=9\r\n\r\n",
		"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Extensions: x-test\r\nSec-WebSocket-Extensions: x-test\r\n\r\n",
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!",
		"HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	offer := Offer{
		Key:       key,
		Protocols: []string{"chat", "superchat"},
		Extensions: []header.Extension{
			{Name: "x-test"},
			{Name: "permessage-deflate", Params: []header.Param{{Name: "server_max_window_bits", Value: "12", HasValue: true}, {Name: "client_max_window_bits"}}},
		},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		var a Answer
		f := CheckResponse(resp, &offer, &a)
		all := ExplainResponse(resp, &offer)
		first := slices.IndexFunc(all, func(f Finding) bool { return f.Failed() })
		if f.Failed() != (first >= 0) || first >= 0 && all[first].Problem != f.Problem {
			t.Fatalf("CheckResponse found %q, ExplainResponse %v", f.Problem, all)
		}
		if f.Failed() {
			if strings.ContainsAny(f.Problem, "\r\n") || !strings.Contains(f.Problem, "(RFC ") {
				t.Fatalf("problem is not one line naming a rule: %q", f.Problem)
			}
			return
		}
		h := resp.Header
		switch {
		case resp.StatusCode != 101 || !resp.ProtoAtLeast(1, 1):
			t.Fatalf("accepted %s %d", resp.Proto, resp.StatusCode)
		case !listHas(h.Values("Upgrade"), "websocket") || slices.ContainsFunc(listElems(h.Values("Upgrade")), func(e string) bool { return !strings.EqualFold(e, "websocket") }):
			t.Fatalf("accepted Upgrade %q", h.Values("Upgrade"))
		case !listHas(h.Values("Connection"), "upgrade"):
			t.Fatalf("accepted Connection %q", h.Values("Connection"))
		case len(h.Values("Sec-WebSocket-Accept")) != 1 || strings.TrimSpace(h.Get("Sec-WebSocket-Accept")) != accept:
			t.Fatalf("accepted Sec-WebSocket-Accept %q", h.Values("Sec-WebSocket-Accept"))
		case a.Protocol != "" && a.Protocol != "chat" && a.Protocol != "superchat":
			t.Fatalf("accepted subprotocol %q", a.Protocol)
		case a.Protocol == "" && len(h.Values("Sec-WebSocket-Protocol")) > 0:
			t.Fatalf("ignored Sec-WebSocket-Protocol %q", h.Values("Sec-WebSocket-Protocol"))
		}
		var names []string
		for _, e := range a.Extensions {
			if slices.Contains(names, e.Name) || e.Name != "x-test" && e.Name != "permessage-deflate" {
				t.Fatalf("accepted extensions %v", a.Extensions)
			}
			names = append(names, e.Name)
		}
	})
}
