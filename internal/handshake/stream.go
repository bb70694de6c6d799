package handshake

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// The rules of the extended CONNECT that opens a WebSocket on a stream of an
// HTTP/2 connection (RFC 8441 §4-§5) or an HTTP/3 one (RFC 9220 §3). They
// replace the Upgrade mechanism of HTTP/1.1: no Upgrade, Connection,
// Sec-WebSocket-Key or Sec-WebSocket-Accept, a CONNECT with the :protocol
// pseudo-header, and a 2xx answer. Sec-WebSocket-Version,
// Sec-WebSocket-Protocol, Sec-WebSocket-Extensions and Origin keep their
// meaning (RFC 8441 §5), and are checked by the same rules as over HTTP/1.1.

// FieldPseudoProtocol is the pseudo-header of an extended CONNECT that names
// the protocol of the stream (RFC 8441 §4), as net/http's and x/net's HTTP/2
// code keep it in an http.Header. quic-go's HTTP/3 code keeps it in
// http.Request.Proto instead (see StreamProtocol).
const FieldPseudoProtocol = ":protocol"

// The rules of an extended CONNECT request and of its response.
var (
	ruleStreamHTTP     = Rule{"HTTP version", "RFC 8441 §4, RFC 9220 §3"}
	ruleStreamMethod   = Rule{"method", "RFC 8441 §4"}
	ruleStreamProtocol = Rule{":protocol", "RFC 8441 §4"}
	ruleAuthority      = Rule{":authority", "RFC 8441 §4"}
	ruleKeyUnused      = Rule{"Sec-WebSocket-Key", "RFC 8441 §5"}
	ruleStreamStatus   = Rule{"status", "RFC 8441 §5"}
	ruleAcceptUnused   = Rule{"Sec-WebSocket-Accept", "RFC 8441 §5"}
)

// streamRequestRules lists the rules of an extended CONNECT request, in the
// order a server applies them: the first that fails is the reason of the
// refusal.
var streamRequestRules = [...]func(requestCheck) Finding{
	checkStreamHTTP,
	checkStreamMethod,
	checkStreamProtocol,
	checkAuthority,
	checkStreamVersion,
	checkKeyUnused,
	checkOrigin,
	checkProtocolOffer,
	checkExtensionOffer,
}

// CheckStreamRequest checks r, an extended CONNECT request received over
// HTTP/2 or HTTP/3, against the rules of RFC 8441 §4-§5 (RFC 9220 §3) and
// the server's policy p, in order, and returns the first failed Finding, or
// a zero Finding (Pass) when every rule holds. o receives what the request
// offers; it should be empty. Its refusals are those of CheckRequest, but
// for a method other than CONNECT (405 wanting CONNECT) and a version other
// than 13 (400: the 426 of HTTP/1.1 must carry Upgrade, which HTTP/2 and
// HTTP/3 forbid, RFC 9113 §8.2.2, RFC 9114 §4.2).
func CheckStreamRequest(r *http.Request, p *Policy, o *Offer) Finding {
	return firstFailure(streamRequestRules[:], requestCheck{r, *p, o})
}

// ExplainStreamRequest checks r as CheckStreamRequest does, but goes on after
// a failure and returns every finding, in order.
func ExplainStreamRequest(r *http.Request, p *Policy, o *Offer) []Finding {
	return explain(streamRequestRules[:], requestCheck{r, *p, o})
}

// StreamProtocol returns the :protocol of an extended CONNECT request (RFC
// 8441 §4), or "": net/http keeps it in r.Header, quic-go's HTTP/3 server in
// r.Proto, in place of the version.
func StreamProtocol(r *http.Request) string {
	if v := r.Header[FieldPseudoProtocol]; len(v) > 0 {
		return v[0]
	}
	if r.ProtoMajor == 3 && !strings.HasPrefix(r.Proto, "HTTP/") {
		return r.Proto
	}
	return ""
}

// StreamVersion returns the HTTP version of r, which quic-go replaces with
// the :protocol of an extended CONNECT.
func StreamVersion(r *http.Request) string {
	if r.ProtoMajor == 3 {
		return "HTTP/3"
	}
	return r.Proto
}

// checkStreamHTTP: extended CONNECT is a mechanism of HTTP/2 (RFC 8441 §4)
// and HTTP/3 (RFC 9220 §3); over HTTP/1.1 a WebSocket is an Upgrade.
func checkStreamHTTP(c requestCheck) Finding {
	if c.r.ProtoMajor < 2 {
		return fail(ruleStreamHTTP, c.r.Proto, http.StatusBadRequest,
			fmt.Sprintf("extended CONNECT over %s; it needs HTTP/2 or HTTP/3, and HTTP/1.1 upgrades with GET (RFC 8441 §4, RFC 6455 §4.2.1 item 1)", header.Quote(c.r.Proto)))
	}
	return pass(ruleStreamHTTP, StreamVersion(c.r))
}

// checkStreamMethod: RFC 8441 §4, a CONNECT request; anything else is
// refused with 405 and "Allow: CONNECT" (RFC 9110 §15.5.6).
func checkStreamMethod(c requestCheck) Finding {
	if c.r.Method != http.MethodConnect {
		f := fail(ruleStreamMethod, c.r.Method, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s; a WebSocket over %s is opened with an extended CONNECT (RFC 8441 §4)", header.Quote(c.r.Method), header.Quote(StreamVersion(c.r))))
		f.Want = http.MethodConnect
		return f
	}
	return pass(ruleStreamMethod, c.r.Method)
}

// checkStreamProtocol: RFC 8441 §4, :protocol names the protocol of the
// stream, "websocket" (the Upgrade token of RFC 6455 §11.2, compared
// case-insensitively as there).
func checkStreamProtocol(c requestCheck) Finding {
	switch p := StreamProtocol(c.r); {
	case p == "":
		return fail(ruleStreamProtocol, "", http.StatusBadRequest,
			"CONNECT without :protocol; a WebSocket needs :protocol websocket (RFC 8441 §4)")
	case !strings.EqualFold(p, "websocket"):
		return fail(ruleStreamProtocol, p, http.StatusBadRequest,
			fmt.Sprintf(":protocol %s; want websocket (RFC 8441 §4)", header.Quote(p)))
	default:
		return pass(ruleStreamProtocol, p)
	}
}

// checkAuthority: RFC 8441 §4, an extended CONNECT carries :authority (the
// request's Host), and the server's list of its names applies to it.
func checkAuthority(c requestCheck) Finding {
	return checkHostField(c, ruleAuthority, "extended CONNECT without :authority (RFC 8441 §4)")
}

// checkStreamVersion: RFC 8441 §5 keeps Sec-WebSocket-Version 13 (§4.2.1
// item 6), but a version the server does not speak is refused with 400: the
// 426 of §4.4 must carry Upgrade (RFC 9110 §15.5.22), which HTTP/2 and
// HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2). Sec-WebSocket-Version still
// names the version the server speaks.
func checkStreamVersion(c requestCheck) Finding {
	f := CheckVersion(c.r.Header[FieldVersion])
	if f.Status == http.StatusUpgradeRequired {
		f.Status = http.StatusBadRequest
	}
	return f
}

// checkKeyUnused: RFC 8441 §5, :protocol took over the role of
// Sec-WebSocket-Key; a key sent anyway is ignored.
func checkKeyUnused(c requestCheck) Finding {
	return checkUnused(ruleKeyUnused, c.r.Header[FieldKey])
}

// checkUnused: a field of the Upgrade mechanism that extended CONNECT does not
// use (RFC 8441 §5) is worth an Info when sent, not a failure.
func checkUnused(rule Rule, v []string) Finding {
	if len(v) == 0 {
		return pass(rule, "")
	}
	f := info(rule, joined(v))
	f.Problem = rule.Subject + " is not used over extended CONNECT and is ignored (" + rule.Section + ")"
	return f
}

// streamResponseRules lists the rules of a response to an extended CONNECT,
// in order. When the status is not 2xx, the others do not apply.
var streamResponseRules = [...]func(responseCheck) Finding{
	checkStreamStatus,
	checkExtensionAnswer,
	checkProtocolAnswer,
	checkAcceptUnused,
}

// CheckStreamResponse checks resp, a server's response to an extended
// CONNECT that offered o, against RFC 8441 §5 (RFC 9220 §3): a 2xx status,
// and only a subprotocol and extensions that were offered (RFC 6455 §4.1,
// response rules 5 and 6). It returns the first failed Finding, or a zero
// Finding (Pass); a receives what the response agreed to.
func CheckStreamResponse(resp *http.Response, o *Offer, a *Answer) Finding {
	return firstFailure(streamResponseRules[:], responseCheck{resp, o, a})
}

// ExplainStreamResponse checks resp as CheckStreamResponse does, but goes on
// after a failure (except a status other than 2xx) and returns every
// finding, in order.
func ExplainStreamResponse(resp *http.Response, o *Offer) []Finding {
	return explain(streamResponseRules[:], responseCheck{resp, o, new(Answer)})
}

// checkStreamStatus: RFC 8441 §5, a 2xx status accepts the WebSocket (a
// CONNECT's tunnel is open, RFC 9110 §9.3.6); any other refuses it.
func checkStreamStatus(c responseCheck) Finding {
	if s := c.resp.StatusCode; s < 200 || s > 299 {
		return fail(ruleStreamStatus, c.resp.Status, 0,
			fmt.Sprintf("server answered %s, want 200 (RFC 8441 §5)", header.Quote(c.resp.Status)))
	}
	return pass(ruleStreamStatus, c.resp.Status)
}

// checkAcceptUnused: RFC 8441 §5, no Sec-WebSocket-Accept; one sent anyway
// proves nothing and is ignored.
func checkAcceptUnused(c responseCheck) Finding {
	return checkUnused(ruleAcceptUnused, c.resp.Header[FieldAccept])
}
