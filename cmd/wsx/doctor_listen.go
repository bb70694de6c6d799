package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
)

// doctorListen receives handshakes on addr and explains each, until ctx is done or, with
// --once, after the first request.
func doctorListen(ctx context.Context, e *env, cfg *doctorConfig, addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(e.stderr, "wsx doctor: %v\n", err)
		return exitFail
	}
	defer ln.Close()
	fmt.Fprintf(e.stdout, "wsx doctor: listening on ws://%s/; point a WebSocket client at it (Ctrl-C to stop)\n", displayHost(ln.Addr().(*net.TCPAddr)))
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var mu sync.Mutex // one explanation at a time on stdout
	verdicts := make(chan bool, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case valid := <-verdicts: // --once: the first explanation is done
				if valid {
					return exitOK
				}
				return exitFail
			default:
			}
			if ctx.Err() != nil {
				return exitOK
			}
			fmt.Fprintf(e.stderr, "wsx doctor: %v\n", err)
			return exitFail
		}
		wg.Go(func() {
			var out bytes.Buffer
			valid, asked := explainClient(conn, cfg, &out)
			mu.Lock()
			e.stdout.Write(out.Bytes())
			mu.Unlock()
			if asked && cfg.once {
				select {
				case verdicts <- valid:
					ln.Close()
				default:
				}
			}
		})
	}
}

// explainClient reads a client's opening handshake from conn, prints it and the checks of
// §4.2.1, and answers it: a valid one with 101 and a closing handshake, an invalid one with
// 400. It reports whether the handshake was valid, and whether a request came at all.
func explainClient(conn net.Conn, cfg *doctorConfig, out io.Writer) (valid, asked bool) {
	defer conn.Close()
	r := &report{w: out}
	conn.SetDeadline(time.Now().Add(cfg.timeout))
	br := bufio.NewReader(conn)
	head, err := readHead(br, maxHead)
	if len(head) == 0 {
		return false, false // a connection opened in advance, or a port scan
	}
	r.line("")
	r.line("Connection from %s:", conn.RemoteAddr())
	printHead(r, "> ", head)
	r.line("")
	r.line("Checks:")
	var req *http.Request
	if err != nil {
		r.fail("the request head is incomplete: " + err.Error())
	} else if req, err = http.ReadRequest(bufio.NewReader(bytes.NewReader(head))); err != nil {
		r.fail("the request is not valid HTTP: "+err.Error(), "the opening handshake is an HTTP/1.1 request (RFC 6455 §4.1, RFC 9112)")
	} else {
		checkRequest(r, req)
	}
	if r.problems == 0 {
		serverClose(r, conn, br, req)
	} else {
		body := "wsx doctor: this WebSocket opening handshake is invalid:\n- " + strings.Join(r.failed, "\n- ") + "\n"
		fmt.Fprintf(conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	r.line("")
	switch r.problems {
	case 0:
		r.line("Result: the handshake is valid.")
	case 1:
		r.line("Result: 1 problem; answered 400 Bad Request.")
	default:
		r.line("Result: %d problems; answered 400 Bad Request.", r.problems)
	}
	return r.problems == 0, true
}

// checkRequest checks a client's opening handshake against §4.2.1.
func checkRequest(r *report, req *http.Request) {
	h := req.Header
	if req.Method == http.MethodGet {
		r.ok("method GET (§4.2.1 item 1)")
	} else {
		r.fail(fmt.Sprintf("method %s; the handshake is a GET request (RFC 6455 §4.2.1 item 1)", req.Method), "a server answers 405 Method Not Allowed")
	}
	if req.ProtoAtLeast(1, 1) {
		r.ok(fmt.Sprintf("%s (§4.2.1 item 1)", req.Proto))
	} else {
		r.fail(fmt.Sprintf("%s; the handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1 item 1)", req.Proto))
	}
	switch target := req.RequestURI; {
	case strings.HasPrefix(target, "/"):
		r.ok(fmt.Sprintf("resource name %s (§4.2.1 item 1, §3)", target))
	case req.URL.IsAbs() && (req.URL.Scheme == "http" || req.URL.Scheme == "https"):
		r.ok(fmt.Sprintf("absolute request target %s (§4.2.1 item 1)", target))
	default:
		r.fail(fmt.Sprintf("request target %q is neither a path nor an http(s) URL (RFC 6455 §4.2.1 item 1)", target))
	}
	if req.Host != "" {
		r.ok(fmt.Sprintf("Host: %s (§4.2.1 item 2)", req.Host))
	} else {
		r.fail("no Host header (RFC 6455 §4.2.1 item 2)")
	}
	switch up := h.Values("Upgrade"); {
	case len(up) == 0:
		r.fail("no Upgrade header (RFC 6455 §4.2.1 item 3)", `the request must say "Upgrade: websocket"`)
	case hasToken(up, "websocket"):
		r.ok(fmt.Sprintf("Upgrade: %s (§4.2.1 item 3)", strings.Join(up, ", ")))
	default:
		r.fail(fmt.Sprintf("Upgrade: %s does not include \"websocket\" (RFC 6455 §4.2.1 item 3)", strings.Join(up, ", ")))
	}
	switch c := h.Values("Connection"); {
	case len(c) == 0:
		r.fail("no Connection header (RFC 6455 §4.2.1 item 4)", `the request must say "Connection: Upgrade"`)
	case hasToken(c, "upgrade"):
		r.ok(fmt.Sprintf("Connection: %s (§4.2.1 item 4)", strings.Join(c, ", ")))
	default:
		r.fail(fmt.Sprintf("Connection: %s has no \"Upgrade\" token (RFC 6455 §4.2.1 item 4)", strings.Join(c, ", ")))
	}
	switch keys := h.Values("Sec-WebSocket-Key"); {
	case len(keys) == 0:
		r.fail("no Sec-WebSocket-Key header (RFC 6455 §4.2.1 item 5)", "the client must send a fresh key: the base64 of 16 random bytes (§4.1 item 7)")
	case len(keys) > 1:
		r.fail(fmt.Sprintf("Sec-WebSocket-Key sent %d times (RFC 6455 §4.2.1 item 5, §11.3.1)", len(keys)))
	case keyProblem(keys[0]) != "":
		r.fail(fmt.Sprintf("Sec-WebSocket-Key: %s is invalid (RFC 6455 §4.2.1 item 5)", escapeControl([]byte(keys[0]))), keyProblem(keys[0]))
	default:
		r.ok(fmt.Sprintf("Sec-WebSocket-Key: %s, the base64 of 16 bytes (§4.2.1 item 5)", keys[0]),
			"the server answers Sec-WebSocket-Accept: "+wsx.AcceptKey(keys[0]))
	}
	switch v := h.Values("Sec-WebSocket-Version"); {
	case len(v) == 0:
		r.fail("no Sec-WebSocket-Version header (RFC 6455 §4.2.1 item 6)", "it must be 13")
	case len(v) == 1 && v[0] == "13":
		r.ok("Sec-WebSocket-Version: 13 (§4.2.1 item 6)")
	default:
		r.fail(fmt.Sprintf("Sec-WebSocket-Version: %s; RFC 6455 is version 13 (RFC 6455 §4.2.1 item 6)", strings.Join(v, ", ")),
			"a server answers 426 Upgrade Required with Sec-WebSocket-Version: 13, the versions it speaks (§4.4)")
	}
	if o := h.Values("Origin"); len(o) > 0 {
		r.info(fmt.Sprintf("Origin: %s: a browser, or a client acting as one (§4.2.1 item 7)", strings.Join(o, ", ")),
			"a server should accept only the origins it trusts (§10.2)")
	} else {
		r.info("no Origin: not a browser (§4.2.1 item 7)")
	}
	if p := h.Values("Sec-WebSocket-Protocol"); len(p) > 0 {
		var offered []string
		for _, v := range p {
			offered = append(offered, strings.Split(v, ",")...)
		}
		var bad []string
		for i, s := range offered {
			s = strings.TrimSpace(s)
			offered[i] = s
			if !isToken(s) || slices.Contains(offered[:i], s) {
				bad = append(bad, s)
			}
		}
		if len(bad) == 0 {
			r.ok(fmt.Sprintf("offers subprotocols %s (§4.2.1 item 8)", strings.Join(offered, ", ")))
		} else {
			r.fail(fmt.Sprintf("Sec-WebSocket-Protocol: %s is not a list of distinct tokens (RFC 6455 §4.1 item 10)", strings.Join(p, ", ")),
				fmt.Sprintf("bad or repeated: %q", bad))
		}
	}
	if x := h.Values("Sec-WebSocket-Extensions"); len(x) > 0 {
		if xs, err := parseExtensions(strings.Join(x, ", ")); err != nil {
			r.fail(fmt.Sprintf("Sec-WebSocket-Extensions: %s is malformed (RFC 6455 §9.1)", escapeControl([]byte(strings.Join(x, ", ")))),
				escapeControl([]byte(err.Error())))
		} else {
			r.info(fmt.Sprintf("offers extensions %s (§4.2.1 item 9); the doctor accepts none", strings.Join(extensionNames(xs), ", ")))
		}
	}
	if req.ContentLength > 0 || len(req.TransferEncoding) > 0 {
		r.fail("the request has a body (RFC 6455 §4.1)", "frames must follow the request head directly")
	}
}

// serverClose completes a valid handshake and closes the connection as a server (§7.1.2):
// 101, a Close 1000, then the client's frames until its Close, which must be masked (§5.1).
func serverClose(r *report, conn net.Conn, br *bufio.Reader, req *http.Request) {
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsx.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
	if p := splitList(strings.Join(req.Header.Values("Sec-WebSocket-Protocol"), ",")); len(p) > 0 {
		// A client that offers subprotocols may refuse a response without one.
		resp += "Sec-WebSocket-Protocol: " + p[0] + "\r\n"
	}
	resp += "\r\n"
	r.line("")
	printHead(r, "< ", []byte(resp))
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, resp+string(appendCloseFrame(nil, wsx.StatusNormalClosure, "wsx doctor: handshake checked", false))); err != nil {
		r.warn("answering: " + err.Error())
		return
	}
	r.line("")
	r.info("answered 101 and closed with 1000")
	for range 100 {
		f, err := readFrame(br, 1<<20)
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.warn("the client closed TCP without answering our Close frame (RFC 6455 §5.5.1)")
			} else {
				r.warn("the client did not answer our Close frame: " + err.Error())
			}
			return
		}
		if !f.masked {
			r.fail(fmt.Sprintf("the client sent an unmasked %s frame (RFC 6455 §5.1, §5.3)", f.opName()), "a client must mask every frame it sends")
			return
		}
		if f.op == opClose {
			code, _ := closePayload(f.payload)
			r.ok(fmt.Sprintf("the client answered our Close with %s, masked (§5.1, §7.1.2)", code))
			return
		}
		r.info(fmt.Sprintf("the client sent a %s frame of %d bytes", f.opName(), f.length))
	}
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
