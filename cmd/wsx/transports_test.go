package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/h3transport"
)

// wsx serve with TLS serves WebSockets over HTTP/1.1, HTTP/2 (RFC 8441) and, with --http3,
// HTTP/3 (RFC 9220) on the same port; its pages advertise HTTP/3 in Alt-Svc.
func TestServeHTTP2AndHTTP3(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--http3")
	insecure := &tls.Config{InsecureSkipVerify: true}
	for _, tc := range []struct {
		name      string
		transport wsx.StreamTransport
		proto     int
	}{
		{"HTTP/1.1", nil, 1},
		{"HTTP/2", &h2transport.Transport{TLSConfig: insecure, NoFallback: true}, 2},
		{"HTTP/3", &h3transport.Transport{TLSConfig: insecure, NoFallback: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, resp, err := wsx.Dial(ctx, s.url+"echo", &wsx.DialOptions{Transport: tc.transport, TLSConfig: insecure, Compression: &wsx.CompressionOptions{}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if resp.ProtoMajor != tc.proto || c.Extensions() == "" {
				t.Errorf("response over %s with extensions %q", resp.Proto, c.Extensions())
			}
			roundTrip(t, c, wsx.MessageText, []byte("over "+tc.name))
			if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
				t.Error(err)
			}
		})
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	port := s.addr[strings.LastIndexByte(s.addr, ':'):]
	if resp.ProtoMajor != 2 || resp.Header.Get("Alt-Svc") != `h3="`+port+`"` {
		t.Errorf("the playground over %s with Alt-Svc %q", resp.Proto, resp.Header.Get("Alt-Svc"))
	}
}

// Without TLS, wsx serve speaks HTTP/2 with prior knowledge (h2c) beside HTTP/1.1.
func TestServeH2C(t *testing.T) {
	s := startServe(t)
	c, resp, err := wsx.Dial(context.Background(), s.url, &wsx.DialOptions{Transport: &h2transport.Transport{NoFallback: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if resp.ProtoMajor != 2 {
		t.Errorf("response over %s, want h2c", resp.Proto)
	}
	roundTrip(t, c, wsx.MessageBinary, []byte("h2c"))
}

// wsx connect --http2 and --http3 carry the session over the protocol asked for, and fail
// rather than fall back when the server does not speak it.
func TestConnectOverStreams(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--http3")
	for _, flag := range []string{"--http2", "--http3"} {
		r := runWSX(t, context.Background(), strings.NewReader("hello "+flag+"\n"), "connect", "--wait", "0", flag, "-k", "-v", s.url)
		want := "HTTP/" + flag[len(flag)-1:] + ".0 200"
		if r.code != exitOK || r.stdout != "hello "+flag+"\n" || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want the echo and %q", flag, r.code, r.stdout, r.stderr, want)
		}
	}
	plain := startServe(t)
	r := runWSX(t, context.Background(), strings.NewReader("x\n"), "connect", "--wait", "0", "--http3", plain.url)
	if r.code == exitOK || !strings.Contains(r.stderr, "HTTP/3 needs a wss:// URL") {
		t.Errorf("--http3 to ws://: exit %d, %q", r.code, r.stderr)
	}
}

// wsx bench --http2 and --http3 carry all their connections as streams of one HTTP/2 or
// QUIC connection: the server sees every WebSocket come from the same address.
func TestBenchOverStreams(t *testing.T) {
	for _, flag := range []string{"--http2", "--http3"} {
		t.Run(flag, func(t *testing.T) {
			s := startServe(t, "--tls-self-signed", "--http3")
			r := runWSX(t, context.Background(), nil, "bench", flag, "-k", "-c", "3", "-n", "20", "--size", "100", s.url)
			if r.code != exitOK || !strings.Contains(r.stdout, "connected 3/3") || !strings.Contains(r.stdout, "60 sent, 60 received, 0 lost, 0 not echoed right, 0 connection errors") {
				t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			remotes := map[string]int{}
			for line := range strings.Lines(s.logs.String()) {
				var entry struct{ Msg, Remote string }
				if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "connected" {
					remotes[entry.Remote]++
				}
			}
			if len(remotes) != 1 {
				t.Errorf("the server saw the WebSockets come from %v, want 3 from one address", remotes)
			}
		})
	}
}
