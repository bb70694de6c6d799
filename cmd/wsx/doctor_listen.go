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
	"strings"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/httphead"
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

// explainClient reads a client's opening handshake from conn, prints it and the findings of
// the rules a server applies (internal/handshake, the rules of Accept and AcceptConn), and
// answers it: a valid one with 101 and a closing handshake, an invalid one with 400. It
// reports whether the handshake was valid, and whether a request came at all.
func explainClient(conn net.Conn, cfg *doctorConfig, out io.Writer) (valid, asked bool) {
	defer conn.Close()
	r := &report{w: out}
	conn.SetDeadline(time.Now().Add(cfg.timeout))
	br := bufio.NewReaderSize(conn, httphead.MaxRequestHead)
	head, err := httphead.ReadRequest(br)
	if err != nil {
		got, _ := br.Peek(br.Buffered())
		if len(got) == 0 && err != httphead.ErrTooLong {
			return false, false // a connection opened in advance, or a port scan
		}
		head = string(got)
	}
	r.line("")
	r.line("Connection from %s:", conn.RemoteAddr())
	printHead(r, "> ", []byte(head))
	r.line("")
	r.line("Checks:")
	req := http.Request{Header: http.Header{}}
	var offer handshake.Offer
	var herr *httphead.Error
	switch {
	case errors.As(err, &herr):
		r.fail(herr.Reason, fmt.Sprintf("a server refuses it, with %d %s", herr.Status, http.StatusText(herr.Status)))
	case err != nil:
		r.fail("the request head is incomplete: " + err.Error())
	default:
		p := httphead.Parser{Keep: handshake.RequestFields}
		if err := p.Parse(head, &req); err != nil {
			herr := err.(*httphead.Error)
			r.fail(herr.Reason, "the opening handshake is an HTTP/1.1 request (RFC 6455 §4.1, RFC 9112)",
				fmt.Sprintf("a server refuses it, with %d %s", herr.Status, http.StatusText(herr.Status)))
		} else {
			for _, f := range handshake.ExplainRequest(&req, &handshake.Policy{AnyOrigin: true}, &offer) {
				printRequestFinding(r, f, &offer)
			}
		}
	}
	if r.problems == 0 {
		if answer101(r, conn, &offer) {
			serverClose(r, conn, br)
		}
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

// printRequestFinding prints a finding about a client's request, with what the doctor can
// say about it.
func printRequestFinding(r *report, f handshake.Finding, o *handshake.Offer) {
	switch {
	case f.Failed() && f.Rule.Subject == "Sec-WebSocket-Key" && keyProblem(f.Seen) != "":
		r.fail(f.Problem, keyProblem(f.Seen), fmt.Sprintf("a server refuses it, with %d %s", f.Status, http.StatusText(f.Status)))
	case f.Failed():
		r.fail(f.Problem, fmt.Sprintf("a server refuses it, with %d %s", f.Status, http.StatusText(f.Status)))
	case f.Rule.Subject == "Origin" && f.Seen == "":
		r.info("no Origin: not a browser (§4.2.1 item 7)")
	case f.Rule.Subject == "Origin":
		r.info(fmt.Sprintf("Origin: %s: a browser, or a client acting as one (§4.2.1 item 7)", f.Seen),
			"a server should accept only the origins it trusts (§10.2)")
	case f.Rule.Subject == "Sec-WebSocket-Key":
		r.ok(f.String(), "the server answers Sec-WebSocket-Accept: "+wsx.AcceptKey(f.Seen))
	case f.Rule.Subject == "Sec-WebSocket-Protocol" && f.Seen != "":
		r.ok(f.String(), "offers subprotocols "+strings.Join(o.Protocols, ", "))
	case f.Rule.Subject == "Sec-WebSocket-Extensions" && f.Seen != "":
		names := make([]string, len(o.Extensions))
		for i, x := range o.Extensions {
			names[i] = x.Name
		}
		r.ok(f.String(), "offers extensions "+strings.Join(names, ", ")+" (§4.2.1 item 9); the doctor accepts none")
	case f.Seen == "" && (f.Rule.Subject == "Sec-WebSocket-Protocol" || f.Rule.Subject == "Sec-WebSocket-Extensions" || f.Rule.Subject == "body"):
		// Nothing sent, nothing to say.
	default:
		r.ok(f.String())
	}
}

// answer101 completes a valid handshake (§4.2.2 step 5), choosing the first subprotocol
// offered: a client that offers subprotocols may refuse a response without one.
func answer101(r *report, conn net.Conn, o *handshake.Offer) bool {
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsx.AcceptKey(o.Key) + "\r\n"
	if len(o.Protocols) > 0 {
		resp += "Sec-WebSocket-Protocol: " + o.Protocols[0] + "\r\n"
	}
	resp += "\r\n"
	r.line("")
	printHead(r, "< ", []byte(resp))
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, resp); err != nil {
		r.warn("answering: " + err.Error())
		return false
	}
	return true
}
