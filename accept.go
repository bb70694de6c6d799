package wsx

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/header"
)

// AcceptOptions configure Accept. A nil *AcceptOptions is the zero value:
// same-origin browsers and non-browser clients only, no subprotocol, no
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
	// pages may connect. A pattern without "://" is matched against the
	// Origin's host[:port] (a port that is the default for the Origin's
	// scheme is left out), one with "://" against scheme://host[:port]; both
	// ASCII case-insensitively, with the syntax of path.Match: for example
	// "*.example.com", "localhost:*" or "https://app.example.com". The
	// pattern "null" allows the opaque origin "null" sent by sandboxed
	// iframes and file: pages. Requests whose Origin matches nothing are
	// refused with 403 Forbidden (§10.2).
	OriginPatterns []string

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

// Accept performs the server side of the opening handshake (§4.2) on a
// request received by a net/http handler and returns the WebSocket
// connection.
//
// Accept checks every rule of §4.2.1 and the Origin policy of AcceptOptions.
// When the request breaks one, Accept writes a refusal and returns an error
// whose text is the one-line plain-text body it sent, naming the rule, for
// example "wsx: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)".
// The status is
//
//   - 405 Method Not Allowed, with "Allow: GET", for a method other than GET;
//   - 426 Upgrade Required, with "Sec-WebSocket-Version: 13", for a
//     Sec-WebSocket-Version other than 13 (§4.2.2 /version/, §4.4);
//   - 403 Forbidden for a refused or malformed Origin (§10.2);
//   - 505 HTTP Version Not Supported for HTTP/2 and HTTP/3 requests, whose
//     WebSocket bootstrapping (RFC 8441, RFC 9220) wsx does not support yet;
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
// Accept negotiates no extension yet: Sec-WebSocket-Extensions offers are
// checked against the grammar of §9.1 and then declined.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	hs, rej := checkRequest(r, opts)
	if rej == nil && opts.Group != nil && opts.Group.closing() {
		rej = reject(http.StatusServiceUnavailable, "wsx: the server is shutting down")
	}
	if rej != nil {
		rej.write(w)
		return nil, rej
	}
	resp, err := appendResponse(make([]byte, 0, 256), &hs, opts.ResponseHeader)
	if err != nil {
		rej := reject(http.StatusInternalServerError, "%v", err)
		rej.write(w)
		return nil, rej
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		rej := reject(http.StatusInternalServerError, "wsx: cannot take over the connection from net/http: %v", err)
		rej.write(w)
		return nil, rej
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
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wsx: writing the handshake response: %w", err)
	}
	c := newConn(nc, connConfig{
		client:      false,
		br:          brw.Reader, // may hold frames the client sent right after the request
		subprotocol: hs.subprotocol,
		extensions:  hs.extensions,
		opts:        opts.ConnOptions,
		deflate:     hs.negotiated.deflate,
		compression: hs.negotiated.compression,
	})
	if opts.Group != nil && !opts.Group.add(c) {
		c.Close(StatusGoingAway, "server shutting down")
		return nil, errors.New("wsx: the server is shutting down")
	}
	return c, nil
}

// handshake holds what checkRequest extracted from a valid opening handshake
// request: what the 101 response needs and what the Conn is configured with.
type handshake struct {
	key         string // Sec-WebSocket-Key, valid (§4.2.1 item 5)
	subprotocol string // selected subprotocol or "" (§4.2.2 /subprotocol/)
	extensions  string // Sec-WebSocket-Extensions response value or "" (§4.2.2 /extensions/)
	negotiated  negotiatedExtensions
}

// checkRequest checks r against every rule of §4.2.1 and the Origin policy
// (§10.2) and chooses the subprotocol and extensions (§4.2.2 step 4). It
// reads nothing but r's method, protocol version, Host, header and
// content length, so that it can be tested and fuzzed without a connection.
func checkRequest(r *http.Request, opts *AcceptOptions) (handshake, *rejection) {
	var hs handshake
	// §4.2.1 item 1: "An HTTP/1.1 or higher GET request". HTTP/2 and HTTP/3
	// have no Upgrade mechanism; they bootstrap WebSockets with extended
	// CONNECT (RFC 8441, RFC 9220), which a later version of Accept will
	// serve. Until then, refuse before anything else.
	if r.ProtoMajor >= 2 {
		return hs, reject(http.StatusHTTPVersionNotSupported, "wsx: WebSocket over %s (RFC 8441, RFC 9220) is not supported; connect with HTTP/1.1 (RFC 6455 §4.2.1 item 1)", quote([]string{r.Proto}))
	}
	if r.Method != http.MethodGet {
		return hs, reject(http.StatusMethodNotAllowed, "wsx: method %s is not GET (RFC 6455 §4.2.1 item 1)", quote([]string{r.Method}))
	}
	if !r.ProtoAtLeast(1, 1) {
		return hs, reject(http.StatusBadRequest, "wsx: %s request; the handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1 item 1)", quote([]string{r.Proto}))
	}
	if r.Host == "" {
		return hs, reject(http.StatusBadRequest, "wsx: missing Host header (RFC 6455 §4.2.1 item 2)")
	}
	if v := r.Header[hdrUpgrade]; !header.HasToken(v, "websocket") {
		if len(v) == 0 {
			return hs, reject(http.StatusBadRequest, "wsx: missing Upgrade header (RFC 6455 §4.2.1 item 3)")
		}
		return hs, reject(http.StatusBadRequest, `wsx: Upgrade header %s does not include "websocket" (RFC 6455 §4.2.1 item 3)`, quote(v))
	}
	if v := r.Header[hdrConnection]; !header.HasToken(v, "upgrade") {
		if len(v) == 0 {
			return hs, reject(http.StatusBadRequest, "wsx: missing Connection header (RFC 6455 §4.2.1 item 4)")
		}
		return hs, reject(http.StatusBadRequest, `wsx: Connection header %s does not include "Upgrade" (RFC 6455 §4.2.1 item 4)`, quote(v))
	}
	// The version comes before the key: a client of another version learns
	// which one to speak (§4.4) even if its key is not ours to judge.
	switch v := r.Header[hdrVersion]; {
	case len(v) == 0:
		return hs, reject(http.StatusBadRequest, "wsx: missing Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)")
	case len(v) != 1 || v[0] != version:
		return hs, reject(http.StatusUpgradeRequired, "wsx: unsupported Sec-WebSocket-Version %s; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)", quote(v))
	}
	switch v := r.Header[hdrKey]; {
	case len(v) == 0:
		return hs, reject(http.StatusBadRequest, "wsx: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)")
	case len(v) > 1:
		return hs, reject(http.StatusBadRequest, "wsx: Sec-WebSocket-Key header sent %d times; it must be sent once (RFC 6455 §4.2.1 item 5, §11.3.1)", len(v))
	case !validKey(v[0]):
		return hs, reject(http.StatusBadRequest, "wsx: Sec-WebSocket-Key %s is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)", quote(v))
	default:
		hs.key = v[0]
	}
	// A body would sit between the request and the first frame and be read
	// as frames; a handshake request has none (§4.1).
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return hs, reject(http.StatusBadRequest, "wsx: handshake request has a body; frames must follow the request directly (RFC 6455 §4.1)")
	}
	if rej := checkOrigin(r, opts); rej != nil {
		return hs, rej
	}

	// §4.2.1 item 8, §4.1 item 10: Sec-WebSocket-Protocol = 1#token, the
	// client's preference order; lines sent separately form one list.
	var buf [8]string
	offered, err := header.AppendTokens(buf[:0], r.Header[hdrProtocol])
	if err != nil {
		return hs, reject(http.StatusBadRequest, "wsx: malformed Sec-WebSocket-Protocol header: %v (RFC 6455 §4.1 item 10)", err)
	}
	for _, p := range opts.Subprotocols {
		if slices.Contains(offered, p) {
			hs.subprotocol = p
			break
		}
	}

	// §4.2.1 item 9, §9.1: a malformed offer must fail the connection.
	offers, err := header.ParseExtensions(r.Header[hdrExtensions])
	if err != nil {
		return hs, reject(http.StatusBadRequest, "wsx: malformed Sec-WebSocket-Extensions header: %v (RFC 6455 §9.1)", err)
	}
	hs.extensions, hs.negotiated = negotiateExtensions(offers, opts)
	return hs, nil
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
func appendResponse(b []byte, hs *handshake, extra http.Header) ([]byte, error) {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\n"...)
	b = append(b, "Upgrade: websocket\r\n"...)
	b = append(b, "Connection: Upgrade\r\n"...)
	b = append(b, "Sec-WebSocket-Accept: "...)
	b = appendAcceptKey(b, hs.key)
	b = append(b, "\r\n"...)
	if hs.subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, hs.subprotocol...)
		b = append(b, "\r\n"...)
	}
	if hs.extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, hs.extensions...)
		b = append(b, "\r\n"...)
	}
	if len(extra) > 0 {
		// Sorted, so that the response does not change from one
		// connection to the next.
		for _, name := range slices.Sorted(maps.Keys(extra)) {
			if err := checkResponseField(name, extra[name]); err != nil {
				return nil, err
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
	if isHandshakeField(name) || strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
		return fmt.Errorf("wsx: AcceptOptions.ResponseHeader must not set %s: the handshake sets it (use AcceptOptions.Subprotocols to choose a subprotocol)", name)
	}
	for _, v := range values {
		if !header.ValidFieldValue(v) {
			return fmt.Errorf("wsx: AcceptOptions.ResponseHeader field %s has a value with a control character: %s", name, quote([]string{v}))
		}
	}
	return nil
}

// A rejection is a refused opening handshake: the HTTP status and the
// one-line reason sent to the client, which is also the error Accept
// returns.
type rejection struct {
	status int
	msg    string
}

func (e *rejection) Error() string { return e.msg }

func reject(status int, format string, args ...any) *rejection {
	return &rejection{status: status, msg: fmt.Sprintf(format, args...)}
}

// write sends the refusal through w: the status, the headers it calls for
// and the reason as a plain-text body.
func (e *rejection) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	switch e.status {
	case http.StatusMethodNotAllowed:
		h.Set("Allow", http.MethodGet)
	case http.StatusUpgradeRequired:
		// §4.4: the versions the server speaks; RFC 9110 §15.5.22: a 426
		// names the protocol to upgrade to, and §7.8 marks Upgrade as a
		// connection option.
		h.Set(hdrVersion, version)
		h.Set(hdrUpgrade, "websocket")
		h.Set(hdrConnection, "Upgrade")
	}
	w.WriteHeader(e.status)
	io.WriteString(w, e.msg+"\n")
}

// maxQuoted bounds how much of a client's header value a refusal quotes.
const maxQuoted = 64

// quote returns the header values, joined as one list, in double quotes,
// with non-printable and non-ASCII bytes escaped and at most maxQuoted bytes
// shown, so that a refusal stays on one line and short.
func quote(values []string) string {
	v := strings.Join(values, ", ")
	if len(v) > maxQuoted {
		return strconv.QuoteToASCII(v[:maxQuoted]) + "..."
	}
	return strconv.QuoteToASCII(v)
}
