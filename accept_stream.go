//go:build !js

package wsx

import (
	"fmt"
	"net"
	"net/http"

	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/stream"
)

// The server side of WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): a WebSocket is
// one stream of the connection, opened by an extended CONNECT request whose :protocol is
// "websocket", and accepted with a 2xx response. The rules of the request are
// internal/handshake's CheckStreamRequest.

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
	st := serverStates.Get().(*serverState)
	defer st.release()
	acc, ref := st.agree(r, opts, true)
	taker := findStreamTaker(w)
	if ref == nil && taker == nil && r.ProtoMajor != 2 {
		ref = refuseWith(http.StatusNotImplemented, fmt.Sprintf("this %s server cannot hand its stream over; with quic-go, wrap the handler in h3transport.Handler", handshake.StreamVersion(r)))
	}
	if ref == nil {
		if err := checkResponseHeader(opts.ResponseHeader); err != nil {
			ref = &refusal{status: http.StatusInternalServerError, msg: err.Error()}
		}
	}
	if ref != nil {
		ref.write(w)
		return nil, ref
	}
	// RFC 8441 §5: a 2xx response accepts; from here on the stream's DATA is the WebSocket.
	setStreamResponse(w.Header(), &acc, opts.ResponseHeader)
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
	return newServerConn(nc, nil, &acc, opts)
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

// setStreamResponse sets the header fields of the 200 response: the subprotocol and
// extensions chosen, and AcceptOptions.ResponseHeader (already checked). As with the 101
// response on HTTP/1.1, fields the handler set on the ResponseWriter are not sent.
func setStreamResponse(h http.Header, acc *acceptance, extra http.Header) {
	clear(h)
	for name, values := range extra {
		h[http.CanonicalHeaderKey(name)] = values
	}
	if acc.subprotocol != "" {
		h[handshake.FieldProtocol] = []string{acc.subprotocol}
	}
	if acc.extensions != "" {
		h[handshake.FieldExtensions] = []string{acc.extensions}
	}
}
