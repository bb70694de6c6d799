//go:build !js

package wsx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
	"github.com/wsx-go/wsx/internal/httphead"
)

// acceptConnOn runs AcceptConn with ctx and opts on the server end of a new
// loopback connection and returns the client end and the result to come.
// An accepted Conn is closed at the end of the test.
func acceptConnOn(t *testing.T, ctx context.Context, opts *AcceptOptions) (net.Conn, <-chan acceptResult) {
	t.Helper()
	client, server := tcpPair(t)
	client.SetDeadline(time.Now().Add(10 * time.Second))
	results := make(chan acceptResult, 1)
	done := make(chan acceptResult, 1)
	go func() {
		c, err := AcceptConn(ctx, server, opts)
		results <- acceptResult{c, err}
		done <- acceptResult{c, err}
	}()
	t.Cleanup(func() {
		client.Close()
		if r := <-done; r.conn != nil {
			r.conn.CloseNow()
		}
	})
	return client, results
}

// wireRefusal is a response as AcceptConn wrote it: header fields as sent
// (http.ReadResponse would drop Connection), Date removed.
type wireRefusal struct {
	status int
	header http.Header
	body   string
}

// readRefusal reads a refusal from nc, checks what every refusal of
// AcceptConn holds (a Date, and the end of the connection after the body)
// and returns it.
func readRefusal(t *testing.T, nc net.Conn) wireRefusal {
	t.Helper()
	tp := textproto.NewReader(bufio.NewReader(nc))
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	var r wireRefusal
	proto, status, _ := strings.Cut(line, " ")
	code, text, _ := strings.Cut(status, " ")
	if r.status, err = strconv.Atoi(code); err != nil || proto != "HTTP/1.1" || text != http.StatusText(r.status) {
		t.Fatalf("status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	r.header = http.Header(h)
	if _, err := http.ParseTime(r.header.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", r.header.Get("Date"), err)
	}
	r.header.Del("Date")
	n, err := strconv.Atoi(r.header.Get("Content-Length"))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(tp.R, body); err != nil {
		t.Fatal(err)
	}
	r.body = string(body)
	// Done sending: the server may be waiting for that (see refuse).
	nc.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(tp.R); err != nil || len(rest) > 0 {
		t.Errorf("after the refusal: %q, %v; want the end of the connection", rest, err)
	}
	return r
}

// TestAcceptConn_4_2_1_Refusals sends each of refusalTests to AcceptConn:
// the status, fields and text are Accept's, with Connection: close.
func TestAcceptConn_4_2_1_Refusals(t *testing.T) {
	for _, tt := range refusalTests {
		t.Run(tt.name, func(t *testing.T) {
			nc, results := acceptConnOn(t, context.Background(), tt.opts)
			if _, err := io.WriteString(nc, tt.req); err != nil {
				t.Fatal(err)
			}
			resp := readRefusal(t, nc)
			if resp.status != tt.status {
				t.Errorf("status = %d, want %d", resp.status, tt.status)
			}
			if want := tt.body + "\n"; resp.body != want {
				t.Errorf("body = %q\nwant   %q", resp.body, want)
			}
			want := refusalHeader(tt.body, tt.extra...)
			want.Add("Connection", "close")
			if !maps.EqualFunc(resp.header, want, slices.Equal) {
				t.Errorf("header = %q\nwant     %q", resp.header, want)
			}
			res := acceptedOn(t, results)
			if res.conn != nil || res.err == nil || res.err.Error() != tt.body {
				t.Errorf("AcceptConn = %v, %v; want nil, %q", res.conn, res.err, tt.body)
			}
		})
	}
}

// TestAcceptConn_9112_Refusals checks the refusals of request heads that
// break the HTTP/1.1 syntax (RFC 9112) or AcceptConn's limits, which
// net/http checks before Accept runs.
func TestAcceptConn_9112_Refusals(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	tests := []struct {
		name   string
		req    string
		status int
		body   string
	}{
		{
			// On the wire at last: net/http refuses it before Accept runs.
			name: "4_2_1_Item2_MissingHost", req: upgradeRequest("", []string{"Host"}),
			status: 400, body: "wsx: missing Host header (RFC 6455 §4.2.1 item 2)",
		},
		{
			name: "9112_3_2_HostTwice", req: upgradeRequest("", nil, "Host: other.example.com"),
			status: 400, body: "wsx: Host header sent more than once (RFC 9112 §3.2)",
		},
		{
			name: "9112_3_2_HostMalformed", req: upgradeRequest("", []string{"Host"}, "Host: server example.com"),
			status: 400, body: `wsx: malformed Host header "server example.com" (RFC 9112 §3.2)`,
		},
		{
			name: "9112_3_TwoSpaces", req: upgradeRequest("GET  /chat HTTP/1.1", nil),
			status: 400, body: `wsx: malformed request line "GET  /chat HTTP/1.1"; want method SP request-target SP HTTP-version (RFC 9112 §3)`,
		},
		{
			name: "9112_2_3_Version", req: upgradeRequest("GET /chat HTTP/1.10", nil),
			status: 400, body: `wsx: malformed request line "GET /chat HTTP/1.10"; want method SP request-target SP HTTP-version (RFC 9112 §3)`,
		},
		{
			name: "9112_3_2_TargetEscape", req: upgradeRequest("GET /chat%zz HTTP/1.1", nil),
			status: 400, body: `wsx: malformed request line "GET /chat%zz HTTP/1.1"; want method SP request-target SP HTTP-version (RFC 9112 §3)`,
		},
		{
			name: "9112_3_2_TargetNoHost", req: upgradeRequest("GET chat HTTP/1.1", nil),
			status: 400, body: `wsx: malformed request target "chat" (RFC 9112 §3.2)`,
		},
		{
			name: "9112_5_1_SpaceBeforeColon", req: upgradeRequest("", []string{"Upgrade"}, "Upgrade : websocket"),
			status: 400, body: `wsx: malformed header line "Upgrade : websocket"; want name: value (RFC 9112 §5)`,
		},
		{
			name: "9112_5_NoColon", req: upgradeRequest("", nil, "Upgrade websocket"),
			status: 400, body: `wsx: malformed header line "Upgrade websocket"; want name: value (RFC 9112 §5)`,
		},
		{
			name: "9112_5_2_ObsFold", req: upgradeRequest("", nil, "Sec-WebSocket-Protocol: chat,", " superchat"),
			status: 400, body: `wsx: header line " superchat" continues the previous one: obsolete line folding (RFC 9112 §5.2)`,
		},
		{
			name: "9110_5_5_ControlCharacter", req: upgradeRequest("", nil, "X-Trace: a\x01b"),
			status: 400, body: `wsx: header field X-Trace has a control character in its value "a\x01b" (RFC 9110 §5.5)`,
		},
		{
			name: "9112_2_2_BareLF", req: strings.ReplaceAll(upgradeRequest("", nil), "\r\n", "\n"),
			status: 400, body: "wsx: request head has a line that ends in LF without CR (RFC 9112 §2.2)",
		},
		{
			name: "9112_2_2_BareCR", req: upgradeRequest("", nil, "X-Trace: a\rb"),
			status: 400, body: "wsx: bare CR in the request head (RFC 9112 §2.2)",
		},
		{
			name: "9112_6_3_ContentLengthMalformed", req: upgradeRequest("", nil, "Content-Length: +0"),
			status: 400, body: `wsx: malformed Content-Length "+0" (RFC 9112 §6.3)`,
		},
		{
			name: "9112_6_3_ContentLengthsDiffer", req: upgradeRequest("", nil, "Content-Length: 0", "Content-Length: 1"),
			status: 400, body: `wsx: malformed Content-Length "1" (RFC 9112 §6.3)`,
		},
		{
			name: "4_1_TransferEncoding", req: upgradeRequest("", nil, "Transfer-Encoding: chunked") + "0\r\n\r\n",
			status: 400, body: "wsx: handshake request has a body; frames must follow the request directly (RFC 6455 §4.1)",
		},
		{
			name: "6585_5_TooManyFields", req: upgradeRequest("", nil, slices.Repeat([]string{"X-A: 1"}, 96)...),
			status: 431, body: "wsx: request has more than 100 header fields (RFC 6585 §5)",
		},
		{
			// The client sends more than the server reads: the refusal must
			// still reach it (no reset, see refuse).
			name: "6585_5_HeadTooLong", req: upgradeRequest("", nil, "Cookie: "+strings.Repeat("a", 64<<10)),
			status: 431, body: "wsx: request head longer than 16384 bytes (RFC 6585 §5)",
		},
		{
			// The HTTP/2 connection preface (RFC 9113 §3.4) parses as a request.
			name: "4_2_1_Item1_HTTP2Preface", req: crlf("PRI * HTTP/2.0\n\nSM\n\n"),
			status: 505, body: `wsx: "HTTP/2.0" request; the Upgrade handshake needs HTTP/1.1 (RFC 6455 §4.2.1 item 1), and a WebSocket over HTTP/2 or HTTP/3 an extended CONNECT to a server of those (RFC 8441, RFC 9220)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, results := acceptConnOn(t, context.Background(), nil)
			go io.WriteString(nc, tt.req) // the server may refuse before reading it all
			resp := readRefusal(t, nc)
			if resp.status != tt.status || resp.body != tt.body+"\n" {
				t.Errorf("response %d %q\nwant %d %q", resp.status, resp.body, tt.status, tt.body+"\n")
			}
			if res := acceptedOn(t, results); res.conn != nil || res.err == nil || res.err.Error() != tt.body {
				t.Errorf("AcceptConn = %v, %v; want nil, %q", res.conn, res.err, tt.body)
			}
		})
	}
}

// TestAcceptConn_4_2_2_Response checks AcceptConn's response to each of
// responseTests and to the forms of request only it reads itself.
func TestAcceptConn_4_2_2_Response(t *testing.T) {
	tests := append(responseTests[:len(responseTests):len(responseTests)], []struct {
		name string
		req  string
		opts *AcceptOptions
		want string
		sub  string
	}{
		{
			// RFC 9112 §2.2: empty lines before the request line are ignored.
			name: "9112_2_2_LeadingEmptyLines", req: "\r\n\r\n" + upgradeRequest("", nil), want: rfcResponse,
		},
		{
			// RFC 9112 §3.2.2: an absolute-form target's authority is the
			// host the Origin is compared with (§10.2), not the Host header.
			name: "9112_3_2_2_AbsoluteFormHost",
			req:  upgradeRequest("GET http://app.example.com/chat HTTP/1.1", nil, "Origin: http://app.example.com"),
			want: rfcResponse,
		},
		{
			// Field names are case-insensitive; values lose their optional whitespace.
			name: "9112_5_CaseAndWhitespace",
			req:  upgradeRequest("", []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version"}, "sec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==", "SEC-WEBSOCKET-VERSION: \t13 \t"),
			want: rfcResponse,
		},
		{
			name: "9112_6_3_ContentLengthZero",
			req:  upgradeRequest("", nil, "Content-Length: 0", "Content-Length: 0"),
			want: rfcResponse,
		},
		{
			// A head just within the limit.
			name: "LongCookie",
			req:  upgradeRequest("", nil, "Cookie: "+strings.Repeat("a", httphead.MaxRequestHead-len(upgradeRequest("", nil))-len("Cookie: \r\n"))),
			want: rfcResponse,
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, results := acceptConnOn(t, context.Background(), tt.opts)
			if _, err := io.WriteString(nc, tt.req); err != nil {
				t.Fatal(err)
			}
			if head := readRawHead(t, nc); head != tt.want {
				t.Errorf("response =\n%q\nwant\n%q", head, tt.want)
			}
			res := acceptedOn(t, results)
			if res.err != nil {
				t.Fatalf("AcceptConn: %v", res.err)
			}
			if got := res.conn.Subprotocol(); got != tt.sub {
				t.Errorf("Subprotocol() = %q, want %q", got, tt.sub)
			}
		})
	}
}

// TestAcceptConn_5_PipelinedFrames sends frames in the same write as the
// handshake: the bytes read past the request must reach the Conn, over TCP
// and over TLS.
func TestAcceptConn_5_PipelinedFrames(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "TCP"
		if useTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			client, server := tcpPair(t)
			if useTLS {
				cert, _ := testTLS(t)
				server = tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}})
				client = tls.Client(client, &tls.Config{InsecureSkipVerify: true})
			}
			client.SetDeadline(time.Now().Add(10 * time.Second))
			results := make(chan acceptResult, 1)
			go func() {
				c, err := AcceptConn(context.Background(), server, nil)
				results <- acceptResult{c, err}
			}()
			checkPipelinedExchange(t, client, results)
		})
	}
}

// TestAcceptConn_Dial connects Dial to AcceptConn: subprotocol and
// permessage-deflate negotiated, messages both ways, closing handshake.
func TestAcceptConn_Dial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		c, err := AcceptConn(ctx, nc, &AcceptOptions{Subprotocols: []string{"echo"}, Compression: &CompressionOptions{}})
		if err != nil {
			done <- err
			return
		}
		typ, p, err := c.Read(ctx)
		if err == nil {
			err = c.Write(ctx, typ, bytes.ToUpper(p))
		}
		if err == nil {
			_, _, err = c.Read(ctx)
			if CloseStatus(err) == StatusNormalClosure {
				err = nil
			}
		}
		done <- err
	}()
	c, _, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", &DialOptions{Subprotocols: []string{"echo"}, Compression: &CompressionOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "echo" || !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
		t.Errorf("Subprotocol %q, Extensions %q", c.Subprotocol(), c.Extensions())
	}
	msg := strings.Repeat("hello ", 100)
	if err := c.Write(ctx, MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := c.Read(ctx); err != nil || typ != MessageText || string(p) != strings.ToUpper(msg) {
		t.Fatalf("Read = %v, %.20q..., %v", typ, p, err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAcceptConn_ContextDeadline checks that ctx's deadline ends the
// handshake of a client that stops part-way through its request: the error
// says so, and the client sees the connection closed without a response.
func TestAcceptConn_ContextDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	nc, results := acceptConnOn(t, ctx, nil)
	io.WriteString(nc, "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n")
	res := acceptedOn(t, results)
	if res.conn != nil || !errors.Is(res.err, context.DeadlineExceeded) {
		t.Fatalf("AcceptConn = %v, %v; want %v", res.conn, res.err, context.DeadlineExceeded)
	}
	if b, err := io.ReadAll(nc); len(b) > 0 || err != nil {
		t.Fatalf("client read %q, %v; want the end of the connection", b, err)
	}
}

// TestAcceptConn_ContextCancel checks that cancelling ctx ends a handshake
// in progress, and that a ctx done already ends it before it starts.
func TestAcceptConn_ContextCancel(t *testing.T) {
	t.Run("InProgress", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		nc, results := acceptConnOn(t, ctx, nil)
		io.WriteString(nc, "GET /chat HTTP/1.1\r\n")
		cancel()
		res := acceptedOn(t, results)
		if res.conn != nil || !errors.Is(res.err, context.Canceled) {
			t.Fatalf("AcceptConn = %v, %v; want %v", res.conn, res.err, context.Canceled)
		}
		// A reset if the server had not read the request yet.
		if b, err := io.ReadAll(nc); len(b) > 0 || err != nil && !isReset(err) {
			t.Fatalf("client read %q, %v; want the end of the connection", b, err)
		}
	})
	t.Run("Before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		nc, results := acceptConnOn(t, ctx, nil)
		io.WriteString(nc, upgradeRequest("", nil))
		res := acceptedOn(t, results)
		if res.conn != nil || !errors.Is(res.err, context.Canceled) {
			t.Fatalf("AcceptConn = %v, %v; want %v", res.conn, res.err, context.Canceled)
		}
		if b, err := io.ReadAll(nc); len(b) > 0 || err != nil && !isReset(err) {
			t.Fatalf("client read %q, %v; want the end of the connection", b, err)
		}
	})
}

// isReset reports whether err is a connection reset: closing a socket with
// unread input resets the connection.
func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestAcceptConn_ClearsDeadline checks that the deadline of the handshake's
// ctx does not outlive the handshake.
func TestAcceptConn_ClearsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	nc, results := acceptConnOn(t, ctx, nil)
	io.WriteString(nc, upgradeRequest("", nil))
	if head := readRawHead(t, nc); head != rfcResponse {
		t.Fatalf("response %q", head)
	}
	res := acceptedOn(t, results)
	if res.err != nil {
		t.Fatal(res.err)
	}
	<-ctx.Done()
	time.Sleep(10 * time.Millisecond) // past the deadline, by the clock of nc's poller too
	if err := res.conn.Write(context.Background(), MessageText, []byte("late")); err != nil {
		t.Fatalf("Write after the handshake's deadline: %v", err)
	}
	peer := &rawPeer{t: t, nc: nc, client: true}
	if _, p := peer.readFrame(); string(p) != "late" {
		t.Fatalf("got %q", p)
	}
	peer.send(true, frame.OpText, []byte("later"))
	if _, p, err := res.conn.Read(context.Background()); err != nil || string(p) != "later" {
		t.Fatalf("Read after the handshake's deadline = %q, %v", p, err)
	}
}

// TestAcceptConn_GroupShutdown checks that a Group shutting down makes
// AcceptConn refuse with 503, as Accept does.
func TestAcceptConn_GroupShutdown(t *testing.T) {
	var g Group
	g.Shutdown(context.Background())
	nc, results := acceptConnOn(t, context.Background(), &AcceptOptions{Group: &g})
	io.WriteString(nc, upgradeRequest("", nil))
	resp := readRefusal(t, nc)
	const want = "wsx: the server is shutting down"
	if resp.status != http.StatusServiceUnavailable || resp.body != want+"\n" {
		t.Errorf("response %d %q", resp.status, resp.body)
	}
	if res := acceptedOn(t, results); res.conn != nil || res.err == nil || res.err.Error() != want {
		t.Errorf("AcceptConn = %v, %v", res.conn, res.err)
	}
}

// TestAcceptConn_ClientGone checks the error for a client that leaves
// before its request is complete.
func TestAcceptConn_ClientGone(t *testing.T) {
	nc, results := acceptConnOn(t, context.Background(), nil)
	io.WriteString(nc, "GET /chat HTTP/1.1\r\n")
	nc.Close()
	if res := acceptedOn(t, results); res.conn != nil || !errors.Is(res.err, io.ErrUnexpectedEOF) {
		t.Fatalf("AcceptConn = %v, %v; want %v", res.conn, res.err, io.ErrUnexpectedEOF)
	}
}

// scriptConn is a net.Conn in memory: reads return in, writes go to out.
type scriptConn struct {
	in     bytes.Reader
	out    bytes.Buffer
	closed bool
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *scriptConn) Close() error                     { c.closed = true; return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzAcceptConn feeds arbitrary bytes to AcceptConn as a client's opening
// handshake. AcceptConn must never panic; it must answer with the exact 101
// response or a one-line refusal naming a rule, or, for an incomplete head,
// nothing. Every head it accepts must also be a request to net/http that
// checkRequest accepts with the same key, and every head that net/http reads
// too must get the same verdict from checkRequest unless AcceptConn refused
// its syntax.
func FuzzAcceptConn(f *testing.F) {
	for _, tt := range refusalTests {
		f.Add(tt.req)
	}
	for _, tt := range responseTests {
		f.Add(tt.req)
	}
	f.Add("\r\n" + upgradeRequest("GET http://server.example.com:80/chat?x=%41 HTTP/1.1", nil, "Origin: http://server.example.com", "Content-Length: 0"))
	f.Add(upgradeRequest("", nil, "Host: a", "X:  \t"))
	f.Add(strings.ReplaceAll(upgradeRequest("", nil), "\r\n", "\n"))
	f.Add("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	opts := &AcceptOptions{
		Subprotocols:   []string{"superchat", "chat"},
		OriginPatterns: []string{"*.example.com:*", "null"},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		nc := &scriptConn{}
		nc.in.Reset([]byte(raw))
		c, err := AcceptConn(context.Background(), nc, opts)
		out := nc.out.String()
		// net/http skips no empty lines before the request line (RFC 9112 §2.2).
		trimmed := raw
		for strings.HasPrefix(trimmed, "\n") || strings.HasPrefix(trimmed, "\r\n") {
			trimmed = trimmed[strings.IndexByte(trimmed, '\n')+1:]
		}
		ref, refErr := http.ReadRequest(bufio.NewReader(strings.NewReader(trimmed)))
		switch rej := (*refusal)(nil); {
		case err == nil:
			if ref == nil {
				t.Fatalf("accepted a request net/http cannot read: %v", refErr)
			}
			hs, refRej := checkRequest(ref, opts)
			if refRej != nil {
				t.Fatalf("accepted a request that checkRequest refuses as net/http reads it: %v", refRej)
			}
			want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + AcceptKey(hs.key) + "\r\n"
			if hs.subprotocol != "" {
				want += "Sec-WebSocket-Protocol: " + hs.subprotocol + "\r\n"
			}
			if want += "\r\n"; out != want {
				t.Fatalf("response %q\nwant     %q", out, want)
			}
			if c.Subprotocol() != hs.subprotocol {
				t.Fatalf("Subprotocol %q, want %q", c.Subprotocol(), hs.subprotocol)
			}
		case errors.As(err, &rej):
			if !nc.closed {
				t.Fatal("refused without closing the connection")
			}
			resp, rerr := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if rerr != nil {
				t.Fatalf("refusal %q: %v", out, rerr)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != rej.status || string(body) != rej.msg+"\n" {
				t.Fatalf("refusal %q for %v", out, rej)
			}
			if strings.ContainsAny(rej.msg, "\r\n") || !strings.HasPrefix(rej.msg, "wsx: ") || !strings.Contains(rej.msg, "(RFC ") {
				t.Fatalf("refusal is not one line naming a rule: %q", rej.msg)
			}
			// net/http's server, not ReadRequest, refuses an absolute-form
			// target without a Host header (RFC 9112 §3.2).
			noHost := ref != nil && ref.URL.Host != "" && rej.msg == "wsx: missing Host header (RFC 6455 §4.2.1 item 2)"
			if strings.Contains(rej.msg, "(RFC 6455") && ref != nil && !noHost {
				// A refusal by the rules of the handshake: checkRequest
				// agrees on net/http's reading of the same head.
				if _, refRej := checkRequest(ref, opts); refRej == nil || refRej.msg != rej.msg {
					t.Fatalf("refused %q, but checkRequest says %v for net/http's reading", rej.msg, refRej)
				}
			}
		default:
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) || out != "" || !nc.closed {
				t.Fatalf("AcceptConn = %v, wrote %q, closed %v", err, out, nc.closed)
			}
		}
	})
}

// BenchmarkAcceptConn measures AcceptConn alone, from the request's bytes to
// a Conn, for the request of BenchmarkAccept.
func BenchmarkAcceptConn(b *testing.B) {
	req := []byte(upgradeRequest("", nil,
		"Origin: https://server.example.com",
		"Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))
	opts := &AcceptOptions{Subprotocols: []string{"superchat"}}
	nc := &scriptConn{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		nc.in.Reset(req)
		nc.out.Reset()
		c, err := AcceptConn(ctx, nc, opts)
		if err != nil || c.Subprotocol() != "superchat" {
			b.Fatal(c, err)
		}
	}
}

// BenchmarkAcceptConnLoopback measures a whole handshake with AcceptConn
// over loopback TCP, client side included.
func BenchmarkAcceptConnLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if c, err := AcceptConn(context.Background(), nc, nil); err == nil {
					c.CloseNow()
				}
			}()
		}
	}()
	req := []byte(upgradeRequest("", nil))
	buf := make([]byte, len(rfcResponse))
	b.ReportAllocs()
	for b.Loop() {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != rfcResponse {
			b.Fatalf("%q, %v", buf, err)
		}
		nc.Close()
	}
}

// A server on a port of its own for WebSockets: no http.Server. The read
// loop runs in a goroutine of its own, so that the handshake's deeper stack
// is not kept for the connection's life.
func ExampleAcceptConn() {
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	opts := &AcceptOptions{OriginPatterns: []string{"*.example.com"}}
	echo := func(c *Conn) {
		defer c.CloseNow()
		ctx := context.Background()
		var buf []byte
		for {
			typ, p, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				return
			}
			buf = p
			if err := c.Write(ctx, typ, p); err != nil {
				return
			}
		}
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := AcceptConn(ctx, nc, opts)
			if err != nil {
				log.Print(err)
				return
			}
			go echo(c)
		}()
	}
}

// AcceptConn parses the request where it was read, in its pooled reader's
// buffer (httphead.PeekRequest): a refusal quotes the request, outlives the
// handshake as an error, and must keep its own copy of what it quotes while
// the buffer serves the next handshakes.
func TestAcceptConn_RefusalOutlivesBuffer(t *testing.T) {
	accept := func(req string) error {
		nc := &scriptConn{}
		nc.in.Reset([]byte(req))
		_, err := AcceptConn(context.Background(), nc, nil)
		return err
	}
	err := accept(upgradeRequest("", []string{"Upgrade"}, "Upgrade: h2c, websocket/13"))
	const want = `wsx: Upgrade header "h2c, websocket/13" does not include "websocket" (RFC 6455 §4.2.1 item 3)`
	var ref *refusal
	if !errors.As(err, &ref) || err.Error() != want || ref.rule.Seen != "h2c, websocket/13" {
		t.Fatalf("AcceptConn = %v, want %q", err, want)
	}
	for i := range 20 {
		// Requests of the same length whose bytes differ where the first one's Upgrade was,
		// refused and accepted.
		other := upgradeRequest("", []string{"Upgrade"}, "Upgrade: XXXXXXXXXXXXXXX"+strconv.Itoa(10+i))
		if e := accept(other); e == nil || e.Error() == want {
			t.Fatalf("request %d: AcceptConn = %v", i, e)
		}
		if e := accept(upgradeRequest("", nil, "Sec-WebSocket-Protocol: "+strings.Repeat("p", 40))); e != nil {
			t.Fatal(e)
		}
	}
	if err.Error() != want || ref.rule.Seen != "h2c, websocket/13" {
		t.Errorf("after more handshakes the refusal reads %q (seen %q), want %q", err, ref.rule.Seen, want)
	}
}

// AcceptConn allocates the Conn and nothing else on a connection that is not a socket (a socket
// adds its syscall.RawConn and the read callback), and one more object when the handshake
// negotiated a subprotocol or an extension (extras).
func TestAcceptConn_Allocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, tc := range []struct {
		name   string
		header []string
		opts   *AcceptOptions
		sub    string
		want   float64
	}{
		{"plain", []string{"Origin: https://server.example.com"}, &AcceptOptions{OriginPatterns: []string{"server.example.com"}}, "", 1},
		{"subprotocol", []string{"Origin: https://server.example.com", "Sec-WebSocket-Protocol: chat, superchat"},
			&AcceptOptions{Subprotocols: []string{"superchat"}, OriginPatterns: []string{"server.example.com"}}, "superchat", 2},
	} {
		req := []byte(upgradeRequest("", nil, tc.header...))
		nc := &scriptConn{}
		allocs := testing.AllocsPerRun(100, func() {
			nc.in.Reset(req)
			nc.out.Reset()
			if c, err := AcceptConn(context.Background(), nc, tc.opts); err != nil || c.Subprotocol() != tc.sub {
				t.Fatal(c, err)
			}
		})
		if allocs != tc.want {
			t.Errorf("%s: AcceptConn made %v allocations, want %v", tc.name, allocs, tc.want)
		}
	}
}
