package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
)

// logEntries returns the JSON log entries of a server with message msg.
func logEntries(s *testServer, msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(s.logs.String()) {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// wsx proxy forwards a connection with its path, query, subprotocol offer, Origin and header
// fields, logs every message both ways, and passes a Close on with its code and reason.
func TestProxyRelays(t *testing.T) {
	closed := make(chan error, 1)
	upstream := wsServer(t, func(c *wsx.Conn, r *http.Request) {
		info := strings.Join([]string{r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Origin"),
			r.Header.Get("User-Agent"), r.Header.Get("Sec-WebSocket-Protocol"), c.Subprotocol()}, "|")
		c.Write(context.Background(), wsx.MessageText, []byte(info))
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				closed <- err
				return
			}
			c.Write(context.Background(), typ, append([]byte("echo:"), msg...))
		}
	})
	p := startServer(t, "proxy", "127.0.0.1:0", upstream+"api", "--origin", "page.example")
	c := dialTest(t, p.url+"v1?x=1", &wsx.DialOptions{Origin: "http://page.example", Subprotocols: []string{"v1", "v9"},
		Header: http.Header{"Authorization": {"Bearer abc"}, "User-Agent": {"test/1"}}})
	ctx := context.Background()
	_, info, err := c.Read(ctx)
	if err != nil || string(info) != "/api/v1|x=1|Bearer abc|http://page.example|test/1|v1, v9|v1" || c.Subprotocol() != "v1" {
		t.Fatalf("the server saw %q (%v); the client agreed on %q", info, err, c.Subprotocol())
	}
	roundTripWant(t, c, wsx.MessageText, "hello\x1b", wsx.MessageText, "echo:hello\x1b")
	roundTripWant(t, c, wsx.MessageBinary, "\x00\x01", wsx.MessageBinary, "echo:\x00\x01")
	if err := c.Close(4001, "bye"); err != nil {
		t.Fatal(err)
	}
	var ce *wsx.CloseError
	if err := <-closed; !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("the server saw %v, want close 4001 bye", err)
	}
	waitForLog(t, p, `"msg":"closed"`)
	var got []string
	for _, e := range logEntries(p, "message") {
		got = append(got, e["from"].(string)+" "+e["type"].(string)+" "+e["data"].(string))
	}
	want := []string{"server text /api/v1|x=1|Bearer abc|http://page.example|test/1|v1, v9|v1", `client text hello\x1b`,
		`server text echo:hello\x1b`, "client binary 00 01", "server binary 65 63 68 6f 3a 00 01"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := logEntries(p, "closed"); len(e) != 1 || e[0]["by"] != "client" || e[0]["status"] != float64(4001) || e[0]["reason"] != "bye" {
		t.Errorf("closed: %v", e)
	}
}

// The server's Close reaches the client with its code and reason; a server that drops the
// connection makes the proxy close the client with 1014 (bad gateway).
func TestProxyServerEnds(t *testing.T) {
	for _, tc := range []struct {
		end    func(*wsx.Conn)
		code   wsx.StatusCode
		reason string
	}{
		{func(c *wsx.Conn) { c.Close(4002, "server says") }, 4002, "server says"},
		{func(c *wsx.Conn) { c.CloseNow() }, wsx.StatusBadGateway, "the server went away"},
	} {
		upstream := wsServer(t, func(c *wsx.Conn, _ *http.Request) { tc.end(c) })
		p := startServer(t, "proxy", "127.0.0.1:0", upstream)
		c := dialTest(t, p.url, nil)
		_, _, err := c.Read(context.Background())
		var ce *wsx.CloseError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Reason != tc.reason {
			t.Errorf("the client saw %v, want close %d %q", err, tc.code, tc.reason)
		}
	}
}

// A server's refusal goes back to the client: status, body, WWW-Authenticate.
func TestProxyRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	p := startServer(t, "proxy", "127.0.0.1:0", "ws"+strings.TrimPrefix(srv.URL, "http"))
	_, resp, err := wsx.Dial(context.Background(), p.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="test"` {
		t.Fatalf("got %v, %v", resp, err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "no token\n" {
		t.Fatalf("body %q", body)
	}
	waitForLog(t, p, `"msg":"upstream refused"`)
	if r := runWSX(t, context.Background(), nil, "proxy"); r.code != exitUsage {
		t.Errorf("no URL: %+v", r)
	}
}
