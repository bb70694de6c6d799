//go:build !js

package event

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/engine/enginetest"
)

// TestReceiverTable plays every server case of the engine's conformance table over TCP to an
// event server: its handlers must see what the table says a receiver reports, the peer must
// get a Pong for each Ping and a Close frame with the table's code, and a connection that
// fails or closes must end without a reset.
func TestReceiverTable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, listen func(t *testing.T) net.Listener) {
		for _, tc := range enginetest.ReceiverCases {
			if tc.Config.Client {
				continue
			}
			t.Run(tc.Name, func(t *testing.T) {
				opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{
					ReadLimit: tc.Config.ReadLimit, MaxFragments: tc.Config.MaxFragments}}
				var offer []string
				if tc.Config.Deflate {
					opts.Compression = &wsx.CompressionOptions{}
					offer = append(offer, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover")
				}
				r := newRecorder()
				url := serveOn(t, r.server(opts, nil), listen(t))
				c := rawClient(t, url, offer...)
				if _, err := c.Write(tc.Stream); err != nil {
					t.Fatal(err)
				}
				want := messageLevel(tc)
				if strings.HasSuffix(want, "|more") {
					c.Conn.(*net.TCPConn).CloseWrite() // the peer goes away
				}
				gotWire := c.frames(t)
				r.waitClosed(t)
				if got := r.String(); got != want {
					t.Errorf("handlers saw %q\nwant           %q (engine table: %q)", got, want, tc.Want)
				}
				if wantWire := wireLevel(want); gotWire != wantWire {
					t.Errorf("the peer read %q\nwant          %q", gotWire, wantWire)
				}
			})
		}
	})
}

// messageLevel turns a case's transcript into what event mode's handlers see: a message is
// delivered whole at its end, so a control frame between its fragments comes before it, and
// a message that fails part-way is not delivered at all.
func messageLevel(tc enginetest.Case) string {
	switch tc.Name {
	case "5.4 fragments with a ping between":
		return "|ping:p|text:Hello|more"
	case "RFC 7692 6 compressed fragments and a ping":
		return "|ping:p|binary:" + strings.Repeat("abc", 50) + "|more"
	}
	if strings.Contains(tc.Want, "|ping:") && strings.Contains(tc.Want, ":|ping:") {
		panic("a control frame inside a message needs an entry above: " + tc.Name)
	}
	return startedThenFailed.ReplaceAllString(tc.Want, "|fail:")
}

var startedThenFailed = regexp.MustCompile(`\|(text|binary):\|fail:`)

// wireLevel returns what the peer reads for a transcript: a Pong for each Ping, and our Close
// (an echo of the peer's, or the code we failed with) at the end.
func wireLevel(transcript string) string {
	var b strings.Builder
	for _, ev := range strings.Split(transcript, "|")[1:] {
		kind, rest, _ := strings.Cut(ev, ":")
		switch kind {
		case "ping":
			b.WriteString("|pong:" + rest)
		case "close":
			code, _, _ := strings.Cut(rest, ":")
			b.WriteString("|close:" + code)
		case "fail":
			b.WriteString("|close:" + rest)
		}
	}
	return b.String()
}
