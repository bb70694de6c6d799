package handshake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/header"
)

// An Answer is what a server's valid response agreed to.
type Answer struct {
	Protocol   string             // the subprotocol chosen, or ""
	Extensions []header.Extension // the extensions in use, in the order of the response
}

// The rules of a response (§4.1: "the client MUST validate the server's
// response as follows", items 1 to 6).
var (
	ruleStatus            = Rule{"status", "RFC 6455 §4.1, response rule 1"}
	ruleResponseHTTP      = Rule{"HTTP version", "RFC 6455 §4.1"}
	ruleResponseUpgrade   = Rule{"Upgrade", "RFC 6455 §4.1, response rule 2"}
	ruleResponseConn      = Rule{"Connection", "RFC 6455 §4.1, response rule 3"}
	ruleAccept            = Rule{"Sec-WebSocket-Accept", "RFC 6455 §4.1, response rule 4"}
	ruleExtensionAnswer   = Rule{"Sec-WebSocket-Extensions", "RFC 6455 §4.1, response rule 5"}
	ruleProtocolAnswer    = Rule{"Sec-WebSocket-Protocol", "RFC 6455 §4.1, response rule 6"}
	ruleResponseNoContent = Rule{"Content-Length", "RFC 9110 §8.6"}
)

// responseCheck is one response being checked. The rules take it by value,
// as requestCheck.
type responseCheck struct {
	resp *http.Response
	o    *Offer
	a    *Answer
}

// upgradeResponseRules lists the rules of a response to an HTTP/1.1 Upgrade
// request, in order. When the status is not 101, the others do not apply.
var upgradeResponseRules = [...]func(responseCheck) Finding{
	checkStatus,
	checkResponseHTTP,
	checkResponseUpgrade,
	checkResponseConnection,
	checkAccept,
	checkExtensionAnswer,
	checkProtocolAnswer,
	checkNoContent,
}

// CheckResponse checks resp, a server's response to a client's opening
// handshake request over HTTP/1.1 that offered o, against the rules of §4.1
// in order, and returns the first failed Finding, or a zero Finding (Pass)
// when every rule holds. a receives what the response agreed to.
func CheckResponse(resp *http.Response, o *Offer, a *Answer) Finding {
	return firstFailure(upgradeResponseRules[:], responseCheck{resp, o, a})
}

// ExplainResponse checks resp as CheckResponse does, but goes on after a
// failure (except a status other than 101, after which no rule applies) and
// returns every finding, in order.
func ExplainResponse(resp *http.Response, o *Offer) []Finding {
	return explain(upgradeResponseRules[:], responseCheck{resp, o, new(Answer)})
}

// checkStatus: response rule 1, 101 Switching Protocols; any other status
// is handled per HTTP, and ends the WebSocket handshake.
func checkStatus(c responseCheck) Finding {
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(ruleStatus, c.resp.Status, 0,
			fmt.Sprintf("server answered %s, want 101 Switching Protocols (RFC 6455 §4.1, response rule 1)", header.Quote(c.resp.Status)))
	}
	return pass(ruleStatus, c.resp.Status)
}

// checkResponseHTTP: the handshake is HTTP/1.1 (§4.1).
func checkResponseHTTP(c responseCheck) Finding {
	if !c.resp.ProtoAtLeast(1, 1) {
		return fail(ruleResponseHTTP, c.resp.Proto, 0,
			fmt.Sprintf("101 response in %s; the handshake needs HTTP/1.1 (RFC 6455 §4.1)", header.Quote(c.resp.Proto)))
	}
	return pass(ruleResponseHTTP, c.resp.Proto)
}

// checkResponseUpgrade: response rule 2, Upgrade is "websocket",
// case-insensitively, and nothing else.
func checkResponseUpgrade(c responseCheck) Finding {
	v := c.resp.Header[FieldUpgrade]
	if len(v) == 0 {
		return fail(ruleResponseUpgrade, "", 0, `missing Upgrade header; want "websocket" (RFC 6455 §4.1, response rule 2)`)
	}
	var buf [4]string
	tokens, err := header.AppendTokens(buf[:0], v)
	if err != nil || slices.ContainsFunc(tokens, func(t string) bool { return !strings.EqualFold(t, "websocket") }) {
		return fail(ruleResponseUpgrade, joined(v), 0,
			fmt.Sprintf(`Upgrade header %s is not "websocket" (RFC 6455 §4.1, response rule 2)`, header.Quote(v...)))
	}
	return pass(ruleResponseUpgrade, joined(v))
}

// checkResponseConnection: response rule 3, Connection includes the token
// "Upgrade", case-insensitively.
func checkResponseConnection(c responseCheck) Finding {
	return checkTokenField(ruleResponseConn, c.resp.Header[FieldConnection], "Upgrade", 0)
}

// checkAccept: response rule 4, one Sec-WebSocket-Accept, the value the key
// calls for (§4.2.2 step 5.4), leading and trailing whitespace aside.
func checkAccept(c responseCheck) Finding {
	v := c.resp.Header[FieldAccept]
	want := Accept(c.o.Key)
	switch {
	case len(v) == 0:
		f := fail(ruleAccept, "", 0, fmt.Sprintf("missing Sec-WebSocket-Accept header; want %q (RFC 6455 §4.1, response rule 4)", want))
		f.Want = want
		return f
	case len(v) > 1:
		f := fail(ruleAccept, joined(v), 0,
			fmt.Sprintf("Sec-WebSocket-Accept header sent %d times; want it once (RFC 6455 §4.1, response rule 4; §11.3.3)", len(v)))
		f.Want = want
		return f
	case strings.TrimSpace(v[0]) != want:
		f := fail(ruleAccept, v[0], 0,
			fmt.Sprintf("Sec-WebSocket-Accept %s is wrong; want %q (RFC 6455 §4.1, response rule 4)", header.Quote(v[0]), want))
		f.Want = want
		return f
	}
	return Finding{Rule: ruleAccept, Seen: v[0], Want: want}
}

// checkExtensionAnswer: response rule 5, every extension in use was
// offered, once, and (for permessage-deflate, RFC 7692 §7.1) with
// parameters that answer an offer of it.
func checkExtensionAnswer(c responseCheck) Finding {
	v := c.resp.Header[FieldExtensions]
	exts, err := header.ParseExtensions(v)
	if err != nil {
		return fail(ruleExtensionAnswer, joined(v), 0,
			fmt.Sprintf("malformed Sec-WebSocket-Extensions header: %v (RFC 6455 §9.1)", err))
	}
	// Names compare exactly, as registered (§11.4).
	for i, e := range exts {
		if !slices.ContainsFunc(c.o.Extensions, func(o header.Extension) bool { return o.Name == e.Name }) {
			return fail(ruleExtensionAnswer, joined(v), 0,
				fmt.Sprintf("server accepted extension %q, which was not offered (RFC 6455 §4.1, response rule 5)", e.Name))
		}
		// Each extension has one place in the chain; a second acceptance has
		// no meaning.
		if slices.ContainsFunc(exts[:i], func(o header.Extension) bool { return o.Name == e.Name }) {
			return fail(ruleExtensionAnswer, joined(v), 0,
				fmt.Sprintf("server accepted extension %q twice (RFC 6455 §9.1)", e.Name))
		}
		if e.Name == deflate.ExtensionName {
			if err := answersDeflate(e, c.o.Extensions); err != nil {
				return fail(ruleExtensionAnswer, joined(v), 0, fmt.Sprintf("extension %s: %v (RFC 7692 §7.1)", e, err))
			}
		}
	}
	c.a.Extensions = exts
	return pass(ruleExtensionAnswer, joined(v))
}

// answersDeflate returns nil if resp answers one of the permessage-deflate
// offers, or why it answers none.
func answersDeflate(resp header.Extension, offers []header.Extension) error {
	var err error
	for _, o := range offers {
		if o.Name != resp.Name {
			continue
		}
		if err = deflate.CheckResponse(resp, o); err == nil {
			return nil
		}
	}
	return err
}

// checkProtocolAnswer: response rule 6, no subprotocol, or one the client
// offered, compared exactly (§4.2.2 /subprotocol/: the server selects one).
func checkProtocolAnswer(c responseCheck) Finding {
	v := c.resp.Header[FieldProtocol]
	if len(v) == 0 {
		return pass(ruleProtocolAnswer, "")
	}
	var buf [2]string
	tokens, err := header.AppendTokens(buf[:0], v)
	switch {
	case err != nil || len(tokens) != 1:
		return fail(ruleProtocolAnswer, joined(v), 0,
			fmt.Sprintf("Sec-WebSocket-Protocol %s is not one subprotocol (RFC 6455 §4.1, response rule 6; §4.2.2)", header.Quote(v...)))
	case len(c.o.Protocols) == 0:
		return fail(ruleProtocolAnswer, joined(v), 0,
			fmt.Sprintf("server chose subprotocol %q, which was not offered: the request offered none (RFC 6455 §4.1, response rule 6)", tokens[0]))
	case !slices.Contains(c.o.Protocols, tokens[0]):
		return fail(ruleProtocolAnswer, joined(v), 0,
			fmt.Sprintf("server chose subprotocol %q, which was not offered (RFC 6455 §4.1, response rule 6)", tokens[0]))
	}
	c.a.Protocol = tokens[0]
	return pass(ruleProtocolAnswer, tokens[0])
}

// checkNoContent: a server must not send Content-Length or
// Transfer-Encoding in a 1xx response (RFC 9110 §8.6, RFC 9112 §6.1); frames
// follow the head directly. A client can go on: it warns.
func checkNoContent(c responseCheck) Finding {
	h := c.resp.Header
	if len(h["Content-Length"]) > 0 || len(h["Transfer-Encoding"]) > 0 {
		return warn(ruleResponseNoContent, "", "a 101 response carries Content-Length or Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1)")
	}
	return pass(ruleResponseNoContent, "")
}
