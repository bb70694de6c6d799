package wiretest

import (
	"bytes"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// Cases returns the table: what a client sends to a wsx server (frames masked, §5.3) unless
// the case says Client, then what a server sends to a wsx client.
func Cases() []Case {
	m := func(fin bool, rsv byte, op frame.Opcode, p string) []byte {
		return Frame(fin, rsv, op, true, []byte(p))
	}
	u := func(fin bool, rsv byte, op frame.Opcode, p string) []byte {
		return Frame(fin, rsv, op, false, []byte(p))
	}
	join := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	closeFrame := func(masked bool, code uint16, reason string) []byte {
		return Frame(true, 0, frame.OpClose, masked, frame.AppendClose(nil, code, reason))
	}
	limit := func(n int64) wsx.ConnOptions { return wsx.ConnOptions{ReadLimit: n} }
	text := func(s string) Message { return Message{wsx.MessageText, s} }
	binary := func(s string) Message { return Message{wsx.MessageBinary, s} }
	return []Case{
		// §5.1-§5.5: frames that fail the connection with 1002 (§7.4.1).
		{Name: "5.1 unmasked frame from client", Send: u(true, 0, frame.OpText, "hi"), Close: 1002, Error: "unmasked"},
		{Name: "5.1 masked frame from server", Client: true, Send: m(true, 0, frame.OpText, "hi"), Close: 1002, Error: "masked frame from server"},
		{Name: "5.2 reserved opcode 3", Send: m(true, 0, 3, ""), Close: 1002, Error: "reserved opcode"},
		{Name: "5.2 reserved opcode 7", Send: m(true, 0, 7, ""), Close: 1002, Error: "reserved opcode"},
		{Name: "5.2 reserved control opcode B", Send: m(true, 0, 0xB, ""), Close: 1002, Error: "reserved opcode"},
		{Name: "5.2 reserved control opcode F", Send: m(true, 0, 0xF, ""), Close: 1002, Error: "reserved opcode"},
		{Name: "5.2 RSV1 without extension", Send: m(true, frame.Rsv1, frame.OpText, "hi"), Close: 1002, Error: "RSV"},
		{Name: "5.2 RSV2", Send: m(true, frame.Rsv2, frame.OpBinary, "hi"), Close: 1002, Error: "RSV"},
		{Name: "5.2 RSV3", Send: m(true, frame.Rsv3, frame.OpBinary, "hi"), Close: 1002, Error: "RSV"},
		{Name: "5.2 RSV on ping", Send: m(true, frame.Rsv1, frame.OpPing, ""), Close: 1002, Error: "RSV"},
		{Name: "5.2 non-minimal 16-bit length", Send: []byte{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4}, Close: 1002, Error: "non-minimal"},
		{Name: "5.2 non-minimal 64-bit length", Send: []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4}, Close: 1002, Error: "non-minimal"},
		{Name: "5.2 64-bit length with MSB set", Send: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, Close: 1002, Error: "most significant"},
		{Name: "5.4 continuation without a message", Send: m(true, 0, frame.OpContinuation, "x"), Close: 1002, Error: "continuation"},
		{Name: "5.4 new message inside a fragmented one", Send: join(m(false, 0, frame.OpText, "a"), m(true, 0, frame.OpText, "b")), Close: 1002, Error: "before the last one ended"},
		{Name: "5.5 fragmented ping", Send: m(false, 0, frame.OpPing, ""), Close: 1002, Error: "fragmented"},
		{Name: "5.5 ping over 125 bytes", Send: m(true, 0, frame.OpPing, strings.Repeat("p", 126)), Close: 1002, Error: "125"},
		{Name: "5.5 close over 125 bytes", Send: m(true, 0, frame.OpClose, "\x03\xe8"+strings.Repeat("p", 124)), Close: 1002, Error: "125"},
		{Name: "5.5.1 close with 1-byte payload", Send: m(true, 0, frame.OpClose, "\x03"), Close: 1002, Error: "1 byte"},
		{Name: "5.5.1 close with code 1005", Send: m(true, 0, frame.OpClose, "\x03\xed"), Close: 1002, Error: "status code"},
		{Name: "5.5.1 close with code 999", Send: m(true, 0, frame.OpClose, "\x03\xe7"), Close: 1002, Error: "status code"},
		{Name: "5.5.1 close with code 5000", Send: m(true, 0, frame.OpClose, "\x13\x88"), Close: 1002, Error: "status code"},
		// §8.1, §5.5.1: invalid UTF-8 fails with 1007.
		{Name: "5.5.1 close reason not UTF-8", Send: m(true, 0, frame.OpClose, "\x03\xe8\xff"), Close: 1007, Error: "UTF-8"},
		{Name: "8.1 invalid UTF-8 text", Send: m(true, 0, frame.OpText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), Close: 1007, Error: "UTF-8"},
		{Name: "8.1 text ending mid code point", Send: m(true, 0, frame.OpText, "ok\xce"), Close: 1007, Error: "UTF-8"},
		{Name: "8.1 invalid UTF-8 split over fragments", Send: join(m(false, 0, frame.OpText, "ok\xf4"), m(true, 0, frame.OpContinuation, "\x90\x80\x80")), Close: 1007, Error: "UTF-8"},
		{Name: "8.1 invalid UTF-8 fails before the message ends", Send: join(m(false, 0, frame.OpText, "valid so far "), m(false, 0, frame.OpContinuation, "\xed\xa0")), Close: 1007, Error: "UTF-8"},
		// §10.4: limits, 1009 and 1008.
		{Name: "10.4 message over the read limit", Options: limit(10), Send: m(true, 0, frame.OpBinary, strings.Repeat("x", 11)), Close: 1009, Error: "read limit"},
		{Name: "10.4 fragments over the read limit", Options: limit(10), Send: join(m(false, 0, frame.OpBinary, "123456"), m(true, 0, frame.OpContinuation, "12345")), Close: 1009, Error: "read limit"},
		{
			// The peer goes on sending a message the Conn refused; the Conn drains it after its
			// Close, so that the peer's writes return and the Close is not lost to a reset
			// (2 MiB: more than an HTTP/2 server's stream window).
			Name: "10.4 message over the read limit, the rest drained", Options: limit(10),
			Send:  m(true, 0, frame.OpBinary, strings.Repeat("x", 2<<20)),
			Close: 1009, Error: "read limit", Drained: true,
		},
		{
			Name: "StallTimeout: a frame cut short", Options: wsx.ConnOptions{StallTimeout: 200 * time.Millisecond},
			Send:  m(true, 0, frame.OpBinary, "a whole frame")[:8],
			Close: 1008, Error: "stalled",
		},
		{Name: "10.4 too many fragments", Options: wsx.ConnOptions{MaxFragments: 2}, Send: join(m(false, 0, frame.OpBinary, "a"), m(false, 0, frame.OpContinuation, "b"), m(true, 0, frame.OpContinuation, "c")), Close: 1008, Error: "frames"},

		// Messages, control frames between fragments (§5.4), pings answered with the same
		// payload (§5.5.2), unsolicited pongs ignored (§5.5.3), then the peer's close, echoed
		// with its code (§5.5.1, §7.1.2).
		{
			Name: "5.4 fragments with control frames between",
			Send: join(m(false, 0, frame.OpText, "Hel"), m(true, 0, frame.OpPing, "are you there"),
				m(false, 0, frame.OpContinuation, "lo, "), m(true, 0, frame.OpPong, "unsolicited"),
				m(false, 0, frame.OpContinuation, ""), m(true, 0, frame.OpContinuation, "κόσμε"),
				closeFrame(true, 1000, "bye")),
			Messages: []Message{text("Hello, κόσμε")},
			Replies:  []Reply{{frame.OpPong, "are you there"}},
			Close:    1000, PeerClosed: true, Reason: "bye",
			Pings: []string{"are you there"}, Pongs: []string{"unsolicited"},
		},
		{
			Name:   "5.5.2 pings from the server answered masked",
			Client: true,
			Send: join(u(true, 0, frame.OpPing, ""), u(true, 0, frame.OpPing, "\x01"), u(true, 0, frame.OpPing, strings.Repeat("p", 125)),
				u(true, 0, frame.OpBinary, "after"), closeFrame(false, 4000, "done")),
			Messages: []Message{binary("after")},
			Replies:  []Reply{{frame.OpPong, ""}, {frame.OpPong, "\x01"}, {frame.OpPong, strings.Repeat("p", 125)}},
			Close:    4000, PeerClosed: true, Reason: "done",
			Pings: []string{"", "\x01", strings.Repeat("p", 125)},
		},
		{
			Name:     "5.6 empty messages",
			Send:     join(m(true, 0, frame.OpText, ""), m(false, 0, frame.OpBinary, ""), m(true, 0, frame.OpContinuation, ""), closeFrame(true, 1001, "")),
			Messages: []Message{text(""), binary("")},
			Close:    1001, PeerClosed: true,
		},
		{
			Name:     "5.2 lengths of 125, 126 and 65536 bytes",
			Client:   true,
			Send:     join(u(true, 0, frame.OpBinary, strings.Repeat("a", 125)), u(true, 0, frame.OpBinary, strings.Repeat("b", 126)), u(true, 0, frame.OpBinary, strings.Repeat("c", 65536)), closeFrame(false, 1000, "")),
			Messages: []Message{binary(strings.Repeat("a", 125)), binary(strings.Repeat("b", 126)), binary(strings.Repeat("c", 65536))},
			Close:    1000, PeerClosed: true,
		},
		// CloseRead: the Conn reads by itself, answering pings and the peer's Close, and fails
		// the connection on a data message.
		{Name: "CloseRead: a data message", CloseRead: true, Send: m(true, 0, frame.OpText, "hi"), Close: 1008, Error: "CloseRead"},
		{
			Name: "CloseRead: pings answered, the peer's close echoed", CloseRead: true, Client: true,
			Send:    join(u(true, 0, frame.OpPing, "still there?"), closeFrame(false, 1001, "going away")),
			Replies: []Reply{{frame.OpPong, "still there?"}},
			Close:   1001, PeerClosed: true, Reason: "going away",
			Pings: []string{"still there?"},
		},
		{Name: "7.1.5 close without a status code", Send: m(true, 0, frame.OpClose, ""), Close: wsx.StatusNoStatusReceived, PeerClosed: true},
		{Name: "7.4.2 close with a private code", Client: true, Send: closeFrame(false, 4999, "private"), Close: 4999, PeerClosed: true, Reason: "private"},
		{Name: "7.1.2 messages before the close are read", Send: join(m(true, 0, frame.OpBinary, "one"), m(true, 0, frame.OpText, "two"), closeFrame(true, 1000, "")), Messages: []Message{binary("one"), text("two")}, Close: 1000, PeerClosed: true},
	}
}
