// Package proxy opens tunnels through proxies to the server a WebSocket client dials (RFC
// 6455 §4.1 client step 3): HTTP CONNECT (RFC 9110 §9.3.6) over TCP or TLS, and SOCKS5 (RFC
// 1928, through internal/socks5).
//
// It speaks over a connection the caller has already opened to the proxy, so that timeouts and
// cancellation stay with the caller (deadlines on that connection, closing it).
package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wsx-go/wsx/internal/httphead"
	"github.com/wsx-go/wsx/internal/socks5"
)

// MaxResponseHead bounds what an HTTP proxy can make the client read before its CONNECT
// response ends.
const MaxResponseHead = 1 << 20

// Tunnel asks the proxy at the other end of nc, described by its URL (schemes http, https,
// socks5 and socks5h; userinfo authenticates), to open a TCP connection to host:port, and
// returns the tunnel. For an https proxy it runs TLS with tlsConfig first. ctx is for name
// resolution (socks5:// resolves the host here, as curl does) and the TLS handshake.
func Tunnel(ctx context.Context, nc net.Conn, proxy *url.URL, tlsConfig *tls.Config, host, port string) (net.Conn, error) {
	switch proxy.Scheme {
	case "socks5", "socks5h":
		return nc, socksConnect(ctx, nc, proxy, host, port)
	case "https":
		tc := tls.Client(nc, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		return httpConnect(tc, proxy, host, port)
	}
	return httpConnect(nc, proxy, host, port)
}

// httpConnect opens a tunnel through the HTTP proxy at the other end of conn with the CONNECT
// method (RFC 9110 §9.3.6), authenticating with Basic credentials (RFC 7617) from the
// proxy URL's userinfo, as in RFC 6455 §4.1's example.
func httpConnect(conn net.Conn, proxy *url.URL, host, port string) (net.Conn, error) {
	target := net.JoinHostPort(host, port)
	b := make([]byte, 0, 256)
	b = append(b, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n"...)
	if u := proxy.User; u != nil {
		password, _ := u.Password()
		b = append(b, "Proxy-Authorization: Basic "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(u.Username()+":"+password))
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("sending CONNECT: %w", err)
	}
	hr := &httphead.HeadReader{R: conn, Limit: MaxResponseHead}
	br := bufio.NewReader(hr)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect, URL: &url.URL{Host: target}})
	if err != nil {
		return nil, fmt.Errorf("reading the CONNECT response: %w", hr.Cause(err))
	}
	// Any 2xx opens the tunnel (RFC 9110 §9.3.6).
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("CONNECT %s refused: %q", target, resp.Status)
	}
	if n := br.Buffered(); n > 0 {
		// The tunnel's first bytes came with the response.
		p, _ := br.Peek(n)
		return &prefixConn{Conn: conn, prefix: bytes.Clone(p)}, nil
	}
	return conn, nil
}

// socksConnect opens a tunnel through the SOCKS5 proxy at the other end of conn (RFC 1928),
// authenticating with username and password (RFC 1929) from the proxy URL's userinfo. As in
// curl, socks5:// resolves the host name here and socks5h:// lets the proxy resolve it.
func socksConnect(ctx context.Context, conn net.Conn, proxy *url.URL, host, port string) error {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	if proxy.Scheme == "socks5" && net.ParseIP(host) == nil {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return err
		}
		host = ips[0].WithZone("").String()
	}
	var auth *socks5.Auth
	if u := proxy.User; u != nil {
		password, _ := u.Password()
		auth = &socks5.Auth{Username: u.Username(), Password: password}
	}
	return socks5.Connect(conn, host, uint16(p), auth)
}

// prefixConn is a net.Conn whose first reads return prefix.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
