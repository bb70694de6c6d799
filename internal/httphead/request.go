package httphead

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// Limits of a request head, which RFC 9112 §2.3 leaves to the server: the
// request line and the header fields with their line ends (the size of the
// reader given to ReadRequest), and the number of field lines.
const (
	MaxRequestHead = 16 << 10
	MaxFields      = 100
)

// An Error is a request head that breaks the syntax of HTTP/1.1 or a limit:
// the status a server refuses it with, and why, in one line that names the
// rule.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// ReadRequest is ReadHead for a request: a head longer than br's buffer is
// an *Error with 431 Request Header Fields Too Large (RFC 6585 §5).
func ReadRequest(br *bufio.Reader) (string, error) {
	head, err := ReadHead(br)
	return head, requestError(br, err)
}

// PeekRequest is PeekHead for a request, with ReadRequest's errors.
func PeekRequest(br *bufio.Reader) (head string, n int, err error) {
	head, n, err = PeekHead(br)
	return head, n, requestError(br, err)
}

// requestError is the error of reading a request head with br that failed
// with err: a head too long for br is refused with 431.
func requestError(br *bufio.Reader, err error) error {
	if err == ErrTooLong {
		return refuse(http.StatusRequestHeaderFieldsTooLarge, "request head longer than %d bytes (RFC 6585 §5)", br.Size())
	}
	return err
}

// A Parser parses request heads into http.Requests, keeping only the header
// fields listed in Keep. It keeps its working space from one head to the
// next: reuse one (one at a time) and a head costs no allocation beyond the
// string ReadHead returned (none for PeekHead's).
type Parser struct {
	// Keep lists the header fields that Parse puts in the request's Header,
	// by their canonical names (http.CanonicalHeaderKey). Every other field
	// is checked and dropped; Host, Content-Length and Transfer-Encoding go
	// to their own fields of http.Request.
	Keep []string

	fields []field  // the fields of Keep, in the order sent
	vals   []string // the values in the request's Header
}

// A field is a header field of Parser.Keep, by index, and its value.
type field struct {
	i int
	v string
}

// Release drops the parser's references to the last head, so that it can
// wait in a pool without keeping it alive.
func (p *Parser) Release() {
	clear(p.fields[:cap(p.fields)])
	clear(p.vals[:cap(p.vals)])
	p.fields, p.vals = p.fields[:0], p.vals[:0]
}

// Parse parses head, a request head as ReadHead returns it, into r: the
// method, target and version of the request line (RFC 9112 §3), the Host,
// Content-Length and Transfer-Encoding fields, and the fields of p.Keep,
// into r.Header, which must not be nil (and should be empty). A field sent
// on several lines is one list (RFC 9110 §5.3): its values are kept in the
// order sent.
//
// Any syntax error is an *Error with 400 Bad Request (too many fields: 431).
// Parse is strict where RFC 9112 lets a server choose, so that a request
// means the same to every part of the server and to any proxy in front.
func (p *Parser) Parse(head string, r *http.Request) error {
	if err := checkLineEnds(head); err != nil {
		return err
	}
	head = strings.TrimSuffix(head, "\r\n") // the empty line that ends the head
	line, head := nextLine(head)
	if err := parseRequestLine(line, r); err != nil {
		return err
	}

	var (
		hosts   int
		lengths int
		fields  = p.fields[:0]
		nfields int
	)
	for head != "" {
		line, head = nextLine(head)
		if nfields++; nfields > MaxFields {
			return refuse(http.StatusRequestHeaderFieldsTooLarge, "request has more than %d header fields (RFC 6585 §5)", MaxFields)
		}
		name, value, ok := strings.Cut(line, ":")
		switch {
		case line[0] == ' ' || line[0] == '\t':
			return refuse(http.StatusBadRequest, "header line %s continues the previous one: obsolete line folding (RFC 9112 §5.2)", header.Quote(line))
		case !ok || !header.IsToken(name):
			// RFC 9112 §5.1: also whitespace between the name and the colon.
			return refuse(http.StatusBadRequest, "malformed header line %s; want name: value (RFC 9112 §5)", header.Quote(line))
		}
		value = strings.Trim(value, " \t")
		if !header.ValidFieldValue(value) {
			return refuse(http.StatusBadRequest, "header field %s has a control character in its value %s (RFC 9110 §5.5)", name, header.Quote(value))
		}
		switch {
		case strings.EqualFold(name, "Host"):
			if hosts++; hosts > 1 {
				return refuse(http.StatusBadRequest, "Host header sent more than once (RFC 9112 §3.2)")
			}
			if !validHost(value) {
				return refuse(http.StatusBadRequest, "malformed Host header %s (RFC 9112 §3.2)", header.Quote(value))
			}
			if r.Host == "" { // an absolute-form target's authority comes first (RFC 9112 §3.2.2)
				r.Host = value
			}
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseUint(value, 10, 63)
			if lengths++; err != nil || lengths > 1 && int64(n) != r.ContentLength {
				return refuse(http.StatusBadRequest, "malformed Content-Length %s (RFC 9112 §6.3)", header.Quote(value))
			}
			r.ContentLength = int64(n)
		case strings.EqualFold(name, "Transfer-Encoding"):
			// Any transfer coding means a body.
			r.TransferEncoding = []string{value}
		default:
			for i, f := range p.Keep {
				if strings.EqualFold(name, f) {
					fields = append(fields, field{i, value})
					break
				}
			}
		}
	}
	if hosts == 0 {
		r.Host = "" // RFC 9112 §3.2: the Host field is required, absolute form or not
	}
	// One slice of vals per field, with its values in the order sent.
	p.fields = fields // kept, grown or not, for next time
	vals := p.vals[:0]
	for i, name := range p.Keep {
		start := len(vals)
		for _, f := range fields {
			if f.i == i {
				vals = append(vals, f.v)
			}
		}
		if len(vals) > start {
			r.Header[name] = vals[start:len(vals):len(vals)]
		}
	}
	p.vals = vals
	return nil
}

// checkLineEnds refuses a head with a line that does not end in CRLF: RFC
// 9112 §2.2 lets a server take a bare LF as a line end, and requires it to
// refuse or replace a bare CR, but strictness is safer where a proxy in
// front may see lines differently.
func checkLineEnds(head string) error {
	for head != "" {
		i := strings.IndexByte(head, '\n') // every line ends in one (ReadHead)
		if i < 1 || head[i-1] != '\r' {
			return refuse(http.StatusBadRequest, "request head has a line that ends in LF without CR (RFC 9112 §2.2)")
		}
		if strings.IndexByte(head[:i-1], '\r') >= 0 {
			return refuse(http.StatusBadRequest, "bare CR in the request head (RFC 9112 §2.2)")
		}
		head = head[i+1:]
	}
	return nil
}

// nextLine splits s, lines that each end in CRLF, after its first line.
func nextLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\r\n")
	return line, rest
}

// parseRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112 §3) into r.
func parseRequestLine(line string, r *http.Request) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !header.IsToken(method) || !validTarget(target) || !validVersion(proto) {
		return refuse(http.StatusBadRequest, "malformed request line %s; want method SP request-target SP HTTP-version (RFC 9112 §3)", header.Quote(line))
	}
	r.Method = method
	r.Proto = proto
	r.ProtoMajor, r.ProtoMinor = int(proto[5]-'0'), int(proto[7]-'0')
	r.RequestURI = target
	if target[0] != '/' && target != "*" {
		// RFC 9112 §3.2.2: the authority of an absolute-form target is the
		// request's host, whatever the Host header says.
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host == "" {
			return refuse(http.StatusBadRequest, "malformed request target %s (RFC 9112 §3.2)", header.Quote(target))
		}
		r.Host = u.Host
	}
	return nil
}

// validVersion reports whether v is HTTP-version: "HTTP/" DIGIT "." DIGIT
// (RFC 9112 §2.3).
func validVersion(v string) bool {
	return len(v) == 8 && strings.HasPrefix(v, "HTTP/") && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validTarget reports whether t can be a request target: visible ASCII
// (RFC 9112 §3.2, RFC 3986 §2), with every percent sign starting a
// percent-encoded octet.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c <= ' ' || c >= 0x7f:
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// validHost reports whether h may be a Host value: uri-host [":" port]
// (RFC 9112 §3.2, RFC 3986 §3.2.2), checked as far as its bytes go.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' || strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0) {
			return false
		}
	}
	return true
}
