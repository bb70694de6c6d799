package wsx

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// checkOrigin applies the Origin policy of Accept (§4.2.2 step 4 /origin/,
// §10.2) to r and returns nil when the request may proceed.
//
// Browsers let any page open a WebSocket to any host, sending the user's
// cookies and HTTP authentication, and they report the page's origin in the
// Origin header (§4.1 item 8, RFC 6454). A server that does not check it lets
// every web site act on the user's behalf (cross-site WebSocket hijacking).
// The policy:
//
//   - no Origin header: not a browser (§4.2.1 item 7), allowed;
//   - Origin whose host (and port) equals the request's Host: same-origin,
//     allowed. Hosts compare ASCII case-insensitively and a port that is
//     the default for the Origin's scheme (80 for http and ws, 443 for https
//     and wss) may be left out on either side. The scheme is not compared: a
//     server behind a TLS-terminating proxy cannot know its own;
//   - Origin matching one of opts.OriginPatterns, allowed;
//   - anything else, including the opaque origin "null" (sandboxed iframes,
//     file: and data: URLs) and a malformed header, is refused with 403
//     Forbidden (§10.2).
func checkOrigin(r *http.Request, opts *AcceptOptions) *rejection {
	if opts.InsecureSkipOriginCheck {
		return nil
	}
	values := r.Header[hdrOrigin]
	switch len(values) {
	case 0:
		return nil
	case 1:
	default:
		return reject(http.StatusForbidden, "wsx: Origin header sent %d times; a request has one origin (RFC 6454 §7, RFC 6455 §10.2)", len(values))
	}
	origin := values[0]
	if origin == "null" {
		for _, p := range opts.OriginPatterns {
			if p == "null" {
				return nil
			}
		}
		return reject(http.StatusForbidden, `wsx: Origin "null" is not allowed; list "null" in OriginPatterns to allow it (RFC 6455 §10.2)`)
	}
	scheme, host, ok := parseOrigin(origin)
	if !ok {
		return reject(http.StatusForbidden, "wsx: malformed Origin header %s; want scheme://host[:port] (RFC 6454 §7, RFC 6455 §10.2)", quote(values))
	}
	if strings.EqualFold(host, stripDefaultPort(scheme, r.Host)) {
		return nil
	}
	for _, p := range opts.OriginPatterns {
		name := host
		if strings.Contains(p, "://") {
			name = scheme + "://" + host
		}
		matched, err := path.Match(strings.ToLower(p), strings.ToLower(name))
		if err != nil {
			return reject(http.StatusInternalServerError, "wsx: AcceptOptions.OriginPatterns holds a malformed pattern %q: %v", p, err)
		}
		if matched {
			return nil
		}
	}
	return reject(http.StatusForbidden, "wsx: Origin %s is not allowed to connect to host %s: not same-origin and no OriginPatterns entry matches (RFC 6455 §10.2)", quote(values), quote([]string{r.Host}))
}

// parseOrigin splits an Origin value, a serialized origin
// scheme "://" host [ ":" port ] (RFC 6454 §6.2), into its lowercase scheme
// and its host, with a default port removed. Anything more than an origin
// (user information, a path, a query or a fragment) makes it malformed.
func parseOrigin(origin string) (scheme, host string, ok bool) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "", false
	}
	// url.Parse lowercases the scheme.
	return u.Scheme, stripDefaultPort(u.Scheme, u.Host), true
}

// stripDefaultPort removes from host a port that is the default for scheme.
func stripDefaultPort(scheme, host string) string {
	var port string
	switch scheme {
	case "http", "ws":
		port = ":80"
	case "https", "wss":
		port = ":443"
	default:
		return host
	}
	return strings.TrimSuffix(host, port)
}
