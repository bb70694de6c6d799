package wsx

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DialOptions configures Dial in a browser: what the browser's WebSocket API lets a page
// choose. A nil *DialOptions is the zero value.
type DialOptions struct {
	// Subprotocols are offered in Sec-WebSocket-Protocol, most preferred first (§4.1 item
	// 10); Conn.Subprotocol reports the server's choice.
	Subprotocols []string

	// ConnOptions configure the connection. ReadLimit and CloseTimeout apply; the browser
	// frames and buffers messages and answers pings itself, so the other fields mean nothing
	// here.
	ConnOptions
}

// Dial opens a WebSocket connection to urlStr, a ws:// or wss:// URL (http:// and https://
// are accepted as aliases), through the browser's WebSocket API. The browser performs the
// opening handshake, with its own headers, cookies, Origin and permessage-deflate offer.
//
// ctx bounds the handshake; without a deadline on ctx, DefaultHandshakeTimeout does. On
// success Dial returns a response built from what the browser reports of the handshake:
// status 101 and the Sec-WebSocket-Protocol and Sec-WebSocket-Extensions fields. When the
// handshake fails, the browser does not say why (a refusal, a wrong URL, a network or TLS
// error look the same to a page; its console tells more), so Dial returns an error and no
// response.
func Dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	ctx, cancel := context.WithDeadline(ctx, handshakeDeadline(ctx))
	defer cancel()
	u := urlStr
	switch {
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + u[len("http://"):]
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + u[len("https://"):]
	}
	// The URL's path and query may carry secrets; its scheme and host say enough.
	where := u
	if pu, err := url.Parse(u); err == nil {
		where = pu.Scheme + "://" + pu.Host
	}
	c, err := newBrowserConn(u, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("wsx: dial %s: %w", where, err)
	}
	select {
	case <-c.opened:
	case <-c.ended:
		return nil, nil, fmt.Errorf("wsx: dial %s: the browser could not open the WebSocket (status %v); it does not tell a page why: see its console", where, CloseStatus(c.endErr))
	case <-ctx.Done():
		c.ws.Call("close")
		return nil, nil, fmt.Errorf("wsx: dial %s: %w", where, ctx.Err())
	}
	h := make(http.Header)
	if c.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", c.subprotocol)
	}
	if c.extensions != "" {
		h.Set("Sec-WebSocket-Extensions", c.extensions)
	}
	resp := &http.Response{
		Status:     "101 Switching Protocols",
		StatusCode: http.StatusSwitchingProtocols,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
	}
	return c, resp, nil
}
