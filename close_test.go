//go:build !js

package wsx

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/frame"
)

// §5.5.1, §7.1.2: Close sends a Close frame with the code and reason, waits for the peer's
// Close, and (as the server) then closes TCP first (§7.1.1).
func TestCloseHandshakeServer_7_1_1(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusGoingAway, "restarting") }()
	payload := peer.expectClose(StatusGoingAway)
	if string(payload[2:]) != "restarting" {
		t.Fatalf("reason %q", payload[2:])
	}
	peer.send(true, frame.OpClose, payload)
	peer.expectEOF() // the server closed TCP without waiting for the client
	if err := <-done; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := c.Write(context.Background(), MessageText, []byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	if err := c.Close(StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// §7.1.1: a client waits for the server to close TCP after the closing handshake.
func TestCloseHandshakeClient_7_1_1(t *testing.T) {
	c, peer := clientWithRawServer(t, ConnOptions{})
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusNormalClosure, "") }()
	peer.expectClose(StatusNormalClosure)
	peer.send(true, frame.OpClose, []byte{0x03, 0xe8})
	select {
	case err := <-done:
		t.Fatalf("client Close returned (%v) before the server closed TCP", err)
	case <-time.After(50 * time.Millisecond):
	}
	peer.nc.Close()
	if err := <-done; err != nil {
		t.Fatalf("Close = %v", err)
	}
}

// §5.5.1: a Close from the peer is answered with a Close echoing its status code and reason
// (so that the peer can confirm what was agreed, as Node's ws does), and the reader sees the
// peer's code and reason. A Close without a status is answered likewise.
func TestPeerCloseEchoed_5_5_1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    StatusCode
		reason  string
	}{
		{"code and reason", append([]byte{0x0f, 0xa0}, "custom"...), 4000, "custom"},
		{"code only", []byte{0x03, 0xe9}, StatusGoingAway, ""},
		{"empty payload", nil, StatusNoStatusReceived, ""},
		{"IANA 1012", []byte{0x03, 0xf4}, StatusServiceRestart, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := serverWithRawClient(t, ConnOptions{})
			peer.send(true, frame.OpClose, tc.payload)
			_, _, err := c.Read(context.Background())
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != tc.want || ce.Reason != tc.reason {
				t.Fatalf("Read = %v, want CloseError %v %q", err, tc.want, tc.reason)
			}
			if CloseStatus(err) != tc.want {
				t.Fatalf("CloseStatus = %v", CloseStatus(err))
			}
			echo := peer.expectClose(tc.want)
			if !bytes.Equal(echo, tc.payload) {
				t.Errorf("echo % x, want the peer's payload % x", echo, tc.payload)
			}
			peer.expectEOF()
		})
	}
}

// §7.4: only codes that may be sent go on the wire; 1005, 1006 and 1015 never do.
func TestCloseRefusesReservedCodes_7_4(t *testing.T) {
	c, _ := serverWithRawClient(t, ConnOptions{})
	for _, code := range []StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, -1, 70000} {
		if err := c.Close(code, ""); err == nil || errors.Is(err, net.ErrClosed) {
			t.Errorf("Close(%d) = %v, want a refusal", code, err)
		}
	}
	if err := c.Close(StatusNormalClosure, strings.Repeat("x", 124)); err == nil {
		t.Error("Close with a 124-byte reason succeeded (§5.5: at most 123)")
	}
	if err := c.Close(StatusNormalClosure, "\xff"); err == nil {
		t.Error("Close with a reason that is not UTF-8 succeeded")
	}
}

// Close gives up after CloseTimeout when the peer never answers, and still closes TCP.
func TestCloseTimeout(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{CloseTimeout: 100 * time.Millisecond})
	err := c.Close(StatusNormalClosure, "")
	if err == nil || !strings.Contains(err.Error(), "handshake incomplete") {
		t.Fatalf("Close = %v, want a timeout", err)
	}
	peer.expectClose(StatusNormalClosure)
	peer.expectEOF()
}

// Close while another goroutine reads: the reader sees the peer's Close, Close returns.
func TestCloseWithConcurrentReader(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	serverErr := readErr(server)
	clientErr := readErr(client)
	if err := client.Close(StatusNormalClosure, "done"); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := <-serverErr; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("server read = %v", err)
	}
	if err := <-clientErr; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("client read = %v", err)
	}
}

// Messages the peer sends before its Close are kept by Close for the next reads (§7.1.2:
// the peer may still be sending when our Close goes out), which then report the peer's Close.
func TestCloseKeepsLateMessages_7_1_2(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusNormalClosure, "") }()
	peer.expectClose(StatusNormalClosure)
	peer.send(true, frame.OpText, []byte("in flight"))
	peer.send(false, frame.OpBinary, []byte("frag"))
	peer.send(true, frame.OpContinuation, []byte("mented"))
	peer.send(true, frame.OpClose, []byte{0x03, 0xe8})
	if err := <-done; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if typ, p, err := c.Read(context.Background()); err != nil || typ != MessageText || string(p) != "in flight" {
		t.Fatalf("first read after Close = %v %q %v", typ, p, err)
	}
	if typ, p, err := c.Read(context.Background()); err != nil || typ != MessageBinary || string(p) != "fragmented" {
		t.Fatalf("second read after Close = %v %q %v", typ, p, err)
	}
	if _, _, err := c.Read(context.Background()); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("third read = %v, want the peer's Close", err)
	}
}

// A read loop running while another goroutine calls Close loses no message, even when Close
// gets the read side between two reads.
func TestCloseDuringReadLoopLosesNothing(t *testing.T) {
	for round := range 20 {
		server, client := connPair(t, ConnOptions{})
		const n = 200
		go func() {
			for i := range n {
				server.Write(context.Background(), MessageText, []byte(strings.Repeat("x", i)))
			}
			server.Read(context.Background()) // answer the client's Close
		}()
		got := make(chan int)
		go func() {
			count := 0
			for {
				_, p, err := client.Read(context.Background())
				if err != nil {
					got <- count
					return
				}
				if len(p) != count {
					t.Errorf("round %d: message %d has %d bytes", round, count, len(p))
				}
				count++
				time.Sleep(time.Duration(count%3) * time.Microsecond)
			}
		}()
		time.Sleep(time.Duration(round) * 50 * time.Microsecond)
		client.Close(StatusNormalClosure, "")
		if count := <-got; count != n {
			t.Fatalf("round %d: the read loop got %d of %d messages", round, count, n)
		}
	}
}

// CloseNow drops TCP at once; the peer sees status 1006.
func TestCloseNow(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	if err := server.CloseNow(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Read(context.Background()); CloseStatus(err) != StatusAbnormalClosure {
		t.Fatalf("peer read = %v, want 1006", err)
	}
	if err := server.CloseNow(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second CloseNow = %v", err)
	}
}

// Ping waits for the matching pong, which the peer's reader sends.
func TestPing_5_5_2(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	go readErr(server)
	go readErr(client)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := client.Ping(ctx); err != nil {
			t.Fatalf("Ping = %v", err)
		}
		cancel()
	}
	// Nobody answers a ping sent to a raw peer: Ping ends with its context.
	c, _ := serverWithRawClient(t, ConnOptions{})
	go readErr(c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered Ping = %v", err)
	}
}
