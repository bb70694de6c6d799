//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// Each case feeds raw bytes to a Conn and expects it to fail the connection with a status code
// (§7.1.7): the Close frame on the wire and the error from Read both carry it.
func TestReadFailures(t *testing.T) {
	masked := func(fin bool, rsv byte, op frame.Opcode, p string) []byte {
		return frameBytes(fin, rsv, op, true, []byte(p))
	}
	unmasked := func(fin bool, rsv byte, op frame.Opcode, p string) []byte {
		return frameBytes(fin, rsv, op, false, []byte(p))
	}
	join := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	cases := []struct {
		name    string
		client  bool // the Conn under test is the client
		opts    ConnOptions
		input   []byte
		want    StatusCode
		message string // part of the error text
	}{
		{name: "5.1 unmasked frame from client", input: unmasked(true, 0, frame.OpText, "hi"), want: 1002, message: "unmasked"},
		{name: "5.1 masked frame from server", client: true, input: masked(true, 0, frame.OpText, "hi"), want: 1002, message: "masked frame from server"},
		{name: "5.2 reserved opcode 3", input: masked(true, 0, 3, ""), want: 1002, message: "reserved opcode"},
		{name: "5.2 reserved opcode 7", input: masked(true, 0, 7, ""), want: 1002, message: "reserved opcode"},
		{name: "5.2 reserved control opcode B", input: masked(true, 0, 0xB, ""), want: 1002, message: "reserved opcode"},
		{name: "5.2 reserved control opcode F", input: masked(true, 0, 0xF, ""), want: 1002, message: "reserved opcode"},
		{name: "5.2 RSV1 without extension", input: masked(true, frame.Rsv1, frame.OpText, "hi"), want: 1002, message: "RSV"},
		{name: "5.2 RSV2", input: masked(true, frame.Rsv2, frame.OpBinary, "hi"), want: 1002, message: "RSV"},
		{name: "5.2 RSV3", input: masked(true, frame.Rsv3, frame.OpBinary, "hi"), want: 1002, message: "RSV"},
		{name: "5.2 RSV on ping", input: masked(true, frame.Rsv1, frame.OpPing, ""), want: 1002, message: "RSV"},
		{name: "5.2 non-minimal 16-bit length", input: []byte{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4}, want: 1002, message: "non-minimal"},
		{name: "5.2 non-minimal 64-bit length", input: []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4}, want: 1002, message: "non-minimal"},
		{name: "5.2 64-bit length with MSB set", input: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, want: 1002, message: "most significant"},
		{name: "5.4 continuation without a message", input: masked(true, 0, frame.OpContinuation, "x"), want: 1002, message: "continuation"},
		{name: "5.4 new message inside a fragmented one", input: join(masked(false, 0, frame.OpText, "a"), masked(true, 0, frame.OpText, "b")), want: 1002, message: "before the last one ended"},
		{name: "5.5 fragmented ping", input: masked(false, 0, frame.OpPing, ""), want: 1002, message: "fragmented"},
		{name: "5.5 ping over 125 bytes", input: masked(true, 0, frame.OpPing, strings.Repeat("p", 126)), want: 1002, message: "125"},
		{name: "5.5 close over 125 bytes", input: masked(true, 0, frame.OpClose, "\x03\xe8"+strings.Repeat("p", 124)), want: 1002, message: "125"},
		{name: "5.5.1 close with 1-byte payload", input: masked(true, 0, frame.OpClose, "\x03"), want: 1002, message: "1 byte"},
		{name: "5.5.1 close with code 1005", input: masked(true, 0, frame.OpClose, "\x03\xed"), want: 1002, message: "status code"},
		{name: "5.5.1 close with code 999", input: masked(true, 0, frame.OpClose, "\x03\xe7"), want: 1002, message: "status code"},
		{name: "5.5.1 close with code 5000", input: masked(true, 0, frame.OpClose, "\x13\x88"), want: 1002, message: "status code"},
		{name: "5.5.1 close reason not UTF-8", input: masked(true, 0, frame.OpClose, "\x03\xe8\xff"), want: 1007, message: "UTF-8"},
		{name: "8.1 invalid UTF-8 text", input: masked(true, 0, frame.OpText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), want: 1007, message: "UTF-8"},
		{name: "8.1 text ending mid code point", input: masked(true, 0, frame.OpText, "ok\xce"), want: 1007, message: "UTF-8"},
		{name: "8.1 invalid UTF-8 split over fragments", input: join(masked(false, 0, frame.OpText, "ok\xf4"), masked(true, 0, frame.OpContinuation, "\x90\x80\x80")), want: 1007, message: "UTF-8"},
		{name: "10.4 message over the read limit", opts: ConnOptions{ReadLimit: 10}, input: masked(true, 0, frame.OpBinary, strings.Repeat("x", 11)), want: 1009, message: "read limit"},
		{name: "10.4 fragments over the read limit", opts: ConnOptions{ReadLimit: 10}, input: join(masked(false, 0, frame.OpBinary, "123456"), masked(true, 0, frame.OpContinuation, "12345")), want: 1009, message: "read limit"},
		{name: "10.4 too many fragments", opts: ConnOptions{MaxFragments: 2}, input: join(masked(false, 0, frame.OpBinary, "a"), masked(false, 0, frame.OpContinuation, "b"), masked(true, 0, frame.OpContinuation, "c")), want: 1008, message: "frames"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *Conn
			var peer *rawPeer
			if tc.client {
				c, peer = clientWithRawServer(t, tc.opts)
			} else {
				c, peer = serverWithRawClient(t, tc.opts)
			}
			peer.write(tc.input)
			errc := readErr(c)
			peer.expectClose(tc.want)
			peer.expectEOF()
			err := <-errc
			failedWith(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
			// The failure is sticky: later reads say the same.
			if _, _, again := c.Read(context.Background()); again != err {
				t.Errorf("second read: %v, want %v", again, err)
			}
		})
	}
}

// §8.1: invalid UTF-8 fails the connection as soon as it arrives, before the message ends.
func TestReadInvalidUTF8FailsFast_8_1(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	errc := readErr(c)
	peer.send(false, frame.OpText, []byte("valid so far "))
	peer.send(false, frame.OpContinuation, []byte{0xed, 0xa0}) // a surrogate's start: no valid continuation
	// No final fragment is sent: the Close must come anyway.
	peer.expectClose(StatusInvalidFramePayloadData)
	failedWith(t, <-errc, StatusInvalidFramePayloadData)
}

// §5.4: a fragmented message is delivered whole; control frames may come between fragments
// (§5.4, §5.5) and pings are answered at once with the same payload (§5.5.2).
func TestReadFragmentsWithControlFrames_5_4(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(false, frame.OpText, []byte("Hel"))
	peer.send(true, frame.OpPing, []byte("are you there"))
	peer.send(false, frame.OpContinuation, []byte("lo, "))
	peer.send(true, frame.OpPong, []byte("unsolicited")) // §5.5.3: ignored
	peer.send(false, frame.OpContinuation, nil)
	peer.send(true, frame.OpContinuation, []byte("κόσμε"))
	typ, p, err := c.Read(context.Background())
	if err != nil || typ != MessageText || string(p) != "Hello, κόσμε" {
		t.Fatalf("Read = %v %q %v", typ, p, err)
	}
	h, payload := peer.readFrame()
	if h.Opcode != frame.OpPong || string(payload) != "are you there" || h.Masked || !h.Fin {
		t.Fatalf("answer to ping: %+v %q", h, payload)
	}
}

// §5.5.2: a ping with an empty payload and one with 125 bytes are answered alike.
func TestReadPingPayloads_5_5_2(t *testing.T) {
	c, peer := clientWithRawServer(t, ConnOptions{})
	for _, n := range []int{0, 1, 125} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		peer.send(true, frame.OpPing, payload)
		peer.send(true, frame.OpBinary, []byte("after"))
		if _, p, err := c.Read(context.Background()); err != nil || string(p) != "after" {
			t.Fatalf("Read = %q, %v", p, err)
		}
		h, got := peer.readFrame()
		if h.Opcode != frame.OpPong || !bytes.Equal(got, payload) || !h.Masked {
			t.Fatalf("pong for %d bytes: %+v %x", n, h, got)
		}
	}
}

// An empty message, text or binary, in one frame or as empty fragments.
func TestReadEmptyMessages_5_6(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(true, frame.OpText, nil)
	peer.send(false, frame.OpBinary, nil)
	peer.send(true, frame.OpContinuation, nil)
	for _, want := range []MessageType{MessageText, MessageBinary} {
		typ, p, err := c.Read(context.Background())
		if err != nil || typ != want || p == nil || len(p) != 0 {
			t.Fatalf("Read = %v %q %v, want empty %v", typ, p, err, want)
		}
	}
}

// An expired read leaves the connection usable: the next read carries on with the same
// message, even when the deadline struck inside a frame.
func TestReadTimeoutResumes(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	msg := frameBytes(true, 0, frame.OpText, true, []byte("split across a timeout"))
	peer.write(msg[:10]) // header and part of the payload
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read = %v, want context.DeadlineExceeded", err)
	}
	peer.write(msg[10:])
	typ, p, err := c.Read(context.Background())
	if err != nil || typ != MessageText || string(p) != "split across a timeout" {
		t.Fatalf("Read after timeout = %v %q %v", typ, p, err)
	}
}

// Cancelling a context interrupts a blocked read, and the connection stays usable.
func TestReadCancel(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
	peer.send(true, frame.OpBinary, []byte("still here"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "still here" {
		t.Fatalf("Read after cancel = %q %v", p, err)
	}
}

// A streaming Reader interrupted by its context is resumed by the next Reader.
func TestReaderTimeoutResumes(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(false, frame.OpBinary, []byte("first "))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	typ, r, err := c.Reader(ctx)
	if err != nil || typ != MessageBinary {
		t.Fatal(typ, err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, context.DeadlineExceeded) || string(got) != "first " {
		t.Fatalf("ReadAll = %q %v", got, err)
	}
	peer.send(true, frame.OpContinuation, []byte("second"))
	typ, r, err = c.Reader(context.Background())
	if err != nil || typ != MessageBinary {
		t.Fatal(typ, err)
	}
	if rest, err := io.ReadAll(r); err != nil || string(rest) != "second" {
		t.Fatalf("rest = %q %v", rest, err)
	}
}

// A message left unread is discarded by the next Reader.
func TestReaderDiscardsUnreadRest(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.send(true, frame.OpBinary, []byte("skipped"))
	peer.send(true, frame.OpText, []byte("wanted"))
	if _, _, err := c.Reader(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, r, err := c.Reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || string(got) != "wanted" {
		t.Fatalf("got %q %v", got, err)
	}
}

// A second concurrent read gets an error, not a panic or interleaved data.
func TestConcurrentReadRefused(t *testing.T) {
	c, _ := serverWithRawClient(t, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go c.Read(ctx)
	time.Sleep(20 * time.Millisecond)
	if _, _, err := c.Read(context.Background()); err != errConcurrentRead {
		t.Fatalf("concurrent Read = %v", err)
	}
	cancel()
}

// §7.1.5: a connection that ends without a Close frame reports status 1006.
func TestReadAbnormalClosure_7_1_5(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	peer.write(frameBytes(true, 0, frame.OpBinary, true, []byte("truncated"))[:8])
	peer.nc.Close()
	_, _, err := c.Read(context.Background())
	if CloseStatus(err) != StatusAbnormalClosure || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Read = %v, want status 1006 wrapping io.ErrUnexpectedEOF", err)
	}
}

// Frames sent right behind the handshake, already buffered by it, are read first.
func TestReadBufferedAfterHandshake(t *testing.T) {
	// covered end to end by the accept and dial tests; here the Conn alone
	a, b := tcpPair(t)
	early := frameBytes(true, 0, frame.OpText, true, []byte("early"))
	late := frameBytes(true, 0, frame.OpText, true, []byte("late"))
	br := newBufferedReader(early)
	c := newConn(a, connConfig{br: br})
	b.Write(late)
	for _, want := range []string{"early", "late"} {
		if _, p, err := c.Read(context.Background()); err != nil || string(p) != want {
			t.Fatalf("Read = %q %v, want %q", p, err, want)
		}
	}
}
