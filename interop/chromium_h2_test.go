package interop

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	_ "github.com/wsx-go/wsx/xconnect" // net/http's HTTP/2 servers advertise RFC 8441
)

// pagesHandler serves testdata/page.html at /page.
func pagesHandler(t *testing.T) http.Handler {
	page, err := os.ReadFile(filepath.Join("testdata", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	})
}

// startTLSHTTP2 starts a test server over TLS with HTTP/2 and HTTP/1.1 in ALPN.
func startTLSHTTP2(s *httptest.Server) {
	s.EnableHTTP2 = true
	s.StartTLS()
}

// spkiFlag is the Chromium flag that trusts s's certificate by its public key.
func spkiFlag(s *httptest.Server) string {
	sum := sha256.Sum256(s.Certificate().RawSubjectPublicKeyInfo)
	return "--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestChromiumHTTP2: a page served over HTTPS with HTTP/2 opens wss:// WebSockets to its own
// origin, and Chromium carries them as extended CONNECT streams of that HTTP/2 connection
// (RFC 8441), which the servers see: the echo of every size up to 16 MiB, with and without
// permessage-deflate, close codes from both sides, and 1009.
func TestChromiumHTTP2(t *testing.T) {
	pages := pagesHandler(t)
	subprotocols := []string{"wsx.v1", "wsx.v2"}
	limited := startWSXServer(t, nil, &wsx.AcceptOptions{Subprotocols: subprotocols, ConnOptions: wsx.ConnOptions{ReadLimit: 1 << 20}}, pages, echoOrClose, startTLSHTTP2)
	deflate := startWSXServer(t, nil, &wsx.AcceptOptions{Subprotocols: subprotocols, Compression: &wsx.CompressionOptions{}}, pages, echoOrClose, startTLSHTTP2)
	pageURL := func(s *wsxServer, test string) string {
		ws := "wss" + strings.TrimPrefix(s.URL, "https") + "/ws?t=" + test
		return s.URL + "/page?test=" + test + "&ws=" + url.QueryEscape(ws)
	}
	// httptest's servers share one certificate: one flag trusts both.
	results := runChromium(t, []string{
		pageURL(limited, "echoSmall"),
		pageURL(limited, "serverClose"),
		pageURL(limited, "tooBig"),
		pageURL(deflate, "echo"),
		pageURL(deflate, "huge"),
	}, spkiFlag(limited.Server))
	conns := byQuery(t, limited, 3)
	viaHTTP2 := func(t *testing.T, sc *serverConn) {
		t.Helper()
		if sc.Request != "CONNECT HTTP/2.0" || sc.Header.Get(":protocol") != "websocket" {
			t.Errorf("the WebSocket came as %q with :protocol %q; want an extended CONNECT over HTTP/2", sc.Request, sc.Header.Get(":protocol"))
		}
		if v := sc.Header.Get("Sec-WebSocket-Key"); v != "" {
			t.Errorf("Chromium sent Sec-WebSocket-Key %q over HTTP/2 (RFC 8441 §5)", v)
		}
	}
	t.Run("echo", func(t *testing.T) {
		sc := conns["t=echoSmall"]
		viaHTTP2(t, sc)
		checkEchoPage(t, results[0], sc, "wsx.v1")
		t.Logf("Chromium's request: %s, :protocol %q, Origin %q, Sec-WebSocket-Extensions %q", sc.Request, sc.Header.Get(":protocol"), sc.Header.Get("Origin"), sc.Header.Get("Sec-WebSocket-Extensions"))
	})
	t.Run("server closes", func(t *testing.T) {
		r, sc := results[1], conns["t=serverClose"]
		viaHTTP2(t, sc)
		if r.Close == nil || r.Close.Code != 1001 || r.Close.Reason != "server going away" || !r.Close.WasClean {
			t.Errorf("Chromium saw close %+v, want a clean 1001", r.Close)
		}
		if sc.Err != nil {
			t.Errorf("wsx Close: %v", sc.Err)
		}
	})
	t.Run("too big", func(t *testing.T) {
		r, sc := results[2], conns["t=tooBig"]
		viaHTTP2(t, sc)
		if r.Close == nil || r.Close.Code != 1009 {
			t.Errorf("Chromium saw close %+v, want 1009", r.Close)
		}
		if sc.Err == nil || !strings.Contains(sc.Err.Error(), "1009") {
			t.Errorf("wsx read ended with %v, want a failure with 1009", sc.Err)
		}
	})
	dconns := byQuery(t, deflate, 2)
	for i, name := range []string{"echo", "huge"} {
		t.Run("permessage-deflate "+name, func(t *testing.T) {
			r, sc := results[3+i], dconns["t="+name]
			viaHTTP2(t, sc)
			checkEchoPage(t, r, sc, "wsx.v1")
			if !strings.HasPrefix(r.Extensions, "permessage-deflate") || r.Extensions != sc.Conn.Extensions() {
				t.Errorf("extensions %q (page), %q (wsx)", r.Extensions, sc.Conn.Extensions())
			}
		})
	}
}
