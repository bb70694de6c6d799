package interop

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h3transport"
)

// h3Server serves handler over HTTP/3 on a loopback UDP port, with httptest's certificate.
func h3Server(t *testing.T, handler http.Handler) (addr string, spki string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil) // only for its certificate
	ts.StartTLS()
	cert := ts.TLS.Certificates[0]
	spki = spkiFlag(ts)
	ts.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{Handler: h3transport.Handler(handler), TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(pc)
	}()
	t.Cleanup(func() {
		srv.Close()
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), spki
}

// TestChromiumHTTP3: with QUIC forced on for the origin and WebSockets over HTTP/3 turned on
// (a feature flag in Chromium 156), a page served over HTTP/3 by quic-go opens wss://
// WebSockets as RFC 9220 extended CONNECT streams, which wsx.Accept serves through
// h3transport.Handler: the echo with permessage-deflate up to 16 MiB, close codes from both
// sides, and 1009.
func TestChromiumHTTP3(t *testing.T) {
	pages := pagesHandler(t)
	conns := make(chan *serverConn, 8)
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			pages.ServeHTTP(w, r)
			return
		}
		opts := &wsx.AcceptOptions{Subprotocols: []string{"wsx.v1", "wsx.v2"}, Compression: &wsx.CompressionOptions{}}
		if r.URL.RawQuery == "t=tooBig" {
			opts.ReadLimit = 1 << 20
		}
		sc := &serverConn{Query: r.URL.RawQuery, Request: r.Method + " " + r.Proto, Header: r.Header.Clone()}
		sw := &statusWriter{ResponseWriter: w}
		if sc.Conn, sc.Err = wsx.Accept(sw, r, opts); sc.Err != nil {
			sc.Status = sw.status
			conns <- sc
			return
		}
		// Over HTTP/3 the stream outlives the handler, as a hijacked connection does.
		go func() {
			defer sc.Conn.CloseNow()
			sc.Err = echoOrClose(context.Background(), sc)
			conns <- sc
		}()
	})
	addr, spki := h3Server(t, mux)
	tests := []string{"echoSmall", "serverClose", "tooBig", "huge"}
	var urls []string
	for _, test := range tests {
		urls = append(urls, "https://"+addr+"/page?test="+test+"&ws="+url.QueryEscape("wss://"+addr+"/ws?t="+test))
	}
	results := runChromium(t, urls, spki, "--enable-quic", "--origin-to-force-quic-on="+addr, "--enable-features=EnableWebsocketsOverHttp3")
	byTest := make(map[string]*serverConn)
	for range tests {
		select {
		case sc := <-conns:
			byTest[strings.TrimPrefix(sc.Query, "t=")] = sc
		case <-time.After(eventTimeout):
			t.Fatalf("only %d of %d WebSockets ended", len(byTest), len(tests))
		}
	}
	for i, test := range tests {
		t.Run(test, func(t *testing.T) {
			r, sc := results[i], byTest[test]
			if sc.Request != "CONNECT websocket" {
				t.Fatalf("the WebSocket came as %q; want an extended CONNECT over HTTP/3 (quic-go puts :protocol in r.Proto)", sc.Request)
			}
			switch test {
			case "serverClose":
				if r.Close == nil || r.Close.Code != 1001 || !r.Close.WasClean || sc.Err != nil {
					t.Errorf("Chromium saw close %+v, wsx %v; want a clean 1001", r.Close, sc.Err)
				}
			case "tooBig":
				if r.Close == nil || r.Close.Code != 1009 || sc.Err == nil || !strings.Contains(sc.Err.Error(), "1009") {
					t.Errorf("Chromium saw close %+v, wsx %v; want 1009", r.Close, sc.Err)
				}
			default:
				checkEchoPage(t, r, sc, "wsx.v1")
				if !strings.HasPrefix(r.Extensions, "permessage-deflate") || r.Extensions != sc.Conn.Extensions() {
					t.Errorf("extensions %q (page), %q (wsx)", r.Extensions, sc.Conn.Extensions())
				}
			}
		})
	}
}
