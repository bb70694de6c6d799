package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// brokenServer is a raw-TCP server that answers each handshake request with what respond
// returns for its key and request. After a 101 it plays the server's part of the closing
// handshake: it reads the client's Close and answers with an unmasked one, or with
// answer when that is set, then closes TCP.
func brokenServer(t *testing.T, respond func(key string, req *http.Request) string, answer []byte) string {
	t.Helper()
	return "ws://" + rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		resp := respond(req.Header.Get("Sec-WebSocket-Key"), req)
		if resp == "" {
			return // hang up without answering
		}
		io.WriteString(c, resp)
		if !strings.HasPrefix(resp, "HTTP/1.1 101") {
			return
		}
		if _, _, err := readFrame(br, 1024); err != nil {
			return
		}
		if answer == nil {
			answer = closeFrame(wsx.StatusNormalClosure, "", false)
		}
		c.Write(answer)
	}) + "/path"
}

// rawServer serves each TCP connection to the address it returns with serve, and closes it
// after.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// response101 is a 101 response with the given Sec-WebSocket-Accept and extra header lines.
func response101(accept string, extra ...string) string {
	s := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	if accept != "" {
		s += "Sec-WebSocket-Accept: " + accept + "\r\n"
	}
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s + "\r\n"
}

const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func b64sha1(s string) string {
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Each wrong Sec-WebSocket-Accept is named for the mistake that made it (§4.1 response
// rule 4, §4.2.2 step 5.4).
func TestDoctorAcceptMistakes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		accept func(key string) string
		want   string
	}{
		{"echoed key", func(k string) string { return k }, "the server echoed the key back"},
		{"no GUID", func(k string) string { return b64sha1(k) }, "the SHA-1 of the key alone: the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 was not appended"},
		{"lower-case GUID", func(k string) string { return b64sha1(k + strings.ToLower(guid)) }, "wrong GUID: it was written in lower case"},
		{"GUID first", func(k string) string { return b64sha1(guid + k) }, "the GUID came before the key"},
		{"leading space", func(k string) string { return b64sha1(" " + k + guid) }, "hashed with the space before it"},
		{"trailing CR", func(k string) string { return b64sha1(k + "\r" + guid) }, "hashed with the CR of its line"},
		{"hex", func(k string) string {
			sum := sha1.Sum([]byte(k + guid))
			return hex.EncodeToString(sum[:])
		}, "hex instead of base64"},
		{"SHA-256", func(k string) string {
			sum := sha256.Sum256([]byte(k + guid))
			return base64.StdEncoding.EncodeToString(sum[:])
		}, "SHA-256 instead of SHA-1"},
		{"decoded key", func(k string) string {
			raw, _ := base64.StdEncoding.DecodeString(k)
			return b64sha1(string(raw) + guid)
		}, "base64-decoded before hashing"},
		{"no padding", func(k string) string { return strings.TrimRight(b64sha1(k+guid), "=") }, `padding "=" is missing`},
		{"other GUID", func(k string) string { return b64sha1(k + "00000000-0000-0000-0000-000000000000") }, "likely a wrong GUID"},
		{"garbage", func(string) string { return "not-base64!" }, "not even valid base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := brokenServer(t, func(key string, _ *http.Request) string { return response101(tc.accept(key)) }, nil)
			r := runWSX(t, context.Background(), nil, "doctor", url)
			if r.code != exitFail || !strings.Contains(r.stdout, `FAIL  Sec-WebSocket-Accept "`) || !strings.Contains(r.stdout, tc.want) ||
				!strings.Contains(r.stdout, "Result: 1 problem.") {
				t.Fatalf("exit %d, want 1 and a diagnosis with %q:\n%s", r.code, tc.want, r.stdout)
			}
		})
	}
}

// Every other rule of §4.1, one broken server each.
func TestDoctorDiagnoses(t *testing.T) {
	good := func(key string) string { return wsx.AcceptKey(key) }
	for _, tc := range []struct {
		name    string
		args    []string
		respond func(key string, req *http.Request) string
		close   []byte
		code    int
		want    []string
	}{
		{"valid", nil, func(k string, _ *http.Request) string { return response101(good(k)) }, nil, exitOK,
			[]string{"ok    Sec-WebSocket-Accept: ", "closing handshake: the server answered our Close with 1000", "Result: the handshake is valid."}},
		{"no Accept", nil, func(k string, _ *http.Request) string { return response101("") }, nil, exitFail,
			[]string{"FAIL  missing Sec-WebSocket-Accept header; want ", "the server must prove it read the key"}},
		{"two Accepts", nil, func(k string, _ *http.Request) string { return response101(good(k), "Sec-WebSocket-Accept: "+good(k)) }, nil, exitFail,
			[]string{"Sec-WebSocket-Accept header sent 2 times"}},
		{"no Upgrade", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + good(k) + "\r\n\r\n"
		}, nil, exitFail, []string{`FAIL  missing Upgrade header; want "websocket" (RFC 6455 §4.1, response rule 2)`}},
		{"wrong Upgrade", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + good(k) + "\r\n\r\n"
		}, nil, exitFail, []string{`FAIL  Upgrade header "h2c" is not "websocket"`}},
		{"no Connection", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + good(k) + "\r\n\r\n"
		}, nil, exitFail, []string{"FAIL  missing Connection header (RFC 6455 §4.1, response rule 3)", `the 101 response must include the token "Upgrade" in Connection`}},
		{"wrong Connection", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " + good(k) + "\r\n\r\n"
		}, nil, exitFail, []string{`FAIL  Connection header "keep-alive" does not include "Upgrade"`, "ok    Upgrade: WebSocket"}},
		{"Connection list", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, upgrade\r\nSec-WebSocket-Accept: " + good(k) + "\r\n\r\n"
		}, nil, exitOK, []string{"ok    Connection: keep-alive, upgrade"}},
		{"200", nil, func(string, *http.Request) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n<html>hi\x1b[2J"
		}, nil, exitFail, []string{`FAIL  server answered "200 OK", want 101 Switching Protocols (RFC 6455 §4.1, response rule 1)`, "the server answered as to a plain HTTP request", `< <html>hi\x1b[2J`}},
		{"403", []string{"--origin", "https://evil.example"}, func(string, *http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\r\norigin refused"
		}, nil, exitFail, []string{`FAIL  server answered "403 Forbidden"`, "try --origin", "< origin refused", "> Origin: https://evil.example"}},
		{"426", nil, func(string, *http.Request) string {
			return "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 7, 8\r\nContent-Length: 0\r\n\r\n"
		}, nil, exitFail, []string{"the server does not speak version 13; it asks for Sec-WebSocket-Version: 7, 8 (RFC 6455 §4.4)"}},
		{"426 listing 13", nil, func(string, *http.Request) string {
			return "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
		}, nil, exitFail, []string{"which includes the 13 we sent", "version check looks broken"}},
		{"redirect", nil, func(string, *http.Request) string {
			return "HTTP/1.1 302 Found\r\nLocation: wss://example.com/ws\r\nContent-Length: 0\r\n\r\n"
		}, nil, exitFail, []string{`a redirect to "wss://example.com/ws"`}},
		{"401", nil, func(string, *http.Request) string {
			return "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"api\"\r\nContent-Length: 0\r\n\r\n"
		}, nil, exitFail, []string{`WWW-Authenticate: Bearer realm="api"`, "-H 'Authorization: ...'"}},
		{"subprotocol not offered", []string{"-s", "chat,v2"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Protocol: superchat")
		}, nil, exitFail, []string{`FAIL  server chose subprotocol "superchat", which was not offered (RFC 6455 §4.1, response rule 6)`, "offered: chat, v2"}},
		{"subprotocol none offered", nil, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Protocol: chat")
		}, nil, exitFail, []string{`FAIL  server chose subprotocol "chat", which was not offered: the request offered none`}},
		{"two subprotocols", []string{"-s", "a,b"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Protocol: a, b")
		}, nil, exitFail, []string{`FAIL  Sec-WebSocket-Protocol "a, b" is not one subprotocol`}},
		{"subprotocol chosen", []string{"-s", "a", "-s", "b"}, func(k string, req *http.Request) string {
			if req.Header.Get("Sec-WebSocket-Protocol") != "a, b" {
				return response101("offer not sent as one list")
			}
			return response101(good(k), "Sec-WebSocket-Protocol: b")
		}, nil, exitOK, []string{"ok    subprotocol b, offered"}},
		{"extension not offered", nil, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover")
		}, nil, exitFail, []string{`FAIL  server accepted extension "permessage-deflate", which was not offered (RFC 6455 §4.1, response rule 5)`}},
		{"extension offered", []string{"--extension", "permessage-deflate; client_max_window_bits"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate")
		}, nil, exitOK, []string{"ok    extension permessage-deflate, offered", "> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"}},
		{"deflate parameters", []string{"--extension", "permessage-deflate; client_max_window_bits; server_max_window_bits=12"}, func(k string, _ *http.Request) string {
			return response101(good(k), `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="10"; server_max_window_bits=11; server_no_context_takeover`)
		}, nil, exitOK, []string{"ok    extension permessage-deflate; client_max_window_bits=10; server_max_window_bits=11; server_no_context_takeover, offered, with valid parameters"}},
		{"deflate client bits not offered", []string{"--extension", "permessage-deflate"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15")
		}, nil, exitFail, []string{"client_max_window_bits in the response, but the offer did not include it (§7.1.2.2) (RFC 7692 §7.1)"}},
		{"deflate window too large", []string{"--extension", "permessage-deflate; server_max_window_bits=10"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12")
		}, nil, exitFail, []string{"server_max_window_bits=12 is larger than the 10 offered"}},
		{"deflate bad parameter", []string{"--extension", "permessage-deflate"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_no_context_takeover; x=1")
		}, nil, exitFail, []string{"FAIL  extension permessage-deflate; server_no_context_takeover; server_no_context_takeover; x=1: duplicate parameter server_no_context_takeover (RFC 7692 §7.1)"}},
		{"deflate window out of range", []string{"--extension", "permessage-deflate"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7")
		}, nil, exitFail, []string{"server_max_window_bits value 7 is out of the range 8..15"}},
		{"malformed extensions", []string{"--extension", "permessage-deflate"}, func(k string, _ *http.Request) string {
			return response101(good(k), `Sec-WebSocket-Extensions: permessage-deflate; ="x"`)
		}, nil, exitFail, []string{`FAIL  malformed Sec-WebSocket-Extensions header: expected a parameter name (a token) (found '=') at offset 20 in "permessage-deflate; =\"x\"" (RFC 6455 §9.1)`,
			"a client must fail the connection", "Result: 1 problem."}},
		{"malformed extension lines", []string{"--extension", "a, b"}, func(k string, _ *http.Request) string {
			return response101(good(k), "Sec-WebSocket-Extensions: a", `Sec-WebSocket-Extensions: b; q="x y"`)
		}, nil, exitFail, []string{"FAIL  malformed Sec-WebSocket-Extensions header: byte not allowed in a token inside a quoted parameter value (found ' ') at offset 7 in \"b; q=\\\"x y\\\"\""}},
		{"malformed offer accepted", []string{"-H", "Sec-WebSocket-Extensions: x; q=\"a b\""}, func(k string, _ *http.Request) string {
			return response101(good(k))
		}, nil, exitOK, []string{`warn  the request's Sec-WebSocket-Extensions header: byte not allowed in a token inside a quoted parameter value (found ' ') at offset 7 in "x; q=\"a b\"" (RFC 6455 §9.1)`,
			"the server accepted it, but a server must refuse it (with 400 Bad Request)", "Result: the handshake is valid (1 warning)."}},
		{"hang up", nil, func(string, *http.Request) string { return "" }, nil, exitFail,
			[]string{"FAIL  the server closed the connection without answering"}},
		{"not HTTP", nil, func(string, *http.Request) string { return "SSH-2.0-OpenSSH\r\n\r\n" }, nil, exitFail,
			[]string{"FAIL  the response is not valid HTTP"}},
		{"Content-Length on 101", nil, func(k string, _ *http.Request) string { return response101(good(k), "Content-Length: 0") }, nil, exitOK,
			[]string{"warn  a 101 response carries Content-Length", "Result: the handshake is valid (1 warning)."}},
		{"bare LF", nil, func(k string, _ *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: " + good(k) + "\n\n"
		}, nil, exitOK, []string{"warn  lines end with a bare LF"}},
		{"masked close", nil, func(k string, _ *http.Request) string { return response101(good(k)) },
			closeFrame(wsx.StatusNormalClosure, "", true), exitFail, []string{"FAIL  the server sent a masked close frame (RFC 6455 §5.1)"}},
		{"data before close", nil, func(k string, _ *http.Request) string { return response101(good(k)) },
			append([]byte{0x81, 2, 'h', 'i'}, closeFrame(4000, "bye", false)...), exitOK,
			[]string{"the server sent a text frame of 2 bytes before answering our Close", `answered our Close with 4000 "bye"`}},
		{"header override", []string{"-H", "Sec-WebSocket-Version: 8", "-H", "User-Agent:", "-H", "X-Extra: 1"}, func(k string, req *http.Request) string {
			if req.Header.Get("Sec-WebSocket-Version") != "8" || req.Header.Get("User-Agent") != "" || req.Header.Get("X-Extra") != "1" {
				return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
			}
			return "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
		}, nil, exitFail, []string{"the server does not speak version 8; it asks for Sec-WebSocket-Version: 13"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := brokenServer(t, tc.respond, tc.close)
			r := runWSX(t, context.Background(), nil, append(append([]string{"doctor"}, tc.args...), url)...)
			for _, w := range tc.want {
				if r.code != tc.code || !strings.Contains(r.stdout, w) {
					t.Fatalf("exit %d (want %d), output lacks %q:\n%s", r.code, tc.code, w, r.stdout)
				}
			}
		})
	}
}

// The doctor against wsx serve: the whole request and response, and a valid verdict.
func TestDoctorAgainstServe(t *testing.T) {
	s := startServe(t, "-s", "chat")
	r := runWSX(t, context.Background(), nil, "doctor", "-s", "chat", "--origin", "http://"+s.addr, s.url+"echo?x=1")
	for _, w := range []string{
		"> GET /echo?x=1 HTTP/1.1\n> Host: " + s.addr + "\n",
		"< HTTP/1.1 101 Switching Protocols\n",
		"< Sec-WebSocket-Protocol: chat\n",
		"ok    subprotocol chat, offered",
		"Timings: TCP ",
		"Result: the handshake is valid.",
	} {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
}

// A malformed extension offer, sent on purpose, is refused by wsx serve as §9.1 requires.
func TestDoctorMalformedOfferAgainstServe(t *testing.T) {
	s := startServe(t)
	r := runWSX(t, context.Background(), nil, "doctor", "-H", "Sec-WebSocket-Extensions: permessage-deflate;;", s.url)
	for _, w := range []string{
		"> Sec-WebSocket-Extensions: permessage-deflate;;\n",
		"      the request's Sec-WebSocket-Extensions header: expected a parameter name (a token) (found ';') at offset 19 in \"permessage-deflate;;\" (RFC 6455 §9.1)",
		"a server refuses it, with 400 Bad Request",
		`FAIL  server answered "400 Bad Request"`, "the server found the request invalid",
	} {
		if r.code != exitFail || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
}

// TLS: the certificate is summarised and verified; --insecure turns a failure into a warning.
func TestDoctorTLS(t *testing.T) {
	s := startServe(t, "--tls-self-signed")
	r := runWSX(t, context.Background(), nil, "doctor", s.url)
	for _, w := range []string{"* TLS   TLS 1.3, ", "ALPN http/1.1", "names:       localhost, 127.0.0.1, ::1", "verified:    NO: ", "FAIL  the certificate does not verify", "Result: 1 problem."} {
		if r.code != exitFail || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
	r = runWSX(t, context.Background(), nil, "doctor", "-k", s.url)
	if r.code != exitOK || !strings.Contains(r.stdout, "warn  the certificate does not verify (ignored: --insecure)") {
		t.Fatalf("with -k: exit %d:\n%s", r.code, r.stdout)
	}
}

func TestDoctorUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runWSX(t, context.Background(), nil, "doctor", "ws://"+addr+"/")
	if r.code != exitFail || !strings.Contains(r.stdout, "connection refused") || !strings.Contains(r.stdout, "FAIL  could not connect") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	for _, args := range [][]string{{"doctor"}, {"doctor", "mailto:x@y"}, {"doctor", "ws://h/#frag"}, {"doctor", "--once", "ws://h/"}} {
		if r := runWSX(t, context.Background(), nil, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

// startDoctorListen runs "wsx doctor --listen 127.0.0.1:0 --once" and returns its address
// and a channel for its result.
func startDoctorListen(t *testing.T) (string, <-chan result) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	var stdout syncBuffer
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stdout.Write(append(sc.Bytes(), '\n'))
			if a, ok := strings.CutPrefix(sc.Text(), "wsx doctor: listening on ws://"); ok {
				addr <- strings.Split(a, "/")[0]
			}
		}
	}()
	go func() {
		var stderr syncBuffer
		code := run(context.Background(), &env{stdout: pw, stderr: &stderr}, []string{"doctor", "--listen", "--once", "127.0.0.1:0"})
		pw.Close()
		<-scanned
		done <- result{code, stdout.String(), stderr.String()}
	}()
	select {
	case a := <-addr:
		return a, done
	case r := <-done:
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	return "", nil
}

// --listen explains a valid handshake, answers it and closes with 1000.
func TestDoctorListenValid(t *testing.T) {
	addr, done := startDoctorListen(t)
	// A connection that sends nothing (a browser's preconnect) is not the one --once waits for.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	idle.Close()
	c, _, err := wsx.Dial(context.Background(), "ws://"+addr+"/chat", &wsx.DialOptions{Subprotocols: []string{"v1", "v2"}, Origin: "http://example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "v1" {
		t.Errorf("subprotocol %q, want the first offered", c.Subprotocol())
	}
	if _, _, err := c.Read(context.Background()); wsx.CloseStatus(err) != wsx.StatusNormalClosure {
		t.Fatalf("read: %v, want the doctor's close 1000", err)
	}
	r := <-done
	for _, w := range []string{"> GET /chat HTTP/1.1", "ok    Sec-WebSocket-Version: 13 (RFC 6455 §4.2.1 item 6)", "Origin: http://example.com: a browser",
		"ok    Sec-WebSocket-Protocol: v1, v2 (RFC 6455 §4.1 item 10)", "offers subprotocols v1, v2", "< Sec-WebSocket-Protocol: v1", "the client answered our Close with 1000 (normal closure), masked", "Result: the handshake is valid."} {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
}

// --listen explains what is wrong with a broken handshake and answers 400.
func TestDoctorListenInvalid(t *testing.T) {
	addr, done := startDoctorListen(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /x HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: a, a\r\nSec-WebSocket-Extensions: x; =1\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "\n- unsupported Sec-WebSocket-Version \"8\"; this server speaks version 13") {
		t.Errorf("got %s %q, want 400 listing the problems", resp.Status, body)
	}
	r := <-done
	for _, w := range []string{
		`FAIL  method "POST" is not GET (RFC 6455 §4.2.1 item 1)`, "a server refuses it, with 405 Method Not Allowed",
		`FAIL  "HTTP/1.0" request; the handshake needs HTTP/1.1 or later`,
		`FAIL  Connection header "close" does not include "Upgrade" (RFC 6455 §4.2.1 item 4)`,
		`FAIL  Sec-WebSocket-Key "c2hvcnQ=" is not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5)`, "decodes to 5 bytes, not 16",
		`FAIL  unsupported Sec-WebSocket-Version "8"; this server speaks version 13`, "a server refuses it, with 426 Upgrade Required",
		`FAIL  Sec-WebSocket-Protocol "a, a" offers "a" twice`,
		`FAIL  malformed Sec-WebSocket-Extensions header: expected a parameter name (a token) (found '=') at offset 3 in "x; =1" (RFC 6455 §9.1)`,
		"Result: 7 problems; answered 400 Bad Request.",
	} {
		if r.code != exitFail || !strings.Contains(r.stdout, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
}

// --listen checks that the client masks its frames (§5.1).
func TestDoctorListenUnmaskedClient(t *testing.T) {
	addr, done := startDoctorListen(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("response %v, %v", resp, err)
	}
	if h, _, err := readFrame(br, 1024); err != nil || h.Opcode != frame.OpClose || h.Masked {
		t.Fatalf("frame %+v, %v; want the doctor's unmasked close", h, err)
	}
	c.Write(closeFrame(wsx.StatusNormalClosure, "", false))
	r := <-done
	if r.code != exitFail || !strings.Contains(r.stdout, "FAIL  the client sent an unmasked close frame (RFC 6455 §5.1, §5.3)") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the close: %v, want EOF", err)
	}
}

// The wrong scheme gets a hint with the right URL (issue 13): ws:// to a TLS port, whether
// the server answers with a TLS alert or with net/http's 400, and wss:// to a plain port.
func TestDoctorWrongScheme(t *testing.T) {
	// A TLS server that answers anything but a ClientHello with an alert (RFC 8446 §6).
	tlsAddr := rawServer(t, func(c net.Conn) {
		c.Read(make([]byte, 1024))
		c.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46}) // fatal protocol_version
	})
	alert := "ws://" + tlsAddr + "/chat"
	tlsServe := startServe(t, "--tls-self-signed")
	plain := startServe(t)
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{alert, []string{"FAIL  the server answered with TLS, not HTTP", "this port speaks TLS: connect with wss://" + tlsAddr + "/chat"}},
		{"ws://" + tlsServe.addr + "/echo", []string{`FAIL  server answered "400 Bad Request"`, "the server expects TLS on this port: connect with wss://" + tlsServe.addr + "/echo"}},
		{"wss://" + plain.addr + "/echo", []string{"FAIL  TLS handshake with ", "the server answered in plain HTTP: this port speaks ws://, not wss://: connect with ws://" + plain.addr + "/echo"}},
	} {
		r := runWSX(t, context.Background(), nil, "doctor", tc.url)
		for _, w := range tc.want {
			if r.code != exitFail || !strings.Contains(r.stdout, w) {
				t.Errorf("%s: exit %d, output lacks %q:\n%s", tc.url, r.code, w, r.stdout)
			}
		}
	}
}
