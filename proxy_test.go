//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tunnel copies between the client's connection (read through br) and upstream until either
// side ends.
func tunnel(client net.Conn, br *bufio.Reader, upstream net.Conn) {
	done := make(chan struct{})
	go func() {
		io.Copy(upstream, br)
		upstream.Close()
		close(done)
	}()
	io.Copy(client, upstream)
	client.Close()
	<-done
}

// connectProxy is an HTTP proxy that serves CONNECT by tunnelling to upstream, whatever the
// requested target, and records the requests.
type connectProxy struct {
	upstream string
	auth     string // required Proxy-Authorization value; "" for none
	stall    bool   // read the request and never answer
	requests chan *http.Request
}

func (p *connectProxy) start(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	p.requests = make(chan *http.Request, 16)
	ln := listen(t, "tcp", "127.0.0.1:0")
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return serveTCP(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			st := tc.ConnectionState()
			req.TLS = &st
		}
		p.requests <- req
		switch {
		case p.stall:
			io.Copy(io.Discard, br)
			return
		case req.Method != http.MethodConnect:
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		case p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth:
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		tunnel(c, br, up)
	})
}

// proxyTo returns a DialOptions.Proxy that always picks proxy.
func proxyTo(t testing.TB, proxy string) func(*http.Request) (*url.URL, error) {
	u, err := url.Parse(proxy)
	if err != nil {
		t.Fatal(err)
	}
	return http.ProxyURL(u)
}

// §4.1 client step 3: through an HTTP proxy, the client asks for a tunnel to /host/:/port/
// with CONNECT (RFC 9110 §9.3.6), then runs the handshake in it.
func TestDialHTTPProxy_4_1_Step3(t *testing.T) {
	ws, got := startRawServer(t, nil, echo)
	p := &connectProxy{upstream: ws}
	paddr := p.start(t, nil)
	var asked []string
	c, _ := mustDial(t, testCtx(t), "ws://example.com:8080/chat", &DialOptions{
		Proxy:          proxyTo(t, "http://"+paddr),
		NetDialContext: dialTo(paddr, &asked),
	})
	echoes(t, c, "through the proxy")
	req := <-p.requests
	if req.Method != http.MethodConnect || req.RequestURI != "example.com:8080" || req.Host != "example.com:8080" {
		t.Errorf("proxy got %s %s with Host %q, want CONNECT example.com:8080", req.Method, req.RequestURI, req.Host)
	}
	if v := req.Header.Get("Proxy-Authorization"); v != "" {
		t.Errorf("Proxy-Authorization %q sent without credentials", v)
	}
	if len(asked) != 1 || asked[0] != paddr {
		t.Errorf("dialed %q, want only the proxy %s", asked, paddr)
	}
	if h := <-got; h.req.Host != "example.com:8080" || h.req.RequestURI != "/chat" {
		t.Errorf("server got Host %q, target %q", h.req.Host, h.req.RequestURI)
	}
}

// §4.1 client step 3: proxy credentials from the proxy URL go in Proxy-Authorization (Basic);
// a refusal is an error that names the status.
func TestDialHTTPProxyAuth_4_1_Step3(t *testing.T) {
	ws, _ := startRawServer(t, nil, echo)
	p := &connectProxy{upstream: ws, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("user:p@ss:w0rd"))}
	paddr := p.start(t, nil)

	c, _ := mustDial(t, testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, "http://user:p%40ss:w0rd@"+paddr)})
	echoes(t, c, "authenticated")
	if req := <-p.requests; req.Header.Get("Proxy-Authorization") != p.auth {
		t.Errorf("Proxy-Authorization %q, want %q", req.Header.Get("Proxy-Authorization"), p.auth)
	}

	for _, proxy := range []string{"http://user:wrong@" + paddr, "http://" + paddr} {
		_, resp, err := Dial(testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, proxy)})
		if err == nil || !strings.Contains(err.Error(), "407 Proxy Authentication Required") || resp != nil {
			t.Errorf("via %s: Dial = %v, %v; want an error naming 407", proxy, resp, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong") {
			t.Errorf("error %q shows the proxy password", err)
		}
		<-p.requests
	}
}

// https:// proxies are reached over TLS, verified against the proxy's own name (not
// TLSConfig.ServerName, which names the server); a wss:// server is then reached over TLS
// inside that tunnel.
func TestDialHTTPSProxy(t *testing.T) {
	cert, pool := testTLS(t)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	ws, got := startRawServer(t, tlsCfg, echo)
	p := &connectProxy{upstream: ws}
	paddr := p.start(t, tlsCfg)
	c, _ := mustDial(t, testCtx(t), "wss://example.com/", &DialOptions{
		Proxy:     proxyTo(t, "https://"+paddr),
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	})
	echoes(t, c, "TLS in TLS")
	req := <-p.requests
	if req.RequestURI != "example.com:443" {
		t.Errorf("CONNECT %s, want example.com:443", req.RequestURI)
	}
	if req.TLS == nil || req.TLS.ServerName != "" { // no SNI for an IP address (RFC 6066 §3)
		t.Errorf("proxy's TLS state %+v, want a connection to 127.0.0.1 without SNI", req.TLS)
	}
	if st := (<-got).nc.(*tls.Conn).ConnectionState(); st.ServerName != "example.com" {
		t.Errorf("server saw SNI %q, want example.com", st.ServerName)
	}
}

// The Proxy function sees the handshake request with the http or https scheme, so that
// http.ProxyFromEnvironment picks HTTP_PROXY for ws:// and HTTPS_PROXY for wss://; its
// error fails Dial; only known proxy schemes are used.
func TestDialProxyFunc(t *testing.T) {
	var seen []string
	sentinel := errors.New("no proxy for you")
	opts := &DialOptions{Proxy: func(r *http.Request) (*url.URL, error) {
		seen = append(seen, r.URL.String()+" Host="+r.Host)
		return nil, sentinel
	}}
	for _, u := range []string{"ws://example.com/a?b", "wss://example.com:8443/"} {
		if _, _, err := Dial(testCtx(t), u, opts); !errors.Is(err, sentinel) {
			t.Errorf("Dial(%s) = %v, want the Proxy function's error", u, err)
		}
	}
	want := []string{"http://example.com/a?b Host=example.com", "https://example.com:8443/ Host=example.com:8443"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("Proxy saw %q, want %q", seen, want)
	}

	for _, proxy := range []string{"ftp://127.0.0.1:1", "socks4://127.0.0.1:1", "http://"} {
		var asked []string
		_, _, err := Dial(testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, proxy), NetDialContext: dialTo("127.0.0.1:1", &asked)})
		if err == nil || len(asked) != 0 {
			t.Errorf("proxy %s: Dial = %v after dialing %q, want an error before dialing", proxy, err, asked)
		}
	}
}

// A proxy that refuses or never answers fails Dial: with its status, or when ctx expires.
func TestDialProxyFailures(t *testing.T) {
	bad := &connectProxy{upstream: "127.0.0.1:1"} // upstream refuses: 502
	baddr := bad.start(t, nil)
	if _, _, err := Dial(testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, "http://"+baddr)}); err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("Dial = %v, want an error naming 502", err)
	}

	stalled := &connectProxy{stall: true}
	saddr := stalled.start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := Dial(ctx, "ws://example.com/", &DialOptions{Proxy: proxyTo(t, "http://"+saddr)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial = %v, want context.DeadlineExceeded", err)
	}
}

// socksServer is a SOCKS5 server (RFC 1928) that tunnels every CONNECT to upstream and
// records what was asked.
type socksServer struct {
	upstream string
	user     string // required username/password (RFC 1929); "" for no authentication
	password string
	requests chan socksRequest
}

type socksRequest struct {
	method byte   // the authentication method used
	atyp   byte   // the address type of the CONNECT request
	addr   string // the address, as text
	port   int
}

func (s *socksServer) start(t testing.TB) string {
	t.Helper()
	s.requests = make(chan socksRequest, 16)
	return serveTCP(t, listen(t, "tcp", "127.0.0.1:0"), func(c net.Conn) {
		if err := s.serve(c); err != nil {
			t.Logf("socks server: %v", err)
		}
	})
}

func (s *socksServer) serve(c net.Conn) error {
	br := bufio.NewReader(c)
	read := func(n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		return b, err
	}
	h, err := read(2)
	if err != nil || h[0] != 5 {
		return fmt.Errorf("greeting %x: %v", h, err)
	}
	methods, err := read(int(h[1]))
	if err != nil {
		return err
	}
	var r socksRequest
	if s.user != "" {
		r.method = 2
	}
	if !bytes.Contains(methods, []byte{r.method}) {
		c.Write([]byte{5, 0xff})
		return fmt.Errorf("methods %x lack %d", methods, r.method)
	}
	c.Write([]byte{5, r.method})
	if r.method == 2 {
		v, _ := read(2)
		user, _ := read(int(v[1]))
		pl, _ := read(1)
		password, err := read(int(pl[0]))
		if err != nil || v[0] != 1 {
			return fmt.Errorf("bad subnegotiation")
		}
		if string(user) != s.user || string(password) != s.password {
			c.Write([]byte{1, 1})
			return nil
		}
		c.Write([]byte{1, 0})
	}
	req, err := read(4)
	if err != nil || req[0] != 5 || req[1] != 1 {
		return fmt.Errorf("request %x: %v", req, err)
	}
	r.atyp = req[3]
	switch r.atyp {
	case 1, 4:
		ip, _ := read(map[byte]int{1: 4, 4: 16}[r.atyp])
		r.addr = net.IP(ip).String()
	case 3:
		n, _ := read(1)
		name, _ := read(int(n[0]))
		r.addr = string(name)
	}
	port, err := read(2)
	if err != nil {
		return err
	}
	r.port = int(port[0])<<8 | int(port[1])
	s.requests <- r
	up, err := net.Dial("tcp", s.upstream)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return nil
	}
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90})
	tunnel(c, br, up)
	return nil
}

// RFC 1928: socks5h:// sends the host name for the proxy to resolve; socks5:// resolves it
// here and sends the address; RFC 1929 credentials come from the proxy URL.
func TestDialSOCKS5(t *testing.T) {
	ws, got := startRawServer(t, nil, echo)

	open := &socksServer{upstream: ws}
	oaddr := open.start(t)
	c, _ := mustDial(t, testCtx(t), "ws://example.com:8080/s", &DialOptions{Proxy: proxyTo(t, "socks5h://"+oaddr)})
	echoes(t, c, "via socks5h")
	if r := <-open.requests; r != (socksRequest{method: 0, atyp: 3, addr: "example.com", port: 8080}) {
		t.Errorf("SOCKS request %+v, want no auth, domain example.com:8080", r)
	}
	if h := <-got; h.req.Host != "example.com:8080" {
		t.Errorf("Host %q, want example.com:8080", h.req.Host)
	}

	c, _ = mustDial(t, testCtx(t), "ws://localhost/", &DialOptions{Proxy: proxyTo(t, "socks5://"+oaddr)})
	echoes(t, c, "via socks5")
	if r := <-open.requests; (r.atyp != 1 && r.atyp != 4) || !net.ParseIP(r.addr).IsLoopback() || r.port != 80 {
		t.Errorf("SOCKS request %+v, want localhost's address, port 80", r)
	}
	<-got

	auth := &socksServer{upstream: ws, user: "user", password: "s3cret"}
	aaddr := auth.start(t)
	c, _ = mustDial(t, testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, "socks5h://user:s3cret@"+aaddr)})
	echoes(t, c, "authenticated")
	if r := <-auth.requests; r.method != 2 || r.addr != "example.com" || r.port != 80 {
		t.Errorf("SOCKS request %+v, want username/password auth, example.com:80", r)
	}
	<-got

	for _, proxy := range []string{"socks5h://user:wrong@" + aaddr, "socks5h://" + aaddr} {
		if _, _, err := Dial(testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, proxy)}); err == nil || !strings.Contains(err.Error(), "authentication") {
			t.Errorf("via %s: Dial = %v, want an authentication error", proxy, err)
		}
	}

	refused := &socksServer{upstream: "127.0.0.1:1"}
	raddr := refused.start(t)
	if _, _, err := Dial(testCtx(t), "ws://example.com/", &DialOptions{Proxy: proxyTo(t, "socks5h://"+raddr)}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Dial = %v, want the proxy's connection refused", err)
	}
}

// With a nil Proxy, Dial honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY, except for localhost.
// http.ProxyFromEnvironment reads the environment once per process, so the test runs in a
// fresh one.
func TestDialProxyFromEnvironment(t *testing.T) {
	if os.Getenv("WSX_TEST_PROXY_ENV") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDialProxyFromEnvironment$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "WSX_TEST_PROXY_ENV=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestDialProxyFromEnvironment")) {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}

	cert, pool := testTLS(t)
	ws, got := startRawServer(t, nil, echo)
	wss, _ := startRawServer(t, &tls.Config{Certificates: []tls.Certificate{cert}}, echo)
	httpProxy := &connectProxy{upstream: ws}
	httpsProxy := &connectProxy{upstream: wss}
	t.Setenv("HTTP_PROXY", "http://"+httpProxy.start(t, nil))
	t.Setenv("HTTPS_PROXY", httpsProxy.start(t, nil)) // host:port alone means http://
	t.Setenv("NO_PROXY", "direct.test")
	t.Setenv("REQUEST_METHOD", "") // under CGI, HTTP_PROXY is ignored

	var asked []string
	opts := &DialOptions{
		TLSConfig: &tls.Config{RootCAs: pool},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			asked = append(asked, addr)
			if addr == "direct.test:80" {
				addr = ws
			}
			return new(net.Dialer).DialContext(ctx, network, addr)
		},
	}
	c, _ := mustDial(t, testCtx(t), "ws://via.test/", opts)
	echoes(t, c, "HTTP_PROXY")
	if r := <-httpProxy.requests; r.RequestURI != "via.test:80" {
		t.Errorf("HTTP_PROXY got CONNECT %s, want via.test:80", r.RequestURI)
	}
	<-got
	c, _ = mustDial(t, testCtx(t), "wss://example.com/", opts)
	echoes(t, c, "HTTPS_PROXY")
	if r := <-httpsProxy.requests; r.RequestURI != "example.com:443" {
		t.Errorf("HTTPS_PROXY got CONNECT %s, want example.com:443", r.RequestURI)
	}
	c, _ = mustDial(t, testCtx(t), "ws://direct.test/", opts)
	echoes(t, c, "NO_PROXY")
	<-got
	_, port, _ := net.SplitHostPort(ws)
	c, _ = mustDial(t, testCtx(t), "ws://localhost:"+port+"/", opts)
	echoes(t, c, "localhost")
	<-got
	want := []string{os.Getenv("HTTP_PROXY")[len("http://"):], os.Getenv("HTTPS_PROXY"), "direct.test:80", "localhost:" + port}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("dialed %q, want %q", asked, want)
	}
	select {
	case r := <-httpProxy.requests:
		t.Errorf("HTTP_PROXY used for %s", r.RequestURI)
	default:
	}
}
