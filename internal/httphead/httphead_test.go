package httphead

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var keep = []string{"Upgrade", "Connection", "Origin", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"}

// TestReadHead checks where a head ends (RFC 9112 §2.1, §2.2) and what is
// left in the reader.
func TestReadHead(t *testing.T) {
	for _, tt := range []struct {
		in, head, rest string
		err            error
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nframes", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "frames", nil},
		{"\r\n\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", "", nil},       // empty lines before the start line
		{"GET / HTTP/1.1\nHost: a\n\nx", "GET / HTTP/1.1\nHost: a\n\n", "x", nil}, // bare LF, for the parser to refuse
		{"", "", "", io.EOF},
		{"GET / HTTP/1.1\r\nHost:", "", "GET / HTTP/1.1\r\nHost:", io.ErrUnexpectedEOF},
		{"GET / HTTP/1.1\r\n" + strings.Repeat("X: 1\r\n", 20), "", "", ErrTooLong},
	} {
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.in)), 64)
		head, err := ReadHead(br)
		if head != tt.head || err != tt.err {
			t.Errorf("ReadHead(%q) = %q, %v; want %q, %v", tt.in, head, err, tt.head, tt.err)
		}
		if tt.err == ErrTooLong {
			continue
		}
		if rest, _ := io.ReadAll(br); string(rest) != tt.rest {
			t.Errorf("ReadHead(%q) left %q, want %q", tt.in, rest, tt.rest)
		}
	}
	// A timeout is returned as such, not as a head.
	br := bufio.NewReader(io.MultiReader(strings.NewReader("HTTP/1.1 1"), iotest.ErrReader(os.ErrDeadlineExceeded)))
	if head, err := ReadHead(br); head != "" || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadHead cut by a timeout = %q, %v", head, err)
	}
}

// TestHeadReader: a response head cut short is reported as what cut it,
// not as the malformed head net/http makes of it (issue 8 item 5).
func TestHeadReader(t *testing.T) {
	for _, tt := range []struct {
		cut  error
		want error
	}{
		{os.ErrDeadlineExceeded, os.ErrDeadlineExceeded},
		{io.EOF, io.ErrUnexpectedEOF},
	} {
		hr := &HeadReader{R: io.MultiReader(strings.NewReader("HTTP/1.1 1"), iotest.ErrReader(tt.cut)), Limit: 100}
		_, err := http.ReadResponse(bufio.NewReader(hr), nil)
		if err == nil || !errors.Is(hr.Cause(err), tt.want) {
			t.Errorf("cut by %v: ReadResponse %v, Cause %v; want %v", tt.cut, err, hr.Cause(err), tt.want)
		}
	}
	hr := &HeadReader{R: strings.NewReader("HTTP/1.1 101 OK\r\n" + strings.Repeat("X: 1\r\n", 100)), Limit: 64}
	if _, err := http.ReadResponse(bufio.NewReader(hr), nil); !errors.Is(hr.Cause(err), ErrTooLong) {
		t.Errorf("a long head: %v, %v", err, hr.Cause(err))
	}
}

// TestParse checks what Parse fills in, and keeps.
func TestParse(t *testing.T) {
	p := Parser{Keep: keep}
	var r http.Request
	r.Header = http.Header{}
	head := "GET http://h.example:81/chat?x HTTP/1.1\r\nhost: other\r\nconnection: keep-alive\r\nUPGRADE:websocket \t\r\nConnection: Upgrade\r\nX-Dropped: 1\r\nContent-Length: 0\r\n\r\n"
	if err := p.Parse(head, &r); err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.RequestURI != "http://h.example:81/chat?x" || r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 ||
		r.Host != "h.example:81" || r.ContentLength != 0 {
		t.Errorf("request %+v", r)
	}
	want := http.Header{"Upgrade": {"websocket"}, "Connection": {"keep-alive", "Upgrade"}}
	if len(r.Header) != len(want) || !slices.Equal(r.Header["Upgrade"], want["Upgrade"]) || !slices.Equal(r.Header["Connection"], want["Connection"]) {
		t.Errorf("header %q, want %q", r.Header, want)
	}
	// Reused: no allocation for the next head (in origin form: an absolute
	// target is parsed by net/url).
	head = strings.Replace(head, "http://h.example:81/chat?x", "/chat?x", 1)
	allocs := testing.AllocsPerRun(100, func() {
		clear(r.Header)
		r = http.Request{Header: r.Header}
		if err := p.Parse(head, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per head", allocs)
	}
}

// FuzzParse parses arbitrary heads: never a panic; a refusal is one line
// naming a rule, with 400 or 431; and a head that Parse accepts, net/http
// reads too, with the same method, target, version, Host, body length and
// kept fields.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET http://server.example.com:80/chat?x=%41 HTTP/1.1\r\nHost: a\r\nOrigin: http://server.example.com\r\nContent-Length: 0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX:  \t\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"0 * HTTP/0.0\r\n \r\n\n", // FuzzAcceptConn's finds
		"GET A://00 HTTP/1.1\r\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		head, err := ReadHead(bufio.NewReaderSize(strings.NewReader(in), MaxRequestHead))
		if err != nil {
			return
		}
		p := Parser{Keep: keep}
		r := http.Request{Header: http.Header{}}
		if err := p.Parse(head, &r); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 && e.Status != 431 || strings.ContainsAny(e.Reason, "\r\n") || !strings.Contains(e.Reason, "(RFC ") {
				t.Fatalf("refusal %#v", err)
			}
			return
		}
		ref, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", head, err)
		}
		if ref.Method != r.Method || ref.RequestURI != r.RequestURI || ref.Proto != r.Proto || ref.ContentLength != r.ContentLength && ref.ContentLength != -1 {
			t.Fatalf("read %q %q %q %d, net/http %q %q %q %d", r.Method, r.RequestURI, r.Proto, r.ContentLength, ref.Method, ref.RequestURI, ref.Proto, ref.ContentLength)
		}
		if r.Host != "" && ref.Host != r.Host {
			t.Fatalf("Host %q, net/http %q", r.Host, ref.Host)
		}
		for _, name := range keep {
			if !slices.Equal(r.Header[name], ref.Header[name]) {
				t.Fatalf("%s %q, net/http %q", name, r.Header[name], ref.Header[name])
			}
		}
	})
}

// FuzzReadHead: a head is the input after its leading empty lines, up to and including the
// first empty line after a start line, within the buffer; anything else is an error.
func FuzzReadHead(f *testing.F) {
	f.Add("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00")
	f.Add("GET / HTTP/1.1\nHost: x\n\n")
	f.Add("\r\n\nGET / HTTP/1.1\r\n\r\n")
	f.Add("no end\r\n")
	f.Add(strings.Repeat("x", 5000) + "\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(in)), 4096)
		head, err := ReadHead(br)
		if err != nil {
			if head != "" {
				t.Fatalf("error %v with a head %q", err, head)
			}
			return
		}
		rest, _ := io.ReadAll(br)
		skipped := len(in) - len(head) - len(rest)
		if skipped < 0 || strings.Trim(in[:skipped], "\r\n") != "" || in[skipped:skipped+len(head)] != head {
			t.Fatalf("head %q is not the input %q after empty lines", head, in)
		}
		if len(head) > 4096 || !strings.HasSuffix(head, "\n\n") && !strings.HasSuffix(head, "\n\r\n") {
			t.Fatalf("head %q does not end with an empty line", head)
		}
		if strings.Contains(strings.TrimRight(head, "\r\n"), "\n\n") || strings.Contains(strings.TrimRight(head, "\r\n"), "\n\r\n") {
			t.Fatalf("head %q holds an empty line before its end", head)
		}
	})
}
