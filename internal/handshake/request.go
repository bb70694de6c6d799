package handshake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// Policy is what a server decides beyond the rules of the RFC: the hosts it
// answers for and the origins whose pages may connect. The zero Policy
// answers for any Host and lets in same-origin pages and clients that send
// no Origin. See ValidatePatterns for the grammar of the patterns.
type Policy struct {
	// Hosts, when not empty, lists the only Host values a request may
	// carry (RFC 9110 §7.4): others are refused with 421 Misdirected
	// Request, which defeats DNS rebinding.
	Hosts []string
	// Origins lists the origins allowed besides the request's own host
	// (§10.2).
	Origins []string
	// AnyOrigin skips the Origin check.
	AnyOrigin bool
}

// The rules of a request (§4.2.1, §4.1, §10.2).
var (
	ruleHTTP           = Rule{"HTTP version", "RFC 6455 §4.2.1 item 1"}
	ruleMethod         = Rule{"method", "RFC 6455 §4.2.1 item 1"}
	ruleTarget         = Rule{"request target", "RFC 6455 §4.2.1 item 1, §3"}
	ruleHost           = Rule{"Host", "RFC 6455 §4.2.1 item 2"}
	ruleHostAllowed    = Rule{"Host", "RFC 9110 §7.4"}
	ruleUpgrade        = Rule{"Upgrade", "RFC 6455 §4.2.1 item 3"}
	ruleConnection     = Rule{"Connection", "RFC 6455 §4.2.1 item 4"}
	ruleKey            = Rule{"Sec-WebSocket-Key", "RFC 6455 §4.2.1 item 5"}
	ruleVersion        = Rule{"Sec-WebSocket-Version", "RFC 6455 §4.2.1 item 6"}
	ruleBody           = Rule{"body", "RFC 6455 §4.1"}
	ruleOrigin         = Rule{"Origin", "RFC 6455 §10.2"}
	ruleProtocolOffer  = Rule{"Sec-WebSocket-Protocol", "RFC 6455 §4.1 item 10"}
	ruleExtensionOffer = Rule{"Sec-WebSocket-Extensions", "RFC 6455 §9.1"}
)

// requestCheck is one request being checked. The rules take it by value,
// so that nothing of it escapes to the heap.
type requestCheck struct {
	r *http.Request
	p Policy
	o *Offer
}

// upgradeRequestRules lists the rules of an HTTP/1.1 Upgrade request (§4.2.1),
// in the order a server applies them: the first that fails is the reason
// of the refusal.
var upgradeRequestRules = [...]func(requestCheck) Finding{
	checkHTTP,
	checkMethod,
	checkTarget,
	checkHost,
	checkUpgrade,
	checkConnection,
	// The version comes before the key: a client of another version learns
	// which one to speak (§4.4) even if its key is not ours to judge.
	checkVersion,
	checkKey,
	checkBody,
	checkOrigin,
	checkProtocolOffer,
	checkExtensionOffer,
}

// CheckRequest checks r, a client's opening handshake request over
// HTTP/1.1, against the rules of §4.2.1 and the server's policy p, in order,
// and returns the first failed Finding, or a zero Finding (Pass) when every
// rule holds. o receives what the request offers; it should be empty.
//
// CheckRequest reads r's method, protocol version, request target, Host,
// content length, transfer encoding and the header fields of RequestFields.
func CheckRequest(r *http.Request, p *Policy, o *Offer) Finding {
	return firstFailure(upgradeRequestRules[:], requestCheck{r, *p, o})
}

// ExplainRequest checks r as CheckRequest does, but goes on after a failure
// and returns every finding, in order. o receives what the request offers,
// as far as it is valid.
func ExplainRequest(r *http.Request, p *Policy, o *Offer) []Finding {
	return explain(upgradeRequestRules[:], requestCheck{r, *p, o})
}

// checkHTTP: §4.2.1 item 1, "An HTTP/1.1 or higher GET request". HTTP/2
// and HTTP/3 have no Upgrade mechanism: they bootstrap WebSockets with
// extended CONNECT (RFC 8441, RFC 9220), whose rules CheckStreamRequest
// applies; an Upgrade request that claims a later version is refused.
func checkHTTP(c requestCheck) Finding {
	r := c.r
	switch {
	case r.ProtoMajor >= 2:
		return fail(ruleHTTP, r.Proto, http.StatusHTTPVersionNotSupported,
			fmt.Sprintf("%s request; the Upgrade handshake needs HTTP/1.1 (RFC 6455 §4.2.1 item 1), and a WebSocket over HTTP/2 or HTTP/3 an extended CONNECT to a server of those (RFC 8441, RFC 9220)", header.Quote(r.Proto)))
	case !r.ProtoAtLeast(1, 1):
		return fail(ruleHTTP, r.Proto, http.StatusBadRequest,
			fmt.Sprintf("%s request; the handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1 item 1)", header.Quote(r.Proto)))
	}
	return pass(ruleHTTP, r.Proto)
}

// checkMethod: §4.2.1 item 1, a GET request.
func checkMethod(c requestCheck) Finding {
	if c.r.Method != http.MethodGet {
		f := fail(ruleMethod, c.r.Method, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s is not GET (RFC 6455 §4.2.1 item 1)", header.Quote(c.r.Method)))
		f.Want = http.MethodGet
		return f
	}
	return pass(ruleMethod, c.r.Method)
}

// checkTarget: §4.2.1 item 1 and §3, the request target is the resource
// name ("/" path [ "?" query ]), or an absolute URI of the server, as a
// proxy would send (RFC 9112 §3.2.2). A request that net/http has already
// routed without a target (one built in a test, say) has nothing to check.
func checkTarget(c requestCheck) Finding {
	t := c.r.RequestURI
	if t == "" || t[0] == '/' {
		return pass(ruleTarget, t)
	}
	if scheme, _, ok := strings.Cut(t, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "ws", "wss":
			return pass(ruleTarget, t)
		}
	}
	return fail(ruleTarget, t, http.StatusBadRequest,
		fmt.Sprintf("request target %s is neither a path nor an absolute http, https, ws or wss URI (RFC 6455 §4.2.1 item 1, §3)", header.Quote(t)))
}

// checkHost: §4.2.1 item 2, and the server's list of its names.
func checkHost(c requestCheck) Finding {
	return checkHostField(c, ruleHost, "missing Host header (RFC 6455 §4.2.1 item 2)")
}

// checkHostField checks the request's Host (or :authority, which net/http
// and quic-go put in the same place): there must be one, and one of the
// server's names when it lists them. rule and missing are those of the
// bootstrapping method.
func checkHostField(c requestCheck, rule Rule, missing string) Finding {
	host := c.r.Host
	if host == "" {
		return fail(rule, "", http.StatusBadRequest, missing)
	}
	if len(c.p.Hosts) > 0 {
		return matchHost(host, c.p.Hosts)
	}
	return pass(rule, host)
}

// checkUpgrade: §4.2.1 item 3, an Upgrade field that includes "websocket",
// compared case-insensitively.
func checkUpgrade(c requestCheck) Finding {
	return checkTokenField(ruleUpgrade, c.r.Header[FieldUpgrade], "websocket", http.StatusBadRequest)
}

// checkConnection: §4.2.1 item 4, a Connection field that includes
// "Upgrade", compared case-insensitively.
func checkConnection(c requestCheck) Finding {
	return checkTokenField(ruleConnection, c.r.Header[FieldConnection], "Upgrade", http.StatusBadRequest)
}

// checkTokenField checks that v, the values of the field rule is about,
// include token, compared case-insensitively; a server refuses a request
// that breaks it with status.
func checkTokenField(rule Rule, v []string, token string, status int) Finding {
	switch {
	case header.HasToken(v, token):
		return pass(rule, joined(v))
	case len(v) == 0:
		return fail(rule, "", status, fmt.Sprintf("missing %s header (%s)", rule.Subject, rule.Section))
	}
	return fail(rule, joined(v), status,
		fmt.Sprintf("%s header %s does not include %q (%s)", rule.Subject, header.Quote(v...), token, rule.Section))
}

// checkVersion: §4.2.1 item 6, Sec-WebSocket-Version 13; another is
// answered with 426 and the version the server speaks (§4.4).
func checkVersion(c requestCheck) Finding {
	return CheckVersion(c.r.Header[FieldVersion])
}

// CheckVersion checks the values of a request's Sec-WebSocket-Version
// field: once, "13" (§4.2.1 item 6, §4.4). RFC 8441 §5 keeps the rule.
func CheckVersion(v []string) Finding {
	switch {
	case len(v) == 1 && v[0] == Version:
		return pass(ruleVersion, v[0])
	case len(v) == 0:
		return fail(ruleVersion, "", http.StatusBadRequest, "missing Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)")
	}
	f := fail(ruleVersion, joined(v), http.StatusUpgradeRequired,
		fmt.Sprintf("unsupported Sec-WebSocket-Version %s; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)", header.Quote(v...)))
	f.Want = Version
	return f
}

// checkKey: §4.2.1 item 5, one Sec-WebSocket-Key, the base64 of 16 bytes.
func checkKey(c requestCheck) Finding {
	v := c.r.Header[FieldKey]
	switch {
	case len(v) == 0:
		return fail(ruleKey, "", http.StatusBadRequest, "missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)")
	case len(v) > 1:
		return fail(ruleKey, joined(v), http.StatusBadRequest,
			fmt.Sprintf("Sec-WebSocket-Key header sent %d times; it must be sent once (RFC 6455 §4.2.1 item 5, §11.3.1)", len(v)))
	}
	c.o.Key = v[0] // even if invalid: a client checks the response against what it sent
	if !ValidKey(v[0]) {
		return fail(ruleKey, v[0], http.StatusBadRequest,
			fmt.Sprintf("Sec-WebSocket-Key %s is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)", header.Quote(v...)))
	}
	return pass(ruleKey, v[0])
}

// checkBody: a body would sit between the request and the first frame and
// be read as frames; a handshake request has none (§4.1).
func checkBody(c requestCheck) Finding {
	if c.r.ContentLength != 0 || len(c.r.TransferEncoding) > 0 {
		return fail(ruleBody, "", http.StatusBadRequest, "handshake request has a body; frames must follow the request directly (RFC 6455 §4.1)")
	}
	return pass(ruleBody, "")
}

// checkOrigin applies the server's Origin policy (§10.2).
func checkOrigin(c requestCheck) Finding {
	return CheckOrigin(c.r.Header[FieldOrigin], c.r.Host, &c.p)
}

// checkProtocolOffer: §4.1 item 10, §4.2.1 item 8: Sec-WebSocket-Protocol is
// a list of distinct tokens (1#token), the client's preference order; lines
// sent separately form one list.
func checkProtocolOffer(c requestCheck) Finding {
	return CheckProtocolOffer(c.r.Header[FieldProtocol], c.o)
}

// CheckProtocolOffer checks the values of a request's Sec-WebSocket-Protocol
// field and puts the subprotocols offered in o.Protocols (§4.1 item 10,
// §4.2.1 item 8; RFC 8441 §5 keeps the rule).
func CheckProtocolOffer(v []string, o *Offer) Finding {
	if len(v) == 0 {
		return pass(ruleProtocolOffer, "")
	}
	offered, err := header.AppendTokens(o.protocols[:0], v)
	if err != nil {
		return fail(ruleProtocolOffer, joined(v), http.StatusBadRequest,
			fmt.Sprintf("malformed Sec-WebSocket-Protocol header: %v (RFC 6455 §4.1 item 10)", err))
	}
	for i, p := range offered {
		if slices.Contains(offered[:i], p) {
			return fail(ruleProtocolOffer, joined(v), http.StatusBadRequest,
				fmt.Sprintf("Sec-WebSocket-Protocol %s offers %q twice; subprotocols must be unique (RFC 6455 §4.1 item 10)", header.Quote(v...), p))
		}
	}
	o.Protocols = offered
	return pass(ruleProtocolOffer, joined(v))
}

// checkExtensionOffer: §4.2.1 item 9, §9.1: a malformed offer must fail the
// connection.
func checkExtensionOffer(c requestCheck) Finding {
	return CheckExtensionOffer(c.r.Header[FieldExtensions], c.o)
}

// CheckExtensionOffer checks the values of a request's
// Sec-WebSocket-Extensions field against the grammar of §9.1 and puts the
// extensions offered in o.Extensions: all of them, or those before a
// mistake (§4.2.1 item 9; RFC 8441 §5 keeps the rule).
func CheckExtensionOffer(v []string, o *Offer) Finding {
	if len(v) == 0 {
		return pass(ruleExtensionOffer, "")
	}
	exts, err := header.AppendExtensions(o.Extensions[:0], v)
	o.Extensions = exts
	if err != nil {
		return fail(ruleExtensionOffer, joined(v), http.StatusBadRequest,
			fmt.Sprintf("malformed Sec-WebSocket-Extensions header: %v (RFC 6455 §9.1)", err))
	}
	return pass(ruleExtensionOffer, joined(v))
}
