package wsx

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/wsx-go/wsx/internal/stream"
)

// The server side of WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): a WebSocket is
// one stream of the connection, opened by an extended CONNECT request whose :protocol is
// "websocket", and accepted with a 2xx response. There is no Upgrade, Connection,
// Sec-WebSocket-Key or Sec-WebSocket-Accept; Sec-WebSocket-Version, Origin,
// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions mean what they mean on HTTP/1.1
// (RFC 8441 §5, RFC 9220 §3).

// streamTaker is implemented by a ResponseWriter, or one it wraps (through an
// Unwrap() http.ResponseWriter method, as http.ResponseController looks for), that can hand
// the request's stream over: the HTTP/3 module's Handler wraps quic-go's ResponseWriter so,
// and any other server may do the same. TakeWebSocketStream is called after
// w.WriteHeader(http.StatusOK); it sends the response header and returns the stream as a
// net.Conn that reads the request's content and writes the response's, and whose Close ends
// the stream. net/http's HTTP/2 ResponseWriter needs no such method.
type streamTaker interface {
	TakeWebSocketStream() (net.Conn, error)
}

// acceptStream is Accept for a request that came over HTTP/2 or HTTP/3.
func acceptStream(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	hs, rej := checkStreamRequest(r, opts)
	if rej == nil && opts.Group != nil && opts.Group.closing() {
		rej = reject(http.StatusServiceUnavailable, "wsx: the server is shutting down")
	}
	taker := findStreamTaker(w)
	if rej == nil && taker == nil && r.ProtoMajor != 2 {
		rej = reject(http.StatusNotImplemented, "wsx: this %s server cannot hand its stream over; with quic-go, wrap the handler in h3transport.Handler", quote([]string{r.Proto}))
	}
	for name, values := range opts.ResponseHeader {
		if rej != nil {
			break
		}
		if err := checkResponseField(name, values); err != nil {
			rej = reject(http.StatusInternalServerError, "%v", err)
		}
	}
	if rej != nil {
		writeStreamRefusal(w, rej)
		return nil, rej
	}
	// RFC 8441 §5: a 2xx response accepts; from here on the stream's DATA is the WebSocket.
	setStreamResponse(w.Header(), &hs, opts.ResponseHeader)
	w.WriteHeader(http.StatusOK)
	var (
		nc  net.Conn
		err error
	)
	if taker != nil {
		nc, err = taker.TakeWebSocketStream()
	} else {
		nc, err = stream.NewHandler(w, r)
	}
	if err != nil {
		return nil, fmt.Errorf("wsx: sending the handshake response: %w", err)
	}
	return newServerConn(nc, nil, &hs, opts)
}

// findStreamTaker returns w, or the first ResponseWriter it wraps, that is a streamTaker.
func findStreamTaker(w http.ResponseWriter) streamTaker {
	for w != nil {
		if t, ok := w.(streamTaker); ok {
			return t
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// streamProtocol returns the :protocol of an extended CONNECT request (RFC 8441 §4): net/http
// keeps it in r.Header[":protocol"], quic-go in r.Proto.
func streamProtocol(r *http.Request) string {
	if v := r.Header[":protocol"]; len(v) > 0 {
		return v[0]
	}
	if r.ProtoMajor == 3 && !strings.HasPrefix(r.Proto, "HTTP/") {
		return r.Proto
	}
	return ""
}

// checkStreamRequest checks an HTTP/2 or HTTP/3 request against RFC 8441 §4-§5 (RFC 9220 §3
// for HTTP/3), with the same Sec-WebSocket-Version, Origin, subprotocol and extension rules
// as on HTTP/1.1.
func checkStreamRequest(r *http.Request, opts *AcceptOptions) (handshake, *rejection) {
	var hs handshake
	if r.Method != http.MethodConnect {
		return hs, reject(http.StatusMethodNotAllowed, "wsx: method %s; a WebSocket over %s is opened with an extended CONNECT (RFC 8441 §4)", quote([]string{r.Method}), quote([]string{protoVersion(r)}))
	}
	switch p := streamProtocol(r); {
	case p == "":
		return hs, reject(http.StatusBadRequest, "wsx: CONNECT without :protocol; a WebSocket needs :protocol websocket (RFC 8441 §4)")
	case !strings.EqualFold(p, "websocket"):
		return hs, reject(http.StatusBadRequest, "wsx: :protocol %s; want websocket (RFC 8441 §4)", quote([]string{p}))
	}
	if r.Host == "" {
		return hs, reject(http.StatusBadRequest, "wsx: extended CONNECT without :authority (RFC 8441 §4)")
	}
	if rej := checkVersion(r); rej != nil {
		return hs, rej
	}
	// Sec-WebSocket-Key is not used: :protocol took over its role (RFC 8441 §5).
	return hs, negotiate(r, opts, &hs)
}

// protoVersion returns the HTTP version of r, which quic-go replaces with the :protocol of
// an extended CONNECT.
func protoVersion(r *http.Request) string {
	if r.ProtoMajor == 3 {
		return "HTTP/3"
	}
	return r.Proto
}

// setStreamResponse sets the header fields of the 200 response: the subprotocol and
// extensions chosen, and AcceptOptions.ResponseHeader (already checked). As with the 101
// response on HTTP/1.1, fields the handler set on the ResponseWriter are not sent.
func setStreamResponse(h http.Header, hs *handshake, extra http.Header) {
	clear(h)
	for name, values := range extra {
		h[http.CanonicalHeaderKey(name)] = values
	}
	if hs.subprotocol != "" {
		h[hdrProtocol] = []string{hs.subprotocol}
	}
	if hs.extensions != "" {
		h[hdrExtensions] = []string{hs.extensions}
	}
}

// writeStreamRefusal sends rej over HTTP/2 or HTTP/3. These protocols forbid the Upgrade and
// Connection fields (RFC 9113 §8.2.2, RFC 9114 §4.2) that 426 Upgrade Required must carry
// (RFC 9110 §15.5.22), so a version refusal is 400 Bad Request with Sec-WebSocket-Version:
// 13, which tells the client the version to speak (RFC 6455 §4.4). A wrong method gets
// "Allow: CONNECT".
func writeStreamRefusal(w http.ResponseWriter, rej *rejection) {
	h := w.Header()
	status := rej.status
	rej.header(func(name, value string) {
		switch {
		case name == hdrUpgrade, name == hdrConnection:
		case name == "Allow":
			h.Set(name, http.MethodConnect)
		default:
			h.Set(name, value)
		}
	})
	if status == http.StatusUpgradeRequired {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	w.Write([]byte(rej.msg + "\n"))
}
