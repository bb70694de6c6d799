// Package handshake holds the rules of the WebSocket opening handshake
// (RFC 6455 §4, with the Origin policy of §10.2 and the permessage-deflate
// answer of RFC 7692 §7.1) as checks that return findings. Accept,
// AcceptConn and Dial turn the first failed finding into a refusal or an
// error; wsx doctor prints every finding.
//
// Each rule is one function that checks one part of a request or a
// response (the method, a header field) and returns a Finding. An entry point
// runs a list of them in order: the list is what a bootstrapping method
// requires. CheckRequest, ExplainRequest, CheckResponse and ExplainResponse
// run those of the HTTP/1.1 Upgrade of RFC 6455; CheckStreamRequest,
// ExplainStreamRequest, CheckStreamResponse and ExplainStreamResponse those
// of the extended CONNECT of RFC 8441 (HTTP/2) and RFC 9220 (HTTP/3): no
// Upgrade, Connection, Sec-WebSocket-Key or Accept, a method, :protocol and
// status rule of their own, and the same rules as HTTP/1.1's for
// Sec-WebSocket-Version, -Protocol and -Extensions and the Host and Origin
// policies.
//
// The package does no I/O and allocates nothing for a check that passes.
// Its messages carry no "wsx: " prefix: the public API adds it.
package handshake

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// Verdict is what a check found.
type Verdict uint8

const (
	// Pass: the rule holds.
	Pass Verdict = iota
	// Info: nothing to judge, only something worth saying (a browser's
	// Origin, say).
	Info
	// Warn: the rule is broken, but a peer may go on (a 101 response with
	// Content-Length, RFC 9110 §8.6).
	Warn
	// Fail: the rule is broken; the handshake must not complete.
	Fail
)

// A Rule is a requirement of the opening handshake: what it is about and
// where it is written.
type Rule struct {
	// Subject is what the rule is about: a header field as spelled in the
	// RFC ("Sec-WebSocket-Key") or a part of the message ("method").
	Subject string
	// Section is where the rule is written, such as "RFC 6455 §4.2.1 item 5".
	Section string
}

// A Finding is the result of checking one rule on one request or response.
type Finding struct {
	Rule    Rule
	Verdict Verdict
	// Seen is what the message held for the rule's subject: the header
	// field's values as received, joined with ", " ("" when the field was
	// absent), or the method, target or version.
	Seen string
	// Want is what a valid handshake holds there, when there is one answer
	// (the Sec-WebSocket-Accept value a key calls for) and a refusal names
	// it (the method, the version).
	Want string
	// Problem says in one line, naming the rule's section, what is wrong:
	// set for Fail and Warn, and for an Info that says more than what was
	// seen (a field sent that is ignored).
	Problem string
	// Status is the HTTP status a server refuses a request with when this
	// rule fails (0 for a response rule).
	Status int
}

// Failed reports whether f is a Fail.
func (f *Finding) Failed() bool { return f.Verdict == Fail }

// String returns f's Problem, or for a rule that holds a line such as
// "Sec-WebSocket-Version: 13 (RFC 6455 §4.2.1 item 6)".
func (f *Finding) String() string {
	if f.Problem != "" {
		return f.Problem
	}
	seen := f.Seen
	if seen == "" {
		seen = "none"
	}
	return f.Rule.Subject + ": " + seen + " (" + f.Rule.Section + ")"
}

// RefusalFields calls set with the header fields that a server's refusal
// of a request for the failed finding f must carry besides its status: Allow
// naming the method the rule wants, on a 405 (RFC 9110 §15.5.6);
// Sec-WebSocket-Version naming the version the server speaks, for a version
// it does not (§4.4), with Upgrade and Connection when that is a 426
// Upgrade Required (RFC 9110 §15.5.22, §7.8).
func (f *Finding) RefusalFields(set func(name, value string)) {
	switch {
	case f.Status == http.StatusMethodNotAllowed && f.Want != "":
		set("Allow", f.Want)
	case f.Rule == ruleVersion && f.Want != "":
		set(FieldVersion, f.Want)
		if f.Status == http.StatusUpgradeRequired {
			set(FieldUpgrade, "websocket")
			set(FieldConnection, "Upgrade")
		}
	}
}

// pass, info, fail and warn build the findings of rule.
func pass(r Rule, seen string) Finding { return Finding{Rule: r, Seen: seen} }

func info(r Rule, seen string) Finding { return Finding{Rule: r, Verdict: Info, Seen: seen} }

func fail(r Rule, seen string, status int, problem string) Finding {
	return Finding{Rule: r, Verdict: Fail, Seen: seen, Status: status, Problem: problem}
}

func warn(r Rule, seen string, problem string) Finding {
	return Finding{Rule: r, Verdict: Warn, Seen: seen, Problem: problem}
}

// joined returns a header field's values as one list, allocating only for a
// field sent on several lines.
func joined(v []string) string {
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	return strings.Join(v, ", ")
}

// firstFailure runs rules on c in order and returns the first failed
// Finding, or a zero Finding (Pass).
func firstFailure[C any](rules []func(C) Finding, c C) Finding {
	for _, rule := range rules {
		if f := rule(c); f.Failed() {
			return f
		}
	}
	return Finding{}
}

// explain runs rules on c in order and returns every finding, up to a failed
// one that ends the handshake (a response's status other than 101, or 2xx
// over a stream), after which no other rule applies.
func explain[C any](rules []func(C) Finding, c C) []Finding {
	out := make([]Finding, 0, len(rules))
	for _, rule := range rules {
		f := rule(c)
		out = append(out, f)
		if f.Failed() && f.Rule.Subject == ruleStatus.Subject {
			break
		}
	}
	return out
}

// Version is the only version of the protocol, the value of
// Sec-WebSocket-Version (§4.1 item 9, §11.6).
const Version = "13"

// Header fields of the opening handshake (§4.1, §4.2, §11.3), spelled as the
// keys of an http.Header (textproto.CanonicalMIMEHeaderKey), so that map
// lookups need no conversion. Header names are case-insensitive on the wire.
const (
	FieldUpgrade    = "Upgrade"
	FieldConnection = "Connection"
	FieldOrigin     = "Origin"
	FieldKey        = "Sec-Websocket-Key"
	FieldAccept     = "Sec-Websocket-Accept"
	FieldVersion    = "Sec-Websocket-Version"
	FieldProtocol   = "Sec-Websocket-Protocol"
	FieldExtensions = "Sec-Websocket-Extensions"
)

// RequestFields are the header fields the request rules read, the ones a
// server's parser must keep.
var RequestFields = []string{FieldUpgrade, FieldConnection, FieldOrigin, FieldKey, FieldVersion, FieldProtocol, FieldExtensions}

// IsOwnField reports whether name (in any case) is a header field the
// opening handshake sets itself on either side, so that extra fields
// supplied by an application must not: Upgrade, Connection and every
// Sec-WebSocket-* field (§4.1, §4.2.2, §11.3).
func IsOwnField(name string) bool {
	const prefix = "Sec-WebSocket-"
	return strings.EqualFold(name, FieldUpgrade) || strings.EqualFold(name, FieldConnection) ||
		len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}

// GUID is what a server appends to the client's key before hashing it into
// Sec-WebSocket-Accept (§1.3, §4.2.2 step 5.4).
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// KeyLen is the length of a valid Sec-WebSocket-Key: the padded base64 of
// 16 bytes (§4.1 item 7, §4.2.1 item 5).
const KeyLen = 24

// AppendAccept appends to dst the Sec-WebSocket-Accept value for key: the
// base64 of the SHA-1 of key followed by GUID (§4.2.2 step 5.4). The key is
// used as sent, without decoding it.
func AppendAccept(dst []byte, key string) []byte {
	var buf [KeyLen + len(GUID)]byte // enough for any valid key
	sum := sha1.Sum(append(append(buf[:0], key...), GUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// Accept returns the Sec-WebSocket-Accept value for key.
func Accept(key string) string {
	var buf [28]byte // base64 of a 20-byte SHA-1
	return string(AppendAccept(buf[:0], key))
}

// strictBase64 refuses encodings whose padding bits are not zero.
var strictBase64 = base64.StdEncoding.Strict()

// ValidKey reports whether key, a Sec-WebSocket-Key value, is the base64
// (RFC 4648 §4, padded) of exactly 16 bytes (§4.2.1 item 5). Non-canonical
// encodings, whose padding bits are not zero, are refused: no encoder
// produces them.
func ValidKey(key string) bool {
	if len(key) != KeyLen {
		return false
	}
	var b [18]byte // 24 base64 characters decode to at most 18 bytes
	n, err := strictBase64.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// An Offer is what a client's request offers: a server's answer is built
// from it, and a client checks the server's response against it.
type Offer struct {
	Key string // Sec-WebSocket-Key
	// Protocols are the subprotocols offered, most preferred first (§4.1
	// item 10).
	Protocols []string
	// Extensions are the extensions offered, most preferred first (§9.1).
	Extensions []header.Extension

	protocols [8]string // Protocols' storage for a short list
}

// Reset empties o for the next request, keeping its storage.
func (o *Offer) Reset() {
	exts := o.Extensions[:cap(o.Extensions)]
	for i := range exts {
		clear(exts[i].Params[:cap(exts[i].Params)])
		exts[i] = header.Extension{Params: exts[i].Params[:0]}
	}
	*o = Offer{Extensions: exts[:0]}
}
