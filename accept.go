//go:build !js

package wsx

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/header"
)

// AcceptOptions configure Accept and AcceptConn. A nil *AcceptOptions is the zero value:
// same-origin browsers and non-browser clients only, any Host, no subprotocol, no
// extra headers, default ConnOptions.
type AcceptOptions struct {
	// Subprotocols lists the application subprotocols the server speaks,
	// most preferred first (§1.9). Accept selects the first of them that the
	// client offered in Sec-WebSocket-Protocol, comparing exactly (names are
	// case-sensitive), and sends it back; when the client offered none of
	// them, the response has no Sec-WebSocket-Protocol header (§4.2.2 step 4
	// /subprotocol/) and Conn.Subprotocol returns "". The server decides
	// whether to go on without one.
	Subprotocols []string

	// OriginPatterns lists origins, besides the request's own host, whose
	// pages may connect; requests whose Origin matches nothing are refused
	// with 403 Forbidden (§10.2). A pattern matches the Origin's parsed host
	// and port, never its text:
	//
	//	example.com            that name, on the default port of the Origin's scheme
	//	*.example.com          any name below example.com (not example.com itself)
	//	localhost:3000         that port; localhost:* any port
	//	127.0.0.1, [::1]:*     an address (IPv6 in brackets), compared as an address
	//	10.0.0.0/8, [fd00::/8] any address in a prefix
	//	https://app.example.com  with a scheme: only Origins of that scheme
	//	null                   the opaque origin of sandboxed iframes and file: pages
	//
	// Names compare ASCII case-insensitively; "*" stands alone or as the
	// first label only, so that "127.*" is a mistake (use 127.0.0.0/8), not a
	// pattern that "http://127.evil.example" would match. Validate reports a
	// malformed pattern; Accept refuses every request with 500 Internal
	// Server Error while there is one.
	OriginPatterns []string

	// HostPatterns, when not empty, lists the names this server answers
	// for: a request whose Host matches none is refused with 421 Misdirected
	// Request (RFC 9110 §7.4, §15.5.20). It defeats DNS rebinding: a web
	// page can make the browser resolve the page's own name to this server's
	// address, and its requests then look same-origin, Host and Origin both
	// being the page's name. A server on a loopback or private address needs
	// the list, for example []string{"localhost:*", "127.0.0.0/8:*",
	// "[::1]:*"}. The patterns are those of OriginPatterns without a scheme;
	// one without a port matches a Host without one, or with port 80 or 443.
	HostPatterns []string

	// InsecureSkipOriginCheck accepts requests from every origin.
	//
	// Browsers let any web page open a WebSocket to any server and send the
	// user's cookies and HTTP authentication with it; only the Origin header
	// tells the server which site the script came from (§10.2). Turning the
	// check off lets every site on the web connect as the logged-in user
	// (cross-site WebSocket hijacking). Prefer OriginPatterns; use this only
	// for endpoints that rely on no ambient credentials, or in tests.
	InsecureSkipOriginCheck bool

	// ResponseHeader holds extra header fields for the 101 response, such
	// as Set-Cookie. It must not hold the fields the handshake sets itself
	// (Upgrade, Connection, Sec-WebSocket-*) nor Content-Length or
	// Transfer-Encoding; Accept refuses such a header, or an invalid field
	// name or value, with 500 Internal Server Error. Fields set on the
	// http.ResponseWriter's Header are not sent with the 101 response, only
	// with a refusal.
	ResponseHeader http.Header

	// Compression, when not nil, accepts the client's permessage-deflate offer (RFC 7692)
	// with these settings. Browsers always offer it.
	Compression *CompressionOptions

	// Group, when not nil, receives the connection, so that Group.Shutdown can close it. A
	// group that is shutting down makes Accept refuse with 503 Service Unavailable.
	Group *Group

	ConnOptions
}

// Validate reports the first mistake in o that would make Accept and
// AcceptConn refuse requests with 500 Internal Server Error: a malformed
// entry of OriginPatterns or HostPatterns, or a field of ResponseHeader that
// a 101 response must not carry. Call it when the server starts, so that a
// mistake shows before any client does.
func (o *AcceptOptions) Validate() error {
	if err := o.validatePatterns(); err != nil {
		return err
	}
	return checkResponseHeader(o.ResponseHeader)
}

// checkResponseHeader reports the first field of h, in sorted order, that
// checkResponseField refuses.
func checkResponseHeader(h http.Header) error {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if err := checkResponseField(name, h[name]); err != nil {
			return err
		}
	}
	return nil
}

// validatePatterns is the part of Validate that Accept checks on every
// request: a malformed pattern means no request can be judged.
func (o *AcceptOptions) validatePatterns() error {
	if err := handshake.ValidateOriginPatterns(o.OriginPatterns); err != nil {
		return fmt.Errorf("wsx: AcceptOptions.OriginPatterns%v", err)
	}
	if err := handshake.ValidateHostPatterns(o.HostPatterns); err != nil {
		return fmt.Errorf("wsx: AcceptOptions.HostPatterns%v", err)
	}
	return nil
}

// Accept performs the server side of the opening handshake (§4.2) on a
// request received by a net/http handler and returns the WebSocket
// connection.
//
// Accept checks every rule of §4.2.1 and the Host and Origin policies of
// AcceptOptions. When the request breaks one, Accept writes a refusal and
// returns an error whose text is the one-line plain-text body it sent,
// naming the rule, for example
// "wsx: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)".
// The status is
//
//   - 405 Method Not Allowed, with "Allow: GET", for a method other than GET;
//   - 426 Upgrade Required, with "Sec-WebSocket-Version: 13", for a
//     Sec-WebSocket-Version other than 13 (§4.2.2 /version/, §4.4);
//   - 403 Forbidden for a refused or malformed Origin (§10.2);
//   - 421 Misdirected Request for a Host that HostPatterns does not list
//     (RFC 9110 §7.4);
//   - 500 Internal Server Error while AcceptOptions has a mistake (see
//     AcceptOptions.Validate);
//   - 400 Bad Request for every other broken rule, including an HTTP/1.0
//     request (HTTP/1.1 or later is required, §4.2.1 item 1) and malformed
//     Sec-WebSocket-Protocol or Sec-WebSocket-Extensions values.
//
// On success Accept takes the connection over from net/http (through
// http.ResponseController, so any wrapped ResponseWriter that supports it
// works, on plain and TLS servers alike), clears the deadlines the server's
// timeouts set on it, writes the 101 Switching Protocols response and hands
// the connection, with any bytes the client sent after the request, to the
// returned Conn. After that the handler must not use w; it may return while
// the Conn lives on. http.Server.Shutdown does not close hijacked
// connections.
//
// Accept negotiates permessage-deflate when AcceptOptions.Compression is
// set; other Sec-WebSocket-Extensions offers are checked against the grammar
// of §9.1 and declined.
//
// Over HTTP/2 and HTTP/3, Accept serves the extended CONNECT of RFC 8441
// and RFC 9220 instead, with the same options and Conn: see "WebSockets over
// HTTP/2 and HTTP/3" in the package documentation.
//
// A port that serves WebSockets only can do without net/http: see
// AcceptConn.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &zeroAcceptOptions
	}
	if r.ProtoMajor >= 2 {
		return acceptStream(w, r, opts) // RFC 8441, RFC 9220: accept_stream.go
	}
	st := serverStates.Get().(*serverState)
	defer st.release()
	acc, ref := st.prepare(r, opts)
	if ref != nil {
		ref.write(w)
		return nil, ref
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		ref := refuseWith(http.StatusInternalServerError, "cannot take over the connection from net/http: "+err.Error())
		ref.write(w)
		return nil, ref
	}
	// Server.ReadTimeout, ReadHeaderTimeout and WriteTimeout leave deadlines
	// on the connection that must not cut the WebSocket connection short.
	// net/http clears them on Hijack; other Hijackers need not.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wsx: clearing the deadlines of the hijacked connection: %w", err)
	}
	// Written straight to the connection: nothing else is in brw.Writer and
	// the bytes need no buffer of their own.
	return startConn(nc, st.resp, brw.Reader, &acc, opts)
}

// zeroAcceptOptions stands for a nil *AcceptOptions; nothing writes to it.
var zeroAcceptOptions AcceptOptions

// serverState is the working space of one server handshake: what the
// request offers and the buffer the response is built in. It is pooled, so
// that a handshake allocates neither.
type serverState struct {
	offer handshake.Offer
	resp  []byte
}

var serverStates = sync.Pool{New: func() any { return &serverState{resp: make([]byte, 0, 512)} }}

// release puts st back in its pool, emptied.
func (st *serverState) release() {
	st.offer.Reset()
	st.resp = st.resp[:0]
	serverStates.Put(st)
}

// acceptance is what the server agreed to in answer to a valid request: what
// the 101 response says and what the Conn is configured with.
type acceptance struct {
	key         string // Sec-WebSocket-Key, valid (§4.2.1 item 5)
	subprotocol string // selected subprotocol or "" (§4.2.2 /subprotocol/)
	extensions  string // Sec-WebSocket-Extensions response value or "" (§4.2.2 /extensions/)
	negotiated  negotiatedExtensions
}

// prepare checks r as Accept and AcceptConn both do: the options, the rules
// of the handshake (internal/handshake) with the server's policies, then the
// Group's state. It chooses the subprotocol and extensions (§4.2.2 step 4)
// and builds the 101 response in st.resp.
func (st *serverState) prepare(r *http.Request, opts *AcceptOptions) (acceptance, *refusal) {
	acc, ref := st.agree(r, opts, false)
	if ref != nil {
		return acc, ref
	}
	acc.key = st.offer.Key
	var err error
	if st.resp, err = appendResponse(st.resp[:0], &acc, opts.ResponseHeader); err != nil {
		return acc, &refusal{status: http.StatusInternalServerError, msg: err.Error()}
	}
	return acc, nil
}

// agree checks r, an HTTP/1.1 Upgrade request or, when stream is set, an
// extended CONNECT over HTTP/2 or HTTP/3 (RFC 8441, RFC 9220), and chooses
// what to agree to: the part of a server handshake that every transport
// shares.
func (st *serverState) agree(r *http.Request, opts *AcceptOptions, stream bool) (acceptance, *refusal) {
	var acc acceptance
	if err := opts.validatePatterns(); err != nil {
		return acc, &refusal{status: http.StatusInternalServerError, msg: err.Error()}
	}
	policy := handshake.Policy{Hosts: opts.HostPatterns, Origins: opts.OriginPatterns, AnyOrigin: opts.InsecureSkipOriginCheck}
	var f handshake.Finding
	if stream {
		f = handshake.CheckStreamRequest(r, &policy, &st.offer)
	} else {
		f = handshake.CheckRequest(r, &policy, &st.offer)
	}
	if f.Failed() {
		return acc, refuseFinding(&f)
	}
	if opts.Group != nil && opts.Group.closing() {
		return acc, refuseWith(http.StatusServiceUnavailable, "the server is shutting down")
	}
	for _, p := range opts.Subprotocols {
		if slices.Contains(st.offer.Protocols, p) {
			acc.subprotocol = p
			break
		}
	}
	acc.extensions, acc.negotiated = negotiateExtensions(st.offer.Extensions, opts)
	return acc, nil
}

// startConn writes the 101 response resp on nc and starts the server's
// Conn, with the bytes br holds past the request (frames the client sent
// right behind it).
func startConn(nc net.Conn, resp []byte, br *bufio.Reader, acc *acceptance, opts *AcceptOptions) (*Conn, error) {
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wsx: writing the handshake response: %w", err)
	}
	return newServerConn(nc, br, acc, opts)
}

// newServerConn starts the server's Conn on nc, over any transport, once the
// handshake's response is out, and adds it to opts.Group.
func newServerConn(nc net.Conn, br *bufio.Reader, acc *acceptance, opts *AcceptOptions) (*Conn, error) {
	c := newConn(nc, acc.config(opts, br))
	if opts.Group != nil && !opts.Group.add(c) {
		c.Close(StatusGoingAway, "server shutting down")
		return nil, errors.New("wsx: the server is shutting down")
	}
	return c, nil
}

// config is the configuration of the server's Conn after acc, with the bytes
// br holds past the request.
func (acc *acceptance) config(opts *AcceptOptions, br *bufio.Reader) connConfig {
	return connConfig{
		client:      false,
		br:          br,
		subprotocol: acc.subprotocol,
		extensions:  acc.extensions,
		opts:        opts.ConnOptions,
		deflate:     acc.negotiated.deflate,
		compression: acc.negotiated.compression,
	}
}

// negotiatedExtensions is the extension state agreed in the handshake, for
// the Conn to apply.
type negotiatedExtensions struct {
	deflate     *deflate.Params // permessage-deflate (RFC 7692), or nil
	compression deflate.Config
}

// negotiateExtensions is the server's extension negotiation point (§9.1):
// it receives the client's offers, in the client's order of preference and
// already checked against the grammar of §9.1, and returns the
// Sec-WebSocket-Extensions response value ("" to send no header) and the
// negotiated state. The response may list only extensions the client offered
// (§4.2.2 step 4 /extensions/), in the order the server applies them.
// Extensions wsx does not know are declined by leaving them out.
func negotiateExtensions(offers []header.Extension, opts *AcceptOptions) (string, negotiatedExtensions) {
	if opts.Compression == nil || len(offers) == 0 {
		return "", negotiatedExtensions{}
	}
	cfg := opts.Compression.config()
	params, response, ok := deflate.ServerNegotiate(offers, cfg)
	if !ok {
		return "", negotiatedExtensions{}
	}
	return response.String(), negotiatedExtensions{deflate: &params, compression: cfg}
}

// appendResponse appends the 101 response that completes the handshake
// (§4.2.2 step 5) to b, with extra's fields after the handshake's own.
func appendResponse(b []byte, acc *acceptance, extra http.Header) ([]byte, error) {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\n"...)
	b = append(b, "Upgrade: websocket\r\n"...)
	b = append(b, "Connection: Upgrade\r\n"...)
	b = append(b, "Sec-WebSocket-Accept: "...)
	b = handshake.AppendAccept(b, acc.key)
	b = append(b, "\r\n"...)
	if acc.subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, acc.subprotocol...)
		b = append(b, "\r\n"...)
	}
	if acc.extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, acc.extensions...)
		b = append(b, "\r\n"...)
	}
	if len(extra) > 0 {
		// Sorted, so that the response does not change from one
		// connection to the next.
		for _, name := range slices.Sorted(maps.Keys(extra)) {
			if err := checkResponseField(name, extra[name]); err != nil {
				return b, err
			}
			for _, v := range extra[name] {
				b = append(b, name...)
				b = append(b, ": "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
		}
	}
	return append(b, "\r\n"...), nil
}

// checkResponseField reports whether a field of AcceptOptions.ResponseHeader
// may go into the 101 response: a valid field name (RFC 9110 §5.1) that is
// not one the handshake controls, and valid values.
func checkResponseField(name string, values []string) error {
	if !header.IsToken(name) {
		return fmt.Errorf("wsx: AcceptOptions.ResponseHeader has an invalid field name %q", name)
	}
	// A 101 response has no content (RFC 9110 §15.2).
	if handshake.IsOwnField(name) || strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
		return fmt.Errorf("wsx: AcceptOptions.ResponseHeader must not set %s: the handshake sets it (use AcceptOptions.Subprotocols to choose a subprotocol)", name)
	}
	for _, v := range values {
		if !header.ValidFieldValue(v) {
			return fmt.Errorf("wsx: AcceptOptions.ResponseHeader field %s has a value with a control character: %s", name, header.Quote(v))
		}
	}
	return nil
}
