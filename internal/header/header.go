// Package header parses the HTTP header field values of the WebSocket opening
// handshake: comma-separated lists (RFC 7230 §7), token lists such as
// Connection, Upgrade and Sec-WebSocket-Protocol (RFC 6455 §4.1 item 10,
// §4.3), and the Sec-WebSocket-Extensions grammar (RFC 6455 §9.1).
//
// A field sent on several header lines is one list (RFC 7230 §3.2.2, RFC
// 6455 §9.1), so every function takes all of a field's values as http.Header
// holds them. Optional whitespace around elements and empty elements are
// accepted, as RFC 7230 §7 requires of recipients.
//
// The package does no I/O and allocates only for results it returns.
package header

import (
	"strconv"
	"strings"
)

// tchar marks the bytes allowed in a token (RFC 7230 §3.2.6):
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsToken reports whether s is a token (RFC 7230 §3.2.6): one or more tchar.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// isOWS reports whether c is optional whitespace (RFC 7230 §3.2.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// skipOWS returns the index of the first byte at or after i that is not
// optional whitespace.
func skipOWS(s string, i int) int {
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return i
}

// trimOWS removes leading and trailing optional whitespace from s.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && isOWS(s[i]) {
		i++
	}
	for j > i && isOWS(s[j-1]) {
		j--
	}
	return s[i:j]
}

// nextElement splits the list s at its first comma and returns the first
// element without surrounding whitespace and the rest after the comma.
func nextElement(s string) (elem, rest string) {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return trimOWS(s[:i]), s[i+1:]
	}
	return trimOWS(s), ""
}

// HasToken reports whether the comma-separated lists in values contain token,
// compared ASCII case-insensitively. It is meant for fields whose tokens are
// case-insensitive, such as Connection and Upgrade (RFC 6455 §4.2.1 items 3
// and 4, §4.1 response items 2 and 3). Empty elements never match, so
// neither does an empty token; HasToken does not otherwise validate the
// lists.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var e string
			e, v = nextElement(v)
			if e != "" && strings.EqualFold(e, token) {
				return true
			}
		}
	}
	return false
}

// AppendTokens parses values as one 1#token list, the grammar of
// Sec-WebSocket-Protocol in a request (RFC 6455 §4.1 item 10, §4.3), and
// appends its elements to dst in order, case preserved. Empty elements are
// skipped (RFC 7230 §7). A field that is present (len(values) > 0) but holds
// no element, or an element that is not a token, is a *SyntaxError.
//
// AppendTokens does not check that elements are unique; callers that need
// set semantics compare the elements themselves.
func AppendTokens(dst []string, values []string) ([]string, error) {
	n := len(dst)
	for _, v := range values {
		for i := 0; ; {
			i = skipOWS(v, i)
			if i == len(v) {
				break
			}
			if v[i] == ',' {
				i++
				continue
			}
			start := i
			for i < len(v) && tchar[v[i]] {
				i++
			}
			if i == start {
				return dst, syntaxError(v, i, "expected a token")
			}
			dst = append(dst, v[start:i])
			i = skipOWS(v, i)
			if i == len(v) {
				break
			}
			if v[i] != ',' {
				return dst, syntaxError(v, i, "expected ',' after a token")
			}
			i++
		}
	}
	if len(values) > 0 && len(dst) == n {
		return dst, syntaxError(values[0], 0, "empty list")
	}
	return dst, nil
}

// ValidFieldValue reports whether v may be sent as a header field value
// (RFC 9110 §5.5): it holds no control character other than HTAB, so it
// cannot end the field, or the whole message head, early.
func ValidFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// A SyntaxError reports a header field value that does not match its
// grammar.
type SyntaxError struct {
	Value  string // the offending header line's value
	Offset int    // byte offset in Value at which the error was detected
	Msg    string // what was expected or found, such as "expected a token"
}

// Error returns a one-line description such as
// `expected a token at offset 4 in "foo;"`.
func (e *SyntaxError) Error() string {
	what := e.Msg
	if e.Offset < len(e.Value) && e.Msg != "empty list" {
		what += " (found " + describeByte(e.Value[e.Offset]) + ")"
	}
	return what + " at offset " + strconv.Itoa(e.Offset) + " in " + Quote(e.Value)
}

// describeByte returns c quoted if it is printable ASCII, else in hex.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:]
}

func syntaxError(v string, off int, msg string) *SyntaxError {
	return &SyntaxError{Value: v, Offset: off, Msg: msg}
}
