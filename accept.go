package wsx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/header"
)

// AcceptOptions configure Accept and AcceptConn. A nil *AcceptOptions is the zero value:
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
	resp := responseBuffers.Get().(*[]byte)
	defer responseBuffers.Put(resp)
	hs, b, rej := prepareHandshake(r, opts, (*resp)[:0])
	if rej != nil {
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
	return startConn(nc, b, brw.Reader, &hs, opts)
}

// zeroAcceptOptions stands for a nil *AcceptOptions; nothing writes to it.
var zeroAcceptOptions AcceptOptions

// responseBuffers holds the buffers that handshake responses are built in:
// the response is written at once, so the buffer is free again after it.
var responseBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// prepareHandshake checks r as Accept and AcceptConn both do: the rules of
// checkRequest, then the Group's state and opts.ResponseHeader. It appends
// the 101 response to b.
func prepareHandshake(r *http.Request, opts *AcceptOptions, b []byte) (handshake, []byte, *rejection) {
	hs, rej := checkRequest(r, opts)
	if rej == nil && opts.Group != nil && opts.Group.closing() {
		rej = reject(http.StatusServiceUnavailable, "wsx: the server is shutting down")
	}
	if rej != nil {
		return hs, b, rej
	}
	b, err := appendResponse(b, &hs, opts.ResponseHeader)
	if err != nil {
		return hs, b, reject(http.StatusInternalServerError, "%v", err)
	}
	return hs, b, nil
}

// startConn writes the 101 response resp on nc and starts the server's
// Conn, with the bytes br holds past the request (frames the client sent
// right behind it).
func startConn(nc net.Conn, resp []byte, br *bufio.Reader, hs *handshake, opts *AcceptOptions) (*Conn, error) {
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wsx: writing the handshake response: %w", err)
	}
	return newServerConn(nc, br, hs, opts)
}

// newServerConn starts the server's Conn on nc, over any transport, once the
// handshake's response is out, and adds it to opts.Group.
func newServerConn(nc net.Conn, br *bufio.Reader, hs *handshake, opts *AcceptOptions) (*Conn, error) {
	c := newConn(nc, connConfig{
		client:      false,
		br:          br,
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
	if rej := checkVersion(r); rej != nil {
		return hs, rej
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
	return hs, negotiate(r, opts, &hs)
}

// checkVersion checks Sec-WebSocket-Version (§4.2.1 item 6, §4.4).
func checkVersion(r *http.Request) *rejection {
	switch v := r.Header[hdrVersion]; {
	case len(v) == 0:
		return reject(http.StatusBadRequest, "wsx: missing Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)")
	case len(v) != 1 || v[0] != version:
		return reject(http.StatusUpgradeRequired, "wsx: unsupported Sec-WebSocket-Version %s; this server speaks version 13 (RFC 6455 §4.2.1 item 6, §4.4)", quote(v))
	}
	return nil
}

// negotiate applies the Origin policy and chooses the subprotocol and
// extensions into hs: the part of the handshake that HTTP/1.1, HTTP/2 and
// HTTP/3 share.
func negotiate(r *http.Request, opts *AcceptOptions, hs *handshake) *rejection {
	if rej := checkOrigin(r, opts); rej != nil {
		return rej
	}

	// §4.2.1 item 8, §4.1 item 10: Sec-WebSocket-Protocol = 1#token, the
	// client's preference order; lines sent separately form one list.
	var buf [8]string
	offered, err := header.AppendTokens(buf[:0], r.Header[hdrProtocol])
	if err != nil {
		return reject(http.StatusBadRequest, "wsx: malformed Sec-WebSocket-Protocol header: %v (RFC 6455 §4.1 item 10)", err)
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
		return reject(http.StatusBadRequest, "wsx: malformed Sec-WebSocket-Extensions header: %v (RFC 6455 §9.1)", err)
	}
	hs.extensions, hs.negotiated = negotiateExtensions(offers, opts)
	return nil
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
	e.header(h.Set)
	w.WriteHeader(e.status)
	io.WriteString(w, e.msg+"\n")
}

// header calls set with each header field of the refusal but the ones of
// the framing (Content-Length, Date, Connection).
func (e *rejection) header(set func(name, value string)) {
	set("Content-Type", "text/plain; charset=utf-8")
	set("X-Content-Type-Options", "nosniff")
	switch e.status {
	case http.StatusMethodNotAllowed:
		set("Allow", http.MethodGet)
	case http.StatusUpgradeRequired:
		// §4.4: the versions the server speaks; RFC 9110 §15.5.22: a 426
		// names the protocol to upgrade to, and §7.8 marks Upgrade as a
		// connection option.
		set(hdrVersion, version)
		set(hdrUpgrade, "websocket")
		set(hdrConnection, "Upgrade")
	}
}

// appendRaw appends the refusal as a whole HTTP/1.1 response, for
// AcceptConn, which answers without net/http: the fields of header, then
// Date (RFC 9110 §6.6.1), Content-Length, and "Connection: close" (RFC 9112
// §9.6), since the connection ends after it.
func (e *rejection) appendRaw(b []byte, now time.Time) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(e.status)...)
	b = append(b, "\r\n"...)
	e.header(func(name, value string) {
		b = append(append(append(append(b, name...), ": "...), value...), "\r\n"...)
	})
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(e.msg)+1), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, e.msg...)
	return append(b, '\n')
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

// AcceptConn performs the server side of the opening handshake (§4.2) on nc,
// a connection fresh from a net.Listener, without net/http: it reads the
// request from nc, checks it by the same rules as Accept, writes the 101
// Switching Protocols response or the refusal itself, and returns the
// WebSocket connection.
//
// AcceptConn is for a port that serves WebSockets only. It is the cheapest
// way to accept a connection: no http.Server, no bufio.Reader, bufio.Writer
// or parsed http.Request kept alive by a handler, and a handshake of a few
// allocations. It reads only what the handshake needs: a server that routes
// by path, or authenticates with cookies or other header fields, uses Accept
// from a handler instead.
//
// The request head may be at most 16 KiB long, with at most 100 header
// fields; a larger one is refused with 431 Request Header Fields Too Large
// (RFC 6585 §5). It must follow the HTTP/1.1 syntax strictly (RFC 9112):
// lines end in CRLF, a field name is followed directly by its colon, no
// field is folded over several lines, the Host field appears once; anything
// else is refused with 400 Bad Request. Every other refusal is Accept's,
// with the same status, header fields and text, and with Date and
// "Connection: close" added: AcceptConn closes nc after a refusal, and
// whenever it returns an error.
//
// ctx bounds the handshake: its deadline (DefaultHandshakeTimeout when it has
// none) is set on nc while AcceptConn reads the request and writes the
// response, and cancelling it closes nc. AcceptConn clears nc's deadlines
// before it returns the Conn, which receives any bytes the client sent after
// the request.
//
// nc may also be a *tls.Conn from a tls.NewListener: its TLS handshake then
// runs on the first read, under ctx too.
func AcceptConn(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &zeroAcceptOptions
	}
	ctx, cancel := withHandshakeTimeout(ctx)
	defer cancel()
	stop := func() bool { return true }
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			nc.Close()
			return nil, fmt.Errorf("wsx: opening handshake: %w", ctx.Err())
		default:
		}
		// Cancelling ctx ends any read or write in progress, as in Dial.
		stop = context.AfterFunc(ctx, func() { nc.Close() })
	}
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	st := acceptStates.Get().(*acceptState)
	st.br.Reset(nc)
	c, err := st.accept(nc, opts)
	st.release()
	acceptStates.Put(st)
	if err != nil {
		stop()
		if _, refused := err.(*rejection); !refused {
			if cerr := contextCause(ctx, err); cerr != nil {
				err = fmt.Errorf("wsx: opening handshake: %w", cerr)
			}
		}
		return nil, err
	}
	if !stop() {
		c.CloseNow() // too late: the AfterFunc closed nc
		return nil, fmt.Errorf("wsx: opening handshake: %w", ctx.Err())
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// Limits on the request head that AcceptConn reads (RFC 9112 §2.3 leaves
// them to the server): the request line and the header fields with their
// line ends, and the number of field lines.
const (
	maxRequestHead  = 16 << 10
	maxHeaderFields = 100
)

// acceptState is what AcceptConn reads and parses a request with. It is
// pooled, so that a handshake allocates none of it and its goroutine's
// stack stays small: whatever the reader holds past the request goes to the
// Conn's own (pooled) read buffer.
type acceptState struct {
	br     *bufio.Reader // maxRequestHead long
	r      http.Request  // only what parseHead fills in
	header http.Header   // r.Header
	fields []field       // the fields of requestFields, in the order sent
	vals   []string      // the values in header
}

var acceptStates = sync.Pool{New: func() any {
	return &acceptState{
		br:     bufio.NewReaderSize(nil, maxRequestHead),
		header: make(http.Header, len(requestFields)),
		fields: make([]field, 0, 16),
		vals:   make([]string, 0, 16),
	}
}}

// release drops what st refers to, before it goes back to the pool.
func (st *acceptState) release() {
	st.br.Reset(nil)
	st.r = http.Request{}
	clear(st.header)
	clear(st.fields[:cap(st.fields)])
	clear(st.vals[:cap(st.vals)])
	st.fields, st.vals = st.fields[:0], st.vals[:0]
}

// accept is AcceptConn after the deadline is set: it reads and checks the
// request from st.br, which reads nc, and answers it.
func (st *acceptState) accept(nc net.Conn, opts *AcceptOptions) (*Conn, error) {
	head, err := readRequestHead(st.br)
	if err != nil {
		if rej, ok := err.(*rejection); ok {
			return nil, refuse(nc, rej, true) // the rest of the head is unread
		}
		nc.Close()
		return nil, fmt.Errorf("wsx: reading the opening handshake request: %w", err)
	}
	st.r.Header = st.header
	rej := st.parseHead(head)
	var hs handshake
	resp := responseBuffers.Get().(*[]byte)
	defer responseBuffers.Put(resp)
	b := (*resp)[:0]
	if rej == nil {
		hs, b, rej = prepareHandshake(&st.r, opts, b)
	}
	if rej != nil {
		unread := st.br.Buffered() > 0 || st.r.ContentLength != 0 || len(st.r.TransferEncoding) > 0
		return nil, refuse(nc, rej, unread)
	}
	return startConn(nc, b, st.br, &hs, opts)
}

// refuse writes the refusal rej on nc, closes nc and returns rej.
//
// When the client may have sent more than the server read (unread is true:
// the rest of a head too large, a body), closing a socket with unread input
// makes the kernel reset the connection, and a reset can destroy the
// refusal before the client reads it. So nc is half-closed first, and what
// the client still sends is read and dropped until it closes its end or for
// a moment at most, as net/http does.
func refuse(nc net.Conn, rej *rejection, unread bool) error {
	b := responseBuffers.Get().(*[]byte)
	*b = rej.appendRaw((*b)[:0], time.Now())
	_, err := nc.Write(*b)
	responseBuffers.Put(b)
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && unread && err == nil && cw.CloseWrite() == nil {
		// ctx's deadline, when earlier, still applies: the AfterFunc closes nc.
		nc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
	}
	nc.Close()
	return rej
}

// How long, and for how many bytes, refuse waits for the client's end.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 256 << 10
)

// readRequestHead reads a request head from br: the request line and the
// header field lines up to the empty line that ends them (RFC 9112 §2.1),
// skipping empty lines before the request line (RFC 9112 §2.2). It returns
// the lines with their line ends, and leaves br at the first byte after the
// empty line. A head that does not fit in br (which is maxRequestHead long)
// is refused with a *rejection.
//
// A bare LF ends a line here too, so that a client that sends them gets its
// refusal from parseHead instead of waiting for a CRLF that never comes.
func readRequestHead(br *bufio.Reader) (string, error) {
	start := -1 // where the request line starts, once seen
	next := 0   // where the next line starts
	for {
		b, _ := br.Peek(br.Buffered())
		for {
			i := bytes.IndexByte(b[next:], '\n')
			if i < 0 {
				break
			}
			line := b[next : next+i]
			switch {
			case len(line) > 1 || len(line) == 1 && line[0] != '\r':
				if start < 0 {
					start = next
				}
			case start >= 0: // the empty line that ends the head
				head := string(b[start:next])
				br.Discard(next + i + 1)
				return head, nil
			}
			next += i + 1
		}
		if len(b) == br.Size() {
			return "", reject(http.StatusRequestHeaderFieldsTooLarge, "wsx: request head longer than %d bytes (RFC 6585 §5)", br.Size())
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// The header fields of the opening handshake that checkRequest reads from
// r.Header; parseHead keeps no others. Host, Content-Length and
// Transfer-Encoding go to their fields of http.Request.
var requestFields = [...]string{hdrUpgrade, hdrConnection, hdrOrigin, hdrKey, hdrVersion, hdrProtocol, hdrExtensions}

// parseHead parses a request head, as readRequestHead returns it, into
// st.r: the method, target and version of the request line (RFC 9112 §3)
// and the header fields (RFC 9112 §5) that the opening handshake reads. Any syntax error is
// refused with 400 Bad Request (too many fields with 431): parseHead is
// strict where RFC 9112 lets a server choose, so that a request means the
// same to every part of the server.
func (st *acceptState) parseHead(head string) *rejection {
	r := &st.r
	if rej := checkLineEnds(head); rej != nil {
		return rej
	}
	line, head := nextLine(head)
	if rej := parseRequestLine(line, r); rej != nil {
		return rej
	}

	var (
		hosts   int
		lengths int
		fields  = st.fields
		nfields int
	)
	for head != "" {
		line, head = nextLine(head)
		if nfields++; nfields > maxHeaderFields {
			return reject(http.StatusRequestHeaderFieldsTooLarge, "wsx: request has more than %d header fields (RFC 6585 §5)", maxHeaderFields)
		}
		name, value, ok := strings.Cut(line, ":")
		switch {
		case line[0] == ' ' || line[0] == '\t':
			return reject(http.StatusBadRequest, "wsx: header line %s continues the previous one: obsolete line folding (RFC 9112 §5.2)", quote([]string{line}))
		case !ok || !header.IsToken(name):
			// RFC 9112 §5.1: also whitespace between the name and the colon.
			return reject(http.StatusBadRequest, "wsx: malformed header line %s; want name: value (RFC 9112 §5)", quote([]string{line}))
		}
		value = strings.Trim(value, " \t")
		if !header.ValidFieldValue(value) {
			return reject(http.StatusBadRequest, "wsx: header field %s has a control character in its value %s (RFC 9110 §5.5)", name, quote([]string{value}))
		}
		switch {
		case strings.EqualFold(name, "Host"):
			if hosts++; hosts > 1 {
				return reject(http.StatusBadRequest, "wsx: Host header sent more than once (RFC 9112 §3.2)")
			}
			if !validHost(value) {
				return reject(http.StatusBadRequest, "wsx: malformed Host header %s (RFC 9112 §3.2)", quote([]string{value}))
			}
			if r.Host == "" { // an absolute-form target's authority comes first (RFC 9112 §3.2.2)
				r.Host = value
			}
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseUint(value, 10, 63)
			if lengths++; err != nil || lengths > 1 && int64(n) != r.ContentLength {
				return reject(http.StatusBadRequest, "wsx: malformed Content-Length %s (RFC 9112 §6.3)", quote([]string{value}))
			}
			r.ContentLength = int64(n)
		case strings.EqualFold(name, "Transfer-Encoding"):
			// Any transfer coding means a body, which checkRequest refuses.
			r.TransferEncoding = []string{value}
		default:
			for i, f := range requestFields {
				if strings.EqualFold(name, f) {
					fields = append(fields, field{i, value})
					break
				}
			}
		}
	}
	if hosts == 0 {
		r.Host = "" // checkRequest refuses it (§4.2.1 item 2, RFC 9112 §3.2)
	}
	// One slice of vals per field, with its values in the order sent (a
	// field sent on several lines is one list, RFC 9110 §5.3).
	st.fields = fields // kept, grown or not, for next time
	vals := st.vals
	for i, name := range requestFields {
		start := len(vals)
		for _, f := range fields {
			if f.i == i {
				vals = append(vals, f.v)
			}
		}
		if len(vals) > start {
			r.Header[name] = vals[start:len(vals):len(vals)]
		}
	}
	st.vals = vals
	return nil
}

// checkLineEnds refuses a head with a line that does not end in CRLF: RFC
// 9112 §2.2 lets a server take a bare LF as a line end, and requires it to
// refuse or replace a bare CR, but strictness is safer where a proxy in
// front may see lines differently.
func checkLineEnds(head string) *rejection {
	for head != "" {
		i := strings.IndexByte(head, '\n') // every line ends in one (readRequestHead)
		if i < 1 || head[i-1] != '\r' {
			return reject(http.StatusBadRequest, "wsx: request head has a line that ends in LF without CR (RFC 9112 §2.2)")
		}
		if strings.IndexByte(head[:i-1], '\r') >= 0 {
			return reject(http.StatusBadRequest, "wsx: bare CR in the request head (RFC 9112 §2.2)")
		}
		head = head[i+1:]
	}
	return nil
}

// A field is a header field of requestFields, by index, and its value.
type field struct {
	i int
	v string
}

// nextLine splits s, lines that each end in CRLF, after its first line.
func nextLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\r\n")
	return line, rest
}

// parseRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112 §3) into r.
func parseRequestLine(line string, r *http.Request) *rejection {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !header.IsToken(method) || !validTarget(target) || !validVersion(proto) {
		return reject(http.StatusBadRequest, "wsx: malformed request line %s; want method SP request-target SP HTTP-version (RFC 9112 §3)", quote([]string{line}))
	}
	r.Method = method
	r.Proto = proto
	r.ProtoMajor, r.ProtoMinor = int(proto[5]-'0'), int(proto[7]-'0')
	r.RequestURI = target
	if target[0] != '/' && target != "*" {
		// RFC 9112 §3.2.2: the authority of an absolute-form target is the
		// request's host, whatever the Host header says.
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host == "" {
			return reject(http.StatusBadRequest, "wsx: malformed request target %s (RFC 9112 §3.2)", quote([]string{target}))
		}
		r.Host = u.Host
	}
	return nil
}

// validVersion reports whether v is HTTP-version: "HTTP/" DIGIT "." DIGIT
// (RFC 9112 §2.3).
func validVersion(v string) bool {
	return len(v) == 8 && strings.HasPrefix(v, "HTTP/") && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validTarget reports whether t can be a request target: visible ASCII
// (RFC 9112 §3.2, RFC 3986 §2), with every percent sign starting a
// percent-encoded octet.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c <= ' ' || c >= 0x7f:
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// validHost reports whether h may be a Host value: uri-host [":" port]
// (RFC 9112 §3.2, RFC 3986 §3.2.2), checked as far as its bytes go.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' || strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0) {
			return false
		}
	}
	return true
}
