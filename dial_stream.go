//go:build !js

package wsx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/wsx-go/wsx/internal/handshake"
)

// A StreamTransport carries WebSocket connections on streams of multiplexed HTTP
// connections: HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220). Set one in DialOptions.Transport. The
// modules github.com/wsx-go/wsx/h2transport (HTTP/2, with golang.org/x/net) and
// github.com/wsx-go/wsx/h3transport (HTTP/3, with quic-go) implement it, so that the wsx
// module itself needs nothing but the standard library.
type StreamTransport interface {
	// OpenStream sends req, an extended CONNECT request built by Dial (method CONNECT, the
	// :protocol pseudo-header in req.Header[":protocol"], the URL's scheme https for wss://
	// and http for ws://, the Sec-WebSocket-* and other fields in req.Header), on a stream of
	// a connection to req.URL.Host, new or shared with other streams, and returns the
	// response with its header, and the stream as a net.Conn: reads return the response's
	// content, writes send the request's, and Close ends the stream. Dial judges the response
	// (RFC 8441 §5: a 2xx status accepts the WebSocket); a refusal's content is its body.
	//
	// ctx bounds the connection's setup and the exchange of the headers; the stream must
	// outlive it. An error that wraps ErrFallbackHTTP1 makes Dial connect with HTTP/1.1
	// instead.
	OpenStream(ctx context.Context, req *http.Request) (*http.Response, net.Conn, error)
}

// ErrFallbackHTTP1 is wrapped by the error of a StreamTransport when the server cannot
// carry WebSockets on the transport's streams: an HTTP/2 server that did not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) or did not negotiate HTTP/2 at all (ALPN),
// or an HTTP/3 server without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3). Dial then
// connects with HTTP/1.1, unless the transport was told to insist.
var ErrFallbackHTTP1 = errors.New("wsx: the server does not carry WebSockets over this transport")

// dialTransport runs the opening handshake over opts.Transport, or over HTTP/1.1 when there
// is none or the transport falls back to it.
func dialTransport(ctx context.Context, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts.Transport == nil {
		return dial(ctx, u, opts)
	}
	c, resp, err := dialStream(ctx, u, opts)
	if errors.Is(err, ErrFallbackHTTP1) {
		return dial(ctx, u, opts)
	}
	return c, resp, err
}

// dialStream is the client's handshake over a stream (RFC 8441 §5, RFC 9220 §3).
func dialStream(ctx context.Context, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	offer := handshake.Offer{Protocols: opts.Subprotocols, Extensions: offerExtensions(opts)}
	req, err := newStreamRequest(ctx, u, &offer, opts)
	if err != nil {
		return nil, nil, err
	}
	resp, nc, err := opts.Transport.OpenStream(ctx, req)
	switch {
	case err != nil:
		if nc != nil {
			nc.Close()
		}
		return nil, resp, err
	case resp == nil || nc == nil:
		if nc != nil {
			nc.Close()
		}
		return nil, nil, errors.New("the StreamTransport returned no response or no stream")
	}
	var answer handshake.Answer
	if f := handshake.CheckStreamResponse(resp, &offer, &answer); f.Failed() {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			resp.Body, resp.Request = nc, req
			keepErrorBody(nc, resp)
		}
		nc.Close()
		return nil, resp, errors.New(f.Problem)
	}
	resp.Body = http.NoBody // what follows the header is the WebSocket's
	cfg, err := clientConfig(&answer, opts)
	if err != nil {
		nc.Close()
		return nil, resp, err
	}
	return newConn(nc, cfg), resp, nil
}

// newStreamRequest builds the extended CONNECT request of RFC 8441 §4-§5 for u, making
// offer: the HTTP/1.1 handshake's fields, less those of the Upgrade mechanism (Upgrade,
// Connection, Sec-WebSocket-Key), with :protocol "websocket".
func newStreamRequest(ctx context.Context, u *url.URL, offer *handshake.Offer, opts *DialOptions) (*http.Request, error) {
	req, err := newRequest(ctx, u, offer, opts)
	if err != nil {
		return nil, err
	}
	delete(req.Header, handshake.FieldUpgrade)
	delete(req.Header, handshake.FieldConnection)
	delete(req.Header, handshake.FieldKey)
	req.Header[handshake.FieldPseudoProtocol] = []string{"websocket"}
	req.Method = http.MethodConnect
	req.Proto, req.ProtoMajor, req.ProtoMinor = "", 0, 0 // the transport's
	return req, nil
}
