// Package enginetest holds the engine's conformance table: byte streams a peer may send and
// what a receiver must report for each, event by event. The engine's tests run it against
// engine.Receiver directly, and the tests of each driver (wsx.Conn, the event server) over the
// wire, so that every transport is held to the same rules.
package enginetest

import (
	"bytes"
	"strings"

	"github.com/wsx-go/wsx/internal/deflate"
	"github.com/wsx-go/wsx/internal/frame"
)

// Config is the receiving endpoint's side of a case.
type Config struct {
	Client       bool  // the endpoint is the client: frames arrive unmasked (§5.1)
	ReadLimit    int64 // 0: none
	MaxFragments int   // 0: none
	Deflate      bool  // permessage-deflate was negotiated, without context takeover for the peer (RFC 7692)
}

// A Case is a byte stream and the receiver's transcript of it: "|text:Hello" for a message
// (its type at its start, its payload at its end, so that control frames between its
// fragments come in between: "|text:|ping:pHello"), "|ping:p", "|pong:p", "|close:1000:bye"
// for the peer's Close, "|fail:1002" for the code the connection is failed with, and "|more"
// when the stream ends with nothing more to report.
type Case struct {
	Name   string
	Config Config
	Stream []byte
	Want   string
}

// Frame encodes one frame; masked frames use the key 01 02 03 04.
func Frame(fin bool, rsv byte, op frame.Opcode, masked bool, payload string) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: masked, Key: [4]byte{1, 2, 3, 4}, Length: int64(len(payload))}
	b := make([]byte, frame.MaxHeaderSize+len(payload))
	n := frame.Put(b, h)
	n += copy(b[n:], payload)
	if masked {
		frame.Mask(h.Key, 0, b[n-len(payload):n])
	}
	return b[:n]
}

// Cat joins frames into a stream.
func Cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// Compress returns the permessage-deflate payload of msg, compressed without context
// takeover (RFC 7692 §7.2.1).
func Compress(msg string) string {
	c := deflate.NewCompressor(15, false, deflate.BestSpeed)
	return string(c.AppendMessage(nil, []byte(msg)))
}

// ReceiverCases cover the rules of RFC 6455 §5, §8.1 and §10.4 and RFC 7692 §6 and §8.1 that
// a receiver enforces.
var ReceiverCases = []Case{
	{"5.6 text message", Config{}, Frame(true, 0, frame.OpText, true, "Hello"), "|text:Hello|more"},
	{"5.4 fragments with a ping between", Config{}, Cat(Frame(false, 0, frame.OpText, true, "Hel"), Frame(true, 0, frame.OpPing, true, "p"), Frame(true, 0, frame.OpContinuation, true, "lo")),
		"|text:|ping:pHello|more"},
	{"5.6 empty messages", Config{}, Cat(Frame(true, 0, frame.OpBinary, true, ""), Frame(false, 0, frame.OpText, true, ""), Frame(true, 0, frame.OpContinuation, true, "")), "|binary:|text:|more"},
	{"5.1 client reads unmasked", Config{Client: true}, Frame(true, 0, frame.OpBinary, false, "x"), "|binary:x|more"},
	{"5.1 server refuses unmasked", Config{}, Frame(true, 0, frame.OpBinary, false, "x"), "|fail:1002"},
	{"5.1 client refuses masked", Config{Client: true}, Frame(true, 0, frame.OpBinary, true, "x"), "|fail:1002"},
	{"5.2 reserved opcode", Config{}, Frame(true, 0, 0x5, true, ""), "|fail:1002"},
	{"5.2 reserved control opcode", Config{}, Frame(true, 0, 0xB, true, ""), "|fail:1002"},
	{"5.2 RSV1 without extension", Config{}, Frame(true, frame.Rsv1, frame.OpText, true, "x"), "|fail:1002"},
	{"5.2 RSV2 with deflate", Config{Deflate: true}, Frame(true, frame.Rsv2, frame.OpText, true, "x"), "|fail:1002"},
	{"5.2 non-minimal 16-bit length", Config{}, []byte{0x82, 0xfe, 0, 1, 1, 2, 3, 4, 9}, "|fail:1002"},
	{"5.2 non-minimal 64-bit length", Config{}, []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, "|fail:1002"},
	{"5.2 64-bit length with MSB", Config{}, []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, "|fail:1002"},
	{"5.4 continuation first", Config{}, Frame(true, 0, frame.OpContinuation, true, "x"), "|fail:1002"},
	{"5.4 interleaved messages", Config{}, Cat(Frame(false, 0, frame.OpText, true, "a"), Frame(true, 0, frame.OpBinary, true, "b")), "|text:|fail:1002"},
	{"5.5 long ping", Config{}, Frame(true, 0, frame.OpPing, true, strings.Repeat("x", 126)), "|fail:1002"},
	{"5.5 ping of 125 bytes", Config{}, Frame(true, 0, frame.OpPing, true, strings.Repeat("x", 125)), "|ping:" + strings.Repeat("x", 125) + "|more"},
	{"5.5 fragmented close", Config{}, Frame(false, 0, frame.OpClose, true, ""), "|fail:1002"},
	{"5.5 RSV on a control frame", Config{Deflate: true}, Frame(true, frame.Rsv1, frame.OpPing, true, ""), "|fail:1002"},
	{"5.5.1 close with code and reason", Config{}, Frame(true, 0, frame.OpClose, true, "\x03\xe8bye"), "|close:1000:bye"},
	{"5.5.1 close without status", Config{}, Frame(true, 0, frame.OpClose, true, ""), "|close:1005:"},
	{"5.5.1 close of 1 byte", Config{}, Frame(true, 0, frame.OpClose, true, "\x03"), "|fail:1002"},
	{"5.5.1 bad close code", Config{}, Frame(true, 0, frame.OpClose, true, "\x03\xee"), "|fail:1002"},
	{"5.5.1 close reason not UTF-8", Config{}, Frame(true, 0, frame.OpClose, true, "\x03\xe8\xc0"), "|fail:1007"},
	{"5.5.1 nothing after close", Config{}, Cat(Frame(true, 0, frame.OpClose, true, "\x03\xe8"), Frame(true, 0, frame.OpText, false, "x")), "|close:1000:"},
	{"5.5.3 pong", Config{}, Frame(true, 0, frame.OpPong, true, "abc"), "|pong:abc|more"},
	{"8.1 bad UTF-8 across fragments", Config{}, Cat(Frame(false, 0, frame.OpText, true, "a\xe2\x82"), Frame(true, 0, frame.OpContinuation, true, "\x28")), "|text:|fail:1007"},
	{"8.1 bad UTF-8 fails before the message ends", Config{}, Frame(false, 0, frame.OpText, true, "a\xff"), "|text:|fail:1007"},
	{"8.1 text ends mid code point", Config{}, Frame(true, 0, frame.OpText, true, "a\xe2\x82"), "|text:|fail:1007"},
	{"8.1 code point split across fragments", Config{}, Cat(Frame(false, 0, frame.OpText, true, "a\xe2"), Frame(true, 0, frame.OpContinuation, true, "\x82\xac")), "|text:a€|more"},
	{"8.1 binary is not UTF-8 checked", Config{}, Frame(true, 0, frame.OpBinary, true, "\xff"), "|binary:\xff|more"},
	{"10.4 too big", Config{ReadLimit: 4}, Cat(Frame(false, 0, frame.OpBinary, true, "abc"), Frame(true, 0, frame.OpContinuation, true, "de")), "|binary:|fail:1009"},
	{"10.4 announced too big", Config{ReadLimit: 4}, []byte{0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4}, "|fail:1009"},
	{"10.4 at the limit", Config{ReadLimit: 4}, Frame(true, 0, frame.OpBinary, true, "abcd"), "|binary:abcd|more"},
	{"10.4 too many fragments", Config{MaxFragments: 1}, Cat(Frame(false, 0, frame.OpBinary, true, "a"), Frame(true, 0, frame.OpContinuation, true, "b")), "|binary:|fail:1008"},
	{"RFC 7692 6 compressed message", Config{Deflate: true}, Frame(true, frame.Rsv1, frame.OpText, true, Compress("Hello, Hello, Hello")), "|text:Hello, Hello, Hello|more"},
	{"RFC 7692 6 compressed fragments and a ping", Config{Deflate: true},
		func() []byte {
			p := Compress(strings.Repeat("abc", 50))
			return Cat(Frame(false, frame.Rsv1, frame.OpBinary, true, p[:3]), Frame(true, 0, frame.OpPing, true, "p"), Frame(true, 0, frame.OpContinuation, true, p[3:]))
		}(), "|binary:|ping:p" + strings.Repeat("abc", 50) + "|more"},
	{"RFC 7692 6.1 RSV1 on continuation", Config{Deflate: true},
		Cat(Frame(false, frame.Rsv1, frame.OpBinary, true, "a"), Frame(true, frame.Rsv1, frame.OpContinuation, true, "b")), "|binary:|fail:1002"},
	{"RFC 7692 6.2 invalid compressed data", Config{Deflate: true}, Frame(true, frame.Rsv1, frame.OpBinary, true, "\xff\xff\xff"), "|binary:|fail:1007"},
	{"RFC 7692 8.1 bomb", Config{ReadLimit: 1000, Deflate: true}, Frame(true, frame.Rsv1, frame.OpBinary, true, Compress(strings.Repeat("\x00", 5000))), "|binary:|fail:1009"},
	{"RFC 7692 8.1 inflated text not UTF-8", Config{Deflate: true}, Frame(true, frame.Rsv1, frame.OpText, true, Compress("ok\xff")), "|text:|fail:1007"},
	{"RFC 7692 uncompressed message with deflate on", Config{Deflate: true}, Frame(true, 0, frame.OpText, true, "plain"), "|text:plain|more"},
}
