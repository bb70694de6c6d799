//go:build !js

package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cannedTransport answers OpenStream with a fixed response and a stream whose content is body,
// and records the request.
type cannedTransport struct {
	req    *http.Request
	status int
	header http.Header
	body   string
	err    error
}

func (c *cannedTransport) OpenStream(ctx context.Context, req *http.Request) (*http.Response, net.Conn, error) {
	c.req = req
	if c.err != nil {
		return nil, nil, c.err
	}
	resp := &http.Response{StatusCode: c.status, Status: fmt.Sprint(c.status), Header: c.header, Body: http.NoBody}
	a, b := net.Pipe()
	go func() {
		io.WriteString(b, c.body) // the stream's content: a refusal's body
		b.Close()
	}()
	return resp, a, nil
}

// Dial's extended CONNECT (RFC 8441 §4-§5): method CONNECT, :protocol websocket, the
// handshake's fields without those of the Upgrade mechanism.
func TestDialStreamRequest(t *testing.T) {
	tr := &cannedTransport{status: 200, header: http.Header{"Sec-Websocket-Protocol": {"b"}}}
	c, resp, err := Dial(context.Background(), "wss://wsx.test/chat?x=1", &DialOptions{
		Transport: tr, Subprotocols: []string{"a", "b"}, Origin: "https://wsx.test", Compression: &CompressionOptions{},
		Header: http.Header{"Authorization": {"Bearer t"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	r := tr.req
	if r.Method != "CONNECT" || r.URL.String() != "https://wsx.test/chat?x=1" || r.Host != "wsx.test" || r.Header.Get(":protocol") != "websocket" {
		t.Errorf("request %s %s host %q :protocol %q", r.Method, r.URL, r.Host, r.Header.Get(":protocol"))
	}
	for name, want := range map[string]string{"Sec-Websocket-Version": "13", "Sec-Websocket-Protocol": "a, b", "Origin": "https://wsx.test", "Authorization": "Bearer t"} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix(r.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
		t.Errorf("Sec-WebSocket-Extensions %q", r.Header.Get("Sec-Websocket-Extensions"))
	}
	for _, f := range []string{"Upgrade", "Connection", "Sec-Websocket-Key"} {
		if v, ok := r.Header[f]; ok {
			t.Errorf("request carries %s: %q (RFC 8441 §5)", f, v)
		}
	}
	if c.Subprotocol() != "b" || resp.Body != http.NoBody {
		t.Errorf("subprotocol %q, body %v", c.Subprotocol(), resp.Body)
	}
}

// Dial checks the answer per RFC 8441 §5 and RFC 6455 §4.1: a 2xx, and no subprotocol or
// extension that was not offered. A refusal comes back with its body.
func TestDialStreamResponseChecks(t *testing.T) {
	for _, tc := range []struct {
		tr   *cannedTransport
		want string
	}{
		{&cannedTransport{status: 403, body: "go away"}, `server answered "403", want 200 (RFC 8441 §5)`},
		{&cannedTransport{status: 200, header: http.Header{"Sec-Websocket-Protocol": {"z"}}}, `subprotocol "z", which was not offered`},
		{&cannedTransport{status: 200, header: http.Header{"Sec-Websocket-Extensions": {"x-unknown"}}}, `extension "x-unknown", which was not offered`},
		{&cannedTransport{err: errors.New("stream refused")}, "stream refused"},
	} {
		_, resp, err := Dial(context.Background(), "wss://wsx.test/", &DialOptions{Transport: tc.tr, Subprotocols: []string{"a"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial = %v, want an error with %q", err, tc.want)
		}
		if tc.tr.status == 403 {
			if body, _ := io.ReadAll(resp.Body); string(body) != "go away" {
				t.Errorf("refusal body %q", body)
			}
		}
	}
}

// A transport error that wraps ErrFallbackHTTP1 makes Dial use HTTP/1.1; any other does not.
func TestDialStreamFallback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, nil); err == nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	c, resp, err := Dial(context.Background(), url, &DialOptions{Transport: &cannedTransport{err: fmt.Errorf("%w: no setting", ErrFallbackHTTP1)}})
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("Dial = %v, %v; want the HTTP/1.1 handshake", resp, err)
	}
	c.CloseNow()
}
