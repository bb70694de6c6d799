//go:build !js

package wsx

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsx-go/wsx/internal/handshake"
)

// A refusal is a refused opening handshake: the HTTP status and the one-line
// reason sent to the client, which is also the error Accept and AcceptConn
// return.
type refusal struct {
	status int
	msg    string
	rule   handshake.Finding // the rule broken, if the refusal is for one
}

func (e *refusal) Error() string { return e.msg }

// refuseWith makes the refusal of a request that broke a rule: reason comes
// from an internal package and gets the prefix of the public API's errors.
func refuseWith(status int, reason string) *refusal {
	return &refusal{status: status, msg: "wsx: " + reason}
}

// refuseFinding makes the refusal of a request for the rule f found broken.
func refuseFinding(f *handshake.Finding) *refusal {
	return &refusal{status: f.Status, msg: "wsx: " + f.Problem, rule: *f}
}

// detach gives e copies of the strings it quotes from the request, for a
// request parsed in place (acceptState.answer).
func (e *refusal) detach() {
	e.msg = strings.Clone(e.msg)
	e.rule.Seen = strings.Clone(e.rule.Seen)
	e.rule.Want = strings.Clone(e.rule.Want)
	e.rule.Problem = strings.Clone(e.rule.Problem)
}

// write sends the refusal through w: the status, the headers it calls for
// and the reason as a plain-text body.
func (e *refusal) write(w http.ResponseWriter) {
	h := w.Header()
	e.header(h.Set)
	w.WriteHeader(e.status)
	io.WriteString(w, e.msg+"\n")
}

// header calls set with each header field of the refusal but the ones of
// the framing (Content-Length, Date, Connection): those the broken rule
// calls for (Allow, Sec-WebSocket-Version) after the body's type.
func (e *refusal) header(set func(name, value string)) {
	set("Content-Type", "text/plain; charset=utf-8")
	set("X-Content-Type-Options", "nosniff")
	e.rule.RefusalFields(set)
}

// appendRaw appends the refusal as a whole HTTP/1.1 response, for
// AcceptConn, which answers without net/http: the fields of header, then
// Date (RFC 9110 §6.6.1), Content-Length, and "Connection: close" (RFC 9112
// §9.6), since the connection ends after it.
func (e *refusal) appendRaw(b []byte, now time.Time) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(e.status)...)
	b = append(b, "\r\n"...)
	e.header(func(name, value string) {
		b = append(append(append(append(b, name...), ": "...), value...), "\r\n"...)
	})
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(e.msg)+1), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, e.msg...)
	return append(b, '\n')
}
