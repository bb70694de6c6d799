package header

import "strings"

// Extension is one element of a Sec-WebSocket-Extensions list (RFC 6455
// §9.1): an extension name and its parameters, in order.
type Extension struct {
	Name   string
	Params []Param
}

// Param is an extension parameter. A parameter without "=" has HasValue
// false and an empty Value. Values given as quoted-strings are unquoted: after
// parsing, Value is always a token (§9.1).
type Param struct {
	Name     string
	Value    string
	HasValue bool
}

// ParseExtensions parses values, the lines of a Sec-WebSocket-Extensions
// field, as one extension-list (RFC 6455 §9.1, §4.3):
//
//	extension-list  = 1#extension
//	extension       = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// with optional whitespace around every separator (RFC 2616's implied *LWS).
// A quoted-string value is unescaped and must then be a token. Empty list
// elements are skipped (RFC 7230 §7); a field that is present but holds no
// extension is an error. ParseExtensions returns nil, nil when values is
// empty (the field is absent), and a *SyntaxError that locates the first
// offending byte otherwise.
//
// Names and values are substrings of values unless a quoted-string holds an
// escape, so the result allocates little beyond its slices.
func ParseExtensions(values []string) ([]Extension, error) {
	exts, err := AppendExtensions(nil, values)
	if err != nil {
		return nil, err
	}
	return exts, nil
}

// AppendExtensions parses values as ParseExtensions does and appends the
// extensions to dst. On a syntax error it returns dst with the extensions
// before the offending one. The elements of dst past its length are reused
// with the storage of their parameters, so that a dst kept from one field to
// the next parses it without allocating.
func AppendExtensions(dst []Extension, values []string) ([]Extension, error) {
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
			var params []Param
			if len(dst) < cap(dst) {
				params = dst[: len(dst)+1 : cap(dst)][len(dst)].Params[:0]
			}
			var ext Extension
			var err error
			ext, i, err = parseExtension(v, i, params)
			if err != nil {
				return dst, err
			}
			dst = append(dst, ext)
			// parseExtension stops at the end, or at a byte that is not
			// ";" after optional whitespace.
			if i == len(v) {
				break
			}
			if v[i] != ',' {
				return dst, syntaxError(v, i, "expected ',' or ';' after an extension")
			}
			i++
		}
	}
	if len(values) > 0 && len(dst) == n {
		return dst, syntaxError(values[0], 0, "empty list")
	}
	return dst, nil
}

// parseExtension parses one extension starting at v[i], appending its
// parameters to params, and returns it with the index of the first byte
// after it and any whitespace that follows.
func parseExtension(v string, i int, params []Param) (Extension, int, error) {
	ext := Extension{Params: params}
	start := i
	i = scanToken(v, i)
	if i == start {
		return ext, i, syntaxError(v, i, "expected an extension name (a token)")
	}
	ext.Name = v[start:i]
	for {
		i = skipOWS(v, i)
		if i == len(v) || v[i] != ';' {
			return ext, i, nil
		}
		i = skipOWS(v, i+1)
		start = i
		i = scanToken(v, i)
		if i == start {
			return ext, i, syntaxError(v, i, "expected a parameter name (a token)")
		}
		p := Param{Name: v[start:i]}
		if j := skipOWS(v, i); j < len(v) && v[j] == '=' {
			i = skipOWS(v, j+1)
			var err error
			p.Value, i, err = parseValue(v, i)
			if err != nil {
				return ext, i, err
			}
			p.HasValue = true
		}
		ext.Params = append(ext.Params, p)
	}
}

// scanToken returns the index of the first byte at or after i that is not a
// tchar.
func scanToken(v string, i int) int {
	for i < len(v) && tchar[v[i]] {
		i++
	}
	return i
}

// parseValue parses a parameter value at v[i]: a token or a quoted-string
// whose unescaped content is a token (§9.1).
func parseValue(v string, i int) (string, int, error) {
	if i == len(v) || v[i] != '"' {
		start := i
		i = scanToken(v, i)
		if i == start {
			return "", i, syntaxError(v, i, "expected a parameter value (a token or quoted-string)")
		}
		return v[start:i], i, nil
	}
	// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230
	// §3.2.6). Only tchar can survive the token check below, so any other
	// byte, escaped or not, is reported where it stands.
	open := i
	i++
	start, escaped := i, false
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			s := v[start:i]
			if escaped {
				s = unescape(s)
			}
			if !IsToken(s) {
				return "", open, syntaxError(v, open, "quoted parameter value is not a token after unquoting")
			}
			return s, i + 1, nil
		case c == '\\':
			i++
			if i == len(v) || !tchar[v[i]] {
				return "", i, syntaxError(v, i, "quoted-pair escapes a byte not allowed in a token")
			}
			escaped = true
		case !tchar[c]:
			return "", i, syntaxError(v, i, "byte not allowed in a token inside a quoted parameter value")
		}
	}
	return "", i, syntaxError(v, open, "unterminated quoted-string")
}

// unescape removes the backslashes of quoted-pairs from s, the content of a
// quoted-string already checked to end with no lone backslash.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// String formats e as an element of a Sec-WebSocket-Extensions value, such
// as "permessage-deflate; client_max_window_bits=10; server_no_context_takeover".
// A Value that is not a token is written as a quoted-string; ParseExtensions
// refuses such a value, so only extensions it returned round-trip exactly.
func (e Extension) String() string {
	n := len(e.Name)
	for _, p := range e.Params {
		n += 2 + len(p.Name) + 1 + len(p.Value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(e.Name)
	for _, p := range e.Params {
		b.WriteString("; ")
		b.WriteString(p.Name)
		if !p.HasValue {
			continue
		}
		b.WriteByte('=')
		if IsToken(p.Value) {
			b.WriteString(p.Value)
			continue
		}
		b.WriteByte('"')
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.Value[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}
