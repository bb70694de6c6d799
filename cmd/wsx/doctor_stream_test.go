package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// runDoctorCmd runs wsx doctor with args and returns its exit status and output.
func runDoctorCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, append([]string{"doctor"}, args...))
	return code, stdout.String() + stderr.String()
}

// wantLines fails t unless out has every line of want.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// The doctor shows a valid RFC 8441 handshake and a valid RFC 9220 one step by step.
func TestDoctorStreamValid(t *testing.T) {
	s := startServe(t, "--tls-self-signed", "--http3")
	code, out := runDoctorCmd(t, "--http2", "-k", "-s", "chat", s.url)
	if code != exitOK {
		t.Errorf("--http2: exit %d", code)
	}
	wantLines(t, out, "ALPN h2", "< SETTINGS ", "ENABLE_CONNECT_PROTOCOL=1", "> :method: CONNECT", "> :protocol: websocket",
		"> sec-websocket-version: 13", "< :status: 200", "ok    status 200 accepts the WebSocket (RFC 8441 §5)",
		"answered our Close with 1000", "ended its half of the stream", "Result: the handshake is valid")
	code, out = runDoctorCmd(t, "--http3", "-k", s.url)
	if code != exitOK {
		t.Errorf("--http3: exit %d", code)
	}
	wantLines(t, out, "ALPN h3", "ENABLE_CONNECT_PROTOCOL=true", "> :protocol: websocket", "< :status: 200", "(RFC 9220 §3)", "Result: the handshake is valid")
}

// The doctor names what is wrong: no h2 in ALPN, the setting not advertised, a status other
// than 200.
func TestDoctorStreamProblems(t *testing.T) {
	h1 := httptest.NewTLSServer(http.NotFoundHandler()) // HTTP/1.1 only
	defer h1.Close()
	noSetting := httptest.NewUnstartedServer(nil)
	noSetting.TLS = &tls.Config{NextProtos: []string{"h2"}}
	noSetting.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) {
		defer c.Close()
		io.ReadFull(c, make([]byte, len(http2.ClientPreface)))
		http2.NewFramer(c, c).WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
		io.Copy(io.Discard, c)
	}}
	noSetting.StartTLS()
	defer noSetting.Close()
	refusing := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no WebSockets here", http.StatusForbidden)
	}))
	refusing.EnableHTTP2 = true
	refusing.StartTLS()
	defer refusing.Close()
	wss := func(s *httptest.Server) string { return "wss" + strings.TrimPrefix(s.URL, "https") + "/" }
	for _, tc := range []struct {
		name string
		url  string
		want []string
	}{
		{"HTTP/1.1 only", wss(h1), []string{`ALPN: the server chose "http/1.1", not h2`}},
		{"setting not advertised", wss(noSetting), []string{"did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)", "GODEBUG=http2xconnect=1"}},
		{"refused", wss(refusing), []string{"< :status: 403", `server answered "403 Forbidden", want 200 (RFC 8441 §5)`, "no WebSockets here"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runDoctorCmd(t, "--http2", "-k", tc.url)
			if code != exitFail {
				t.Errorf("exit %d, want %d", code, exitFail)
			}
			wantLines(t, out, tc.want...)
		})
	}
}
