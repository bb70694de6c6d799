package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wsx-go/wsx/internal/handshake"
)

// wsx doctor --http2 and --http3 check the handshake of a WebSocket over HTTP/2 (RFC 8441) or
// HTTP/3 (RFC 9220) step by step: ALPN, the server's SETTINGS and its
// SETTINGS_ENABLE_CONNECT_PROTOCOL, the extended CONNECT request, the response's status and
// fields, then a closing handshake on the stream.

// nextProtos is what the doctor offers in ALPN over TCP.
func (d *doctor) nextProtos() []string {
	if d.cfg.http2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// streamRequest is the extended CONNECT the doctor sends, as pseudo-header and header fields
// in the order they go out.
func (d *doctor) streamRequest() [][2]string {
	scheme := "http"
	if d.tls {
		scheme = "https"
	}
	path := d.u.RequestURI()
	fields := [][2]string{
		{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", scheme},
		{":authority", d.u.Host}, {":path", path}, {"sec-websocket-version", "13"},
	}
	fields = d.offerFields(fields)
	for i := range fields {
		fields[i][0] = strings.ToLower(fields[i][0]) // RFC 9113 §8.2.1, RFC 9114 §4.2
	}
	return fields
}

func (d *doctor) printRequest(fields [][2]string) {
	d.rep.line("")
	for _, f := range fields {
		d.rep.line("> %s: %s", f[0], f[1])
	}
}

// runStream is wsx doctor --http2 or --http3.
func (d *doctor) runStream(ctx context.Context) int {
	start := time.Now()
	d.rep.line("wsx doctor %s over %s", d.u.Redacted(), map[bool]string{true: "HTTP/3", false: "HTTP/2"}[d.cfg.http3])
	d.rep.line("")
	if d.cfg.http3 {
		d.runHTTP3(ctx)
	} else {
		d.runHTTP2(ctx)
	}
	return d.verdict(start)
}

// notAdvertised is what the doctor says when the server did not advertise extended CONNECT.
func (d *doctor) notAdvertised(rfc string) {
	d.rep.fail("the server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 ("+rfc+" §3)",
		"clients may not send an extended CONNECT: browsers and wsx keep WebSockets on HTTP/1.1",
		"a Go net/http server advertises it only with GODEBUG=http2xconnect=1 (Go 1.24-1.26),",
		"or when the program imports github.com/wsx-go/wsx/xconnect")
}

func (d *doctor) runHTTP2(ctx context.Context) {
	r := &d.rep
	conn, err := d.connect(ctx)
	if err != nil {
		r.fail(err.Error())
		return
	}
	defer conn.Close()
	if tc, ok := conn.(*tls.Conn); ok {
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			r.line("")
			r.line("Checks:")
			r.fail(fmt.Sprintf("ALPN: the server chose %q, not h2 (RFC 7301, RFC 9113 §3.2)", p),
				"the server does not speak HTTP/2 on this port: WebSockets go over HTTP/1.1 there")
			return
		}
	} else {
		r.line("* h2c   HTTP/2 with prior knowledge, without TLS (RFC 9113 §3.3)")
	}
	conn.SetDeadline(time.Now().Add(d.cfg.timeout))
	t := time.Now()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		r.fail("sending the HTTP/2 preface: " + err.Error())
		return
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var settings *http2.SettingsFrame
	for settings == nil {
		f, err := fr.ReadFrame()
		if err != nil {
			r.fail("reading the server's SETTINGS: "+err.Error(), "the server may not speak HTTP/2 on this port (RFC 9113 §3.4)")
			return
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			settings = sf
		}
	}
	fr.WriteSettingsAck()
	d.timing("SETTINGS", time.Since(t))
	var list []string
	xconnect := false
	settings.ForeachSetting(func(s http2.Setting) error {
		list = append(list, fmt.Sprintf("%v=%d", s.ID, s.Val))
		xconnect = xconnect || s.ID == http2.SettingEnableConnectProtocol && s.Val == 1
		return nil
	})
	r.line("< SETTINGS %s", strings.Join(list, " "))
	if !xconnect {
		r.line("")
		r.line("Checks:")
		r.ok("ALPN h2, the server's SETTINGS received (RFC 9113 §3.4)")
		d.notAdvertised("RFC 8441")
		return
	}

	fields := d.streamRequest()
	d.printRequest(fields)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	const id = 1
	sent := time.Now()
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		r.fail("sending the CONNECT request: " + err.Error())
		return
	}
	s := &h2Stream{conn: conn, fr: fr, id: id}
	status, header, err := s.response()
	if err != nil {
		r.line("")
		r.line("Checks:")
		r.ok("ALPN h2, SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)")
		r.fail("no response: "+err.Error(), "a reset with PROTOCOL_ERROR means the server refused :protocol (RFC 8441 §4)")
		return
	}
	d.timing("handshake", time.Since(sent))
	d.checkStream(status, header, s, bufio.NewReader(s), "RFC 8441")
}

// h2Stream reads and writes the DATA of one stream of a raw HTTP/2 connection, answering the
// connection's SETTINGS and PINGs on the way.
type h2Stream struct {
	conn  net.Conn
	fr    *http2.Framer
	id    uint32
	buf   []byte
	ended bool
}

// next reads frames until one of the stream's, which it returns.
func (s *h2Stream) next() (http2.Frame, error) {
	for {
		f, err := s.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				s.fr.WriteSettingsAck()
			}
			continue
		case *http2.PingFrame:
			if !f.IsAck() {
				s.fr.WritePing(true, f.Data)
			}
			continue
		case *http2.GoAwayFrame:
			return nil, fmt.Errorf("the server sent GOAWAY %v", f.ErrCode)
		}
		if f.Header().StreamID == s.id {
			if rst, ok := f.(*http2.RSTStreamFrame); ok {
				return nil, fmt.Errorf("the server reset the stream with %v", rst.ErrCode)
			}
			return f, nil
		}
	}
}

// response reads the response's HEADERS.
func (s *h2Stream) response() (int, http.Header, error) {
	for {
		f, err := s.next()
		if err != nil {
			return 0, nil, err
		}
		mh, ok := f.(*http2.MetaHeadersFrame)
		if !ok {
			continue
		}
		s.ended = mh.StreamEnded()
		status, _ := strconv.Atoi(mh.PseudoValue("status"))
		h := make(http.Header)
		for _, hf := range mh.RegularFields() {
			h.Add(hf.Name, hf.Value)
		}
		return status, h, nil
	}
}

func (s *h2Stream) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.ended {
			return 0, io.EOF
		}
		f, err := s.next()
		if err != nil {
			return 0, err
		}
		if df, ok := f.(*http2.DataFrame); ok {
			s.buf = append(s.buf, df.Data()...)
			s.ended = df.StreamEnded()
			if n := len(df.Data()); n > 0 {
				s.fr.WriteWindowUpdate(0, uint32(n))
				s.fr.WriteWindowUpdate(s.id, uint32(n))
			}
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// SetDeadline bounds the reads and writes of the connection under the stream.
func (s *h2Stream) SetDeadline(t time.Time) error { return s.conn.SetDeadline(t) }

func (s *h2Stream) Write(p []byte) (int, error) {
	if err := s.fr.WriteData(s.id, false, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *doctor) runHTTP3(ctx context.Context) {
	r := &d.rep
	if !d.tls {
		r.fail("HTTP/3 runs over QUIC, which is always encrypted: use a wss:// URL (RFC 9220 §3)")
		return
	}
	host, port := d.u.Hostname(), d.u.Port()
	if port == "" {
		port = "443"
	}
	t := time.Now()
	qctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
	defer cancel()
	qc, err := quic.DialAddr(qctx, net.JoinHostPort(host, port), &tls.Config{
		ServerName: host, InsecureSkipVerify: d.cfg.insecure, NextProtos: []string{http3.NextProtoH3},
	}, nil)
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cve):
		r.fail("the certificate does not verify: "+err.Error(), "--insecure goes on anyway")
		return
	case err != nil:
		r.fail("QUIC handshake with "+net.JoinHostPort(host, port)+" over UDP: "+err.Error(),
			"the server may not serve HTTP/3 on this UDP port, or not offer h3 in ALPN (RFC 9114 §3.1)")
		return
	}
	defer qc.CloseWithError(0, "")
	d.timing("QUIC", time.Since(t))
	cs := qc.ConnectionState().TLS
	r.line("* QUIC  connected to %s, %s, ALPN %s (%s)", qc.RemoteAddr(), tls.VersionName(cs.Version), cs.NegotiatedProtocol, formatDuration(time.Since(t)))
	cc := (&http3.Transport{}).NewClientConn(qc)
	select {
	case <-cc.ReceivedSettings():
	case <-qctx.Done():
		r.fail("the server sent no SETTINGS on its control stream (RFC 9114 §7.2.4)")
		return
	}
	st := cc.Settings()
	r.line("< SETTINGS ENABLE_CONNECT_PROTOCOL=%v H3_DATAGRAM=%v other=%v", st.EnableExtendedConnect, st.EnableDatagrams, st.Other)
	if !st.EnableExtendedConnect {
		r.line("")
		r.line("Checks:")
		d.notAdvertised("RFC 9220")
		return
	}
	fields := d.streamRequest()
	d.printRequest(fields)
	req, _ := http.NewRequest(http.MethodConnect, "https://"+d.u.Host+d.u.RequestURI(), nil)
	req.Proto = "websocket" // quic-go sends Proto as :protocol
	for _, f := range fields {
		if !strings.HasPrefix(f[0], ":") {
			req.Header.Add(f[0], f[1])
		}
	}
	rs, err := cc.OpenRequestStream(qctx)
	if err != nil {
		r.fail("opening a request stream: " + err.Error())
		return
	}
	sent := time.Now()
	if err := rs.SendRequestHeader(req); err != nil {
		r.fail("sending the CONNECT request: " + err.Error())
		return
	}
	resp, err := rs.ReadResponse()
	if err != nil {
		r.fail("reading the response: " + err.Error())
		return
	}
	d.timing("handshake", time.Since(sent))
	rs.SetDeadline(time.Now().Add(d.cfg.timeout))
	d.checkStream(resp.StatusCode, resp.Header, rs, bufio.NewReader(rs), "RFC 9220")
}

// checkStream prints the response to an extended CONNECT and the findings of the rules that
// Dial applies to it (internal/handshake: RFC 8441 §5 with RFC 6455 §4.1), then runs a
// closing handshake on the stream.
func (d *doctor) checkStream(status int, header http.Header, s stream, br *bufio.Reader, rfc string) {
	r := &d.rep
	r.line("")
	r.line("< :status: %d", status)
	for _, name := range slices.Sorted(maps.Keys(header)) {
		for _, v := range header[name] {
			r.line("< %s: %s", strings.ToLower(name), v)
		}
	}
	r.line("")
	r.line("Checks:")
	r.ok("SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (" + rfc + " §3)")
	own, o := d.explainOwnStreamRequest()
	resp := &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status), Header: header}
	d.printOwnFailures(own, status >= 200 && status <= 299)
	before := r.problems
	for _, f := range handshake.ExplainStreamResponse(resp, o) {
		switch {
		case f.Failed() && f.Rule.Subject == "status":
			more := []string{"a 2xx status accepts the WebSocket; any other refuses it"}
			if status == http.StatusSwitchingProtocols {
				more = []string{"101 is HTTP/1.1's answer to an Upgrade; over HTTP/2 and HTTP/3 the server answers 200"}
			}
			if body, _ := io.ReadAll(io.LimitReader(br, 512)); len(body) > 0 {
				more = append(more, "body: "+strconv.Quote(string(body)))
			}
			r.fail(f.Problem, more...)
		case f.Failed():
			r.fail(f.Problem, d.failNote(f, resp, nil, o)...)
		case f.Verdict == handshake.Warn:
			r.warn(f.Problem)
		case f.Verdict == handshake.Info:
			r.info(f.String())
		case f.Rule.Subject == "status":
			r.ok(fmt.Sprintf("status %d accepts the WebSocket (%s)", status, f.Rule.Section))
		case f.Rule.Subject == "Sec-WebSocket-Accept": // none: nothing to say
		default:
			d.printPass(f, o)
		}
	}
	if r.problems == before {
		d.closingHandshake(s, br)
	}
}

// explainOwnStreamRequest checks the extended CONNECT the doctor sends by the rules a server
// applies (-H can break them on purpose) and returns what it offers, for checking the
// response.
func (d *doctor) explainOwnStreamRequest() ([]handshake.Finding, *handshake.Offer) {
	r := &http.Request{Proto: "HTTP/2.0", ProtoMajor: 2, Header: http.Header{}}
	if d.cfg.http3 {
		r.Proto, r.ProtoMajor = "HTTP/3.0", 3
	}
	for _, f := range d.streamRequest() {
		switch f[0] {
		case ":method":
			r.Method = f[1]
		case ":authority":
			r.Host = f[1]
		case ":scheme", ":path":
		default:
			r.Header.Add(f[0], f[1])
		}
	}
	o := new(handshake.Offer)
	return handshake.ExplainStreamRequest(r, &handshake.Policy{AnyOrigin: true}, o), o
}
