package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
)

// TestNodeHTTP2Client: Node's core http2 client opens a WebSocket on a wsx server with an
// extended CONNECT made by hand (RFC 8441 §4-§5), after the server's SETTINGS advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL; its frames echo and the closing handshake completes.
func TestNodeHTTP2Client(t *testing.T) {
	s := startWSXServer(t, nil, &wsx.AcceptOptions{Subprotocols: []string{"chat"}}, nil, echoOrClose, startTLSHTTP2)
	messages := []string{"hello from node", "κόσμε", strings.Repeat("x", 100_000)}
	p := startNode(t, "h2-peer.js", map[string]any{
		"mode": "client", "url": "https" + strings.TrimPrefix(s.URL, "https") + "/ws?t=node",
		"protocols": []string{"chat", "other"}, "messages": messages, "close": map[string]any{"code": 1000, "reason": "bye"},
	})
	var settings struct {
		EnableConnectProtocol bool `json:"enableConnectProtocol"`
	}
	json.Unmarshal(p.expect("settings").Result, &settings)
	if !settings.EnableConnectProtocol {
		t.Fatal("Node did not see SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)")
	}
	resp := p.expect("response")
	if resp.Status != 200 || resp.Protocol != "chat" {
		t.Fatalf("response %d, subprotocol %q; want 200 chat", resp.Status, resp.Protocol)
	}
	for _, want := range messages {
		if got := p.expect("message").Message; got != want {
			t.Fatalf("echo of %d bytes: got %d", len(want), len(got))
		}
	}
	if ev := p.expect("close"); ev.Code != 1000 {
		t.Errorf("Node got close %d %q; want the server's echo of 1000", ev.Code, ev.Reason)
	}
	p.expect("end") // the server's END_STREAM once its handler returned
	sc := s.next(t)
	if sc.Request != "CONNECT HTTP/2.0" || sc.Header.Get(":protocol") != "websocket" {
		t.Errorf("the server saw %q :protocol %q", sc.Request, sc.Header.Get(":protocol"))
	}
	wantClose(t, sc.Err, 1000, "bye")
}

// TestNodeHTTP2Server: wsx's client, over h2transport, against Node's core http2 server with
// enableConnectProtocol: the extended CONNECT Node receives, the echo, the closing handshake.
func TestNodeHTTP2Server(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil) // for its certificate
	ts.StartTLS()
	ts.Close()
	cert := ts.TLS.Certificates[0]
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	p := startNode(t, "h2-peer.js", map[string]any{
		"mode":     "server",
		"cert":     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})),
		"key":      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
		"protocol": "chat",
	})
	port := p.expect("listening").Port
	roots := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	roots.AddCert(leaf)
	tr := &h2transport.Transport{TLSConfig: &tls.Config{RootCAs: roots}, NoFallback: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	c, resp, err := wsx.Dial(ctx, "wss://127.0.0.1:"+strconv.Itoa(port)+"/chat?room=1", &wsx.DialOptions{
		Transport: tr, Subprotocols: []string{"other", "chat"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var req map[string]any
	json.Unmarshal(p.expect("request").Result, &req)
	for name, want := range map[string]string{":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/chat?room=1", "sec-websocket-version": "13", "sec-websocket-protocol": "other, chat"} {
		if req[name] != want {
			t.Errorf("Node received %s %v, want %q", name, req[name], want)
		}
	}
	for _, name := range []string{"sec-websocket-key", "upgrade", "connection"} {
		if v, ok := req[name]; ok {
			t.Errorf("Node received %s: %v (RFC 8441 §5)", name, v)
		}
	}
	if resp.ProtoMajor != 2 || c.Subprotocol() != "chat" {
		t.Errorf("response %s, subprotocol %q", resp.Proto, c.Subprotocol())
	}
	for _, msg := range []string{"hello from wsx", strings.Repeat("y", 70_000)} {
		if err := c.Write(ctx, wsx.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got := p.expect("message"); got.Message != msg {
			t.Fatalf("Node received %d bytes, want %d", len(got.Message), len(msg))
		}
		if _, echo, err := c.Read(ctx); err != nil || string(echo) != msg {
			t.Fatalf("echo: %d bytes, %v", len(echo), err)
		}
	}
	start := time.Now()
	if err := c.Close(wsx.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ev := p.expect("close"); ev.Code != 1000 || ev.Reason != "bye" {
		t.Errorf("Node got close %d %q", ev.Code, ev.Reason)
	}
	t.Logf("closing handshake with Node: %v", time.Since(start))
}
