package handshake

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// The Origin policy of a server (§10.2) and its list of host names (RFC 9110
// §7.4) are written as patterns, matched against the parsed host and port of
// an Origin or a Host field, never as text:
//
//	pattern = "null"                          ; origins only: the opaque origin
//	        / [ scheme "://" ] host [ ":" port ] ; scheme: origins only
//	host    = name                            ; "example.com", "localhost"
//	        / "*." name                       ; any name below it, not the name itself
//	        / "*"                             ; any host
//	        / IPv4 / "[" IPv6 "]"             ; that address
//	        / IPv4 "/" bits / "[" IPv6 "/" bits "]" ; any address in that prefix
//	port    = 1*5DIGIT / "*"                  ; that port, or any port
//
// Names compare ASCII case-insensitively, label by label: "*.example.com"
// matches "a.example.com" and "a.b.example.com", but neither "example.com"
// nor "evilexample.com", and a name never matches an address. Addresses
// compare as addresses ("[::ffff:127.0.0.1]" is 127.0.0.1). A pattern
// without a port matches only the default port: an Origin whose port is the
// default for its scheme (80 for http and ws, 443 for https and wss) or
// absent, or a Host without a port or with 80 or 443.

// A pattern is one parsed pattern.
type pattern struct {
	null   bool   // "null"
	scheme string // "" for any
	host   string // a name, or "" for an address or any host
	suffix bool   // host is "*." host
	any    bool   // "*"
	prefix netip.Prefix
	port   string // "" for the default port, "*" for any
}

// parsePattern parses p as an Origin pattern (origins) or a Host pattern.
func parsePattern(p string, origins bool) (pattern, error) {
	var pt pattern
	if p == "null" {
		if !origins {
			return pt, errors.New(`"null" is an origin, not a host`)
		}
		pt.null = true
		return pt, nil
	}
	rest := p
	if scheme, after, ok := strings.Cut(p, "://"); ok {
		if !origins {
			return pt, errors.New("a Host pattern has no scheme")
		}
		if !validScheme(scheme) {
			return pt, fmt.Errorf("bad scheme %q", scheme)
		}
		pt.scheme, rest = scheme, after
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return pt, err
	}
	switch {
	case port == "" || port == "*":
	case !validPort(port):
		return pt, fmt.Errorf("bad port %q: want 1 to 65535, or *", port)
	}
	pt.port = port
	switch {
	case host == "*":
		pt.any = true
	case host[0] == '[':
		inner := host[1 : len(host)-1]
		if strings.IndexByte(inner, '/') >= 0 {
			pt.prefix, err = netip.ParsePrefix(inner)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(inner); err == nil && a.Zone() == "" {
				pt.prefix = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !pt.prefix.IsValid() || !pt.prefix.Addr().Is6() {
			return pt, fmt.Errorf("bad IPv6 address or prefix %s", host)
		}
		pt.prefix = unmapPrefix(pt.prefix.Masked())
	case isIPv4ish(host):
		if strings.IndexByte(host, '/') >= 0 {
			pt.prefix, err = netip.ParsePrefix(host)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(host); err == nil {
				pt.prefix = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !pt.prefix.Addr().Is4() {
			return pt, fmt.Errorf("bad IPv4 address or prefix %q", host)
		}
		pt.prefix = pt.prefix.Masked()
	default:
		name := host
		if after, ok := strings.CutPrefix(host, "*."); ok {
			pt.suffix, name = true, after
		}
		if !validName(name) {
			if strings.IndexByte(host, '*') >= 0 {
				return pt, fmt.Errorf(`bad host %q: "*" stands alone or as the first label ("*.example.com"); for addresses use a prefix such as 127.0.0.0/8`, host)
			}
			return pt, fmt.Errorf("bad host %q: want a name, *.name, an address or a prefix", host)
		}
		pt.host = name
	}
	return pt, nil
}

// splitHostPort splits a pattern's host [":" port], where host may be a
// bracketed IPv6 address or prefix.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%q: no closing ] after an IPv6 address", s)
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if port, ok := strings.CutPrefix(rest, ":"); ok && port != "" {
			return host, port, nil
		}
		return "", "", fmt.Errorf("%q: want [address]:port", s)
	}
	host, port, found := strings.Cut(s, ":")
	if host == "" || found && port == "" {
		return "", "", fmt.Errorf("%q: want host[:port]", s)
	}
	return host, port, nil
}

// unmapPrefix turns a prefix of IPv4-mapped IPv6 addresses into the IPv4
// prefix it stands for, so that it matches addresses as they compare.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// isIPv4ish reports whether s looks like an IPv4 address or prefix: digits,
// dots and a slash, which no name pattern can be (a name's last label is
// not all digits).
func isIPv4ish(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isDigit(c) || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validName reports whether s is a host name: labels of ASCII letters,
// digits, '-' and '_', separated by dots.
func validName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validScheme reports whether s is a URI scheme (RFC 3986 §3.1).
func validScheme(s string) bool {
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validPort reports whether s is a decimal port from 1 to 65535.
func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	n, _ := strconv.Atoi(s)
	return n >= 1 && n <= 65535
}

// ValidateOriginPatterns returns an error naming the first pattern of
// patterns that does not follow the grammar of an Origin pattern.
func ValidateOriginPatterns(patterns []string) error { return validatePatterns(patterns, true) }

// ValidateHostPatterns returns an error naming the first pattern of patterns
// that does not follow the grammar of a Host pattern.
func ValidateHostPatterns(patterns []string) error { return validatePatterns(patterns, false) }

func validatePatterns(patterns []string, origins bool) error {
	for i, p := range patterns {
		if _, err := parsePattern(p, origins); err != nil {
			return fmt.Errorf("[%d] %q: %v", i, p, err)
		}
	}
	return nil
}

// A hostPort is a parsed host: an address, or else a name, and a port ("" when
// absent).
type hostPort struct {
	addr netip.Addr
	name string
	port string
}

// parseHostPort parses host [":" port], as in a Host field or an origin
// (RFC 3986 §3.2.2): a bracketed IPv6 address, an IPv4 address or a name of
// the characters a reg-name may hold but '%', then digits for the port.
func parseHostPort(s string) (hostPort, bool) {
	var hp hostPort
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hp, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return hp, false
		}
		hp.addr = a.Unmap()
		host, s = "", s[end+1:]
		if s != "" && s[0] != ':' {
			return hp, false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, s = s[:i], s[i:]
	} else {
		s = ""
	}
	if s != "" { // ":" port
		hp.port = s[1:]
		if hp.port == "" {
			return hp, false
		}
		for i := 0; i < len(hp.port); i++ {
			if !isDigit(hp.port[i]) {
				return hp, false
			}
		}
	}
	if host == "" {
		return hp, hp.addr.IsValid()
	}
	if isIPv4ish(host) { // netip's error for a name would allocate
		a, err := netip.ParseAddr(host)
		hp.addr = a
		return hp, err == nil && a.Is4()
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		// RFC 3986's reg-name without pct-encoded: a browser's origin
		// never holds '%' (WHATWG URL: a forbidden domain code point).
		if !(isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' || strings.IndexByte("-._~!$&'()*+,;=", c) >= 0) {
			return hp, false
		}
	}
	hp.name = host
	return hp, true
}

// sameHost reports whether a and b name the same host.
func sameHost(a, b hostPort) bool {
	if a.addr.IsValid() || b.addr.IsValid() {
		return a.addr == b.addr
	}
	return strings.EqualFold(a.name, b.name)
}

// defaultPort returns the port a scheme implies when a URI names none, or "".
func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// matches reports whether pt matches hp. defaults lists the ports that an
// absent port stands for (the scheme's default).
func (pt *pattern) matches(hp hostPort, defaults ...string) bool {
	switch {
	case pt.null:
		return false
	case pt.any:
	case pt.prefix.IsValid():
		if !hp.addr.IsValid() || !pt.prefix.Contains(hp.addr) {
			return false
		}
	case hp.addr.IsValid():
		return false
	case pt.suffix:
		n := hp.name
		if len(n) <= len(pt.host)+1 || n[len(n)-len(pt.host)-1] != '.' || !strings.EqualFold(n[len(n)-len(pt.host):], pt.host) {
			return false
		}
	default:
		if !strings.EqualFold(hp.name, pt.host) {
			return false
		}
	}
	switch {
	case pt.port == "*", pt.port == hp.port:
		return true
	case pt.port == "":
		return slices.ContainsFunc(defaults, func(d string) bool { return samePort(hp.port, d) })
	case hp.port == "":
		return slices.ContainsFunc(defaults, func(d string) bool { return samePort(pt.port, d) })
	}
	return samePort(hp.port, pt.port)
}

// samePort reports whether two ports, strings of digits, are the same
// number.
func samePort(a, b string) bool { return strings.TrimLeft(a, "0") == strings.TrimLeft(b, "0") }

// matchHost matches host, a Host value, against the server's patterns
// (RFC 9110 §7.4): a request for a host that is not the server's own is
// refused with 421 Misdirected Request (§15.5.20). A page on a name that
// rebinds to this server's address sends its own name in Host, so the
// check defeats DNS rebinding.
func matchHost(host string, patterns []string) Finding {
	hp, ok := parseHostPort(host)
	for _, p := range patterns {
		pt, err := parsePattern(p, false)
		if err != nil {
			return fail(ruleHostAllowed, host, http.StatusInternalServerError,
				fmt.Sprintf("AcceptOptions.HostPatterns holds a malformed pattern %q: %v", p, err))
		}
		if ok && pt.matches(hp, "80", "443") {
			return pass(ruleHostAllowed, host)
		}
	}
	return fail(ruleHostAllowed, host, http.StatusMisdirectedRequest,
		fmt.Sprintf("Host %s is not a name of this server: no HostPatterns entry matches (RFC 9110 §7.4, §15.5.20)", header.Quote(host)))
}

// CheckOrigin applies a server's Origin policy (§4.2.2 step 4 /origin/,
// §10.2) to the values of a request's Origin field, for a request to host
// (its Host).
//
// Browsers let any page open a WebSocket to any host, sending the user's
// cookies and HTTP authentication, and they report the page's origin in the
// Origin field (§4.1 item 8, RFC 6454). A server that does not check it lets
// every web site act on the user's behalf (cross-site WebSocket hijacking).
// The policy:
//
//   - no Origin: not a browser (§4.2.1 item 7), allowed;
//   - an Origin whose host and port are the request's Host: same-origin,
//     allowed. An absent port is the default for the Origin's scheme, on
//     either side. The scheme is not compared: a server behind a
//     TLS-terminating proxy cannot know its own;
//   - an Origin matching one of p.Origins, allowed;
//   - anything else, including the opaque origin "null" (sandboxed iframes,
//     file: and data: URLs) unless a pattern is "null", and a malformed
//     field, is refused with 403 Forbidden (§10.2).
//
// With p.AnyOrigin, the Origin is reported (Info) and not judged. RFC 8441
// §5 keeps the policy for extended CONNECT.
func CheckOrigin(values []string, host string, p *Policy) Finding {
	if p.AnyOrigin {
		return info(ruleOrigin, joined(values))
	}
	switch len(values) {
	case 0:
		return pass(ruleOrigin, "")
	case 1:
	default:
		return fail(ruleOrigin, joined(values), http.StatusForbidden,
			fmt.Sprintf("Origin header sent %d times; a request has one origin (RFC 6454 §7, RFC 6455 §10.2)", len(values)))
	}
	origin := values[0]
	if origin == "null" {
		for _, pat := range p.Origins {
			if pat == "null" {
				return pass(ruleOrigin, origin)
			}
		}
		return fail(ruleOrigin, origin, http.StatusForbidden,
			`Origin "null" is not allowed; list "null" in OriginPatterns to allow it (RFC 6455 §10.2)`)
	}
	scheme, ohp, ok := parseOrigin(origin)
	if !ok {
		return fail(ruleOrigin, origin, http.StatusForbidden,
			fmt.Sprintf("malformed Origin header %s; want scheme://host[:port] (RFC 6454 §7, RFC 6455 §10.2)", header.Quote(origin)))
	}
	def := defaultPort(scheme)
	if hhp, ok := parseHostPort(host); ok && sameHost(ohp, hhp) && samePort(orDefault(ohp.port, def), orDefault(hhp.port, def)) {
		return pass(ruleOrigin, origin)
	}
	for _, pat := range p.Origins {
		pt, err := parsePattern(pat, true)
		if err != nil {
			return fail(ruleOrigin, origin, http.StatusInternalServerError,
				fmt.Sprintf("AcceptOptions.OriginPatterns holds a malformed pattern %q: %v", pat, err))
		}
		if (pt.scheme == "" || strings.EqualFold(pt.scheme, scheme)) && pt.matches(ohp, def) {
			return pass(ruleOrigin, origin)
		}
	}
	return fail(ruleOrigin, origin, http.StatusForbidden,
		fmt.Sprintf("Origin %s is not allowed to connect to host %s: not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)", header.Quote(origin), header.Quote(host)))
}

// orDefault returns port, or def when port is absent.
func orDefault(port, def string) string {
	if port == "" {
		return def
	}
	return port
}

// parseOrigin parses an Origin value, a serialized origin
// scheme "://" host [ ":" port ] (RFC 6454 §6.2). Anything more than an
// origin (user information, a path, a query or a fragment) makes it
// malformed.
func parseOrigin(origin string) (scheme string, hp hostPort, ok bool) {
	scheme, authority, found := strings.Cut(origin, "://")
	if !found || !validScheme(scheme) || authority == "" || strings.ContainsAny(authority, "/?#@") {
		return "", hp, false
	}
	hp, ok = parseHostPort(authority)
	return scheme, hp, ok
}
