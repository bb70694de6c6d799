package memconn

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/wsx-go/wsx/internal/conntest"
	"github.com/wsx-go/wsx/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestConn(t *testing.T) {
	conntest.Run(t, func(t *testing.T) (net.Conn, net.Conn, func()) {
		a, b := Pair("a", "b", 64<<10)
		return a, b, func() {}
	}, conntest.Options{InFlight: 64 << 10})
}

// Both ends can write at once without reading, up to the buffer's size: what net.Pipe cannot
// do, and what a closing handshake in which both ends send Close at once needs.
func TestBothWriteAtOnce(t *testing.T) {
	a, b := Pair("a", "b", 1024)
	defer a.Close()
	defer b.Close()
	if _, err := a.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, err := io.ReadAtLeast(a, buf, 1024); n != 1024 || err != nil {
		t.Fatalf("a read %d, %v", n, err)
	}
}

// The ring buffer keeps bytes in order across its wrap-around.
func TestWrapAround(t *testing.T) {
	a, b := Pair("a", "b", 10)
	defer a.Close()
	defer b.Close()
	var got []byte
	buf := make([]byte, 4)
	for i := range 20 {
		msg := []byte{byte(3 * i), byte(3*i + 1), byte(3*i + 2)}
		if _, err := a.Write(msg); err != nil {
			t.Fatal(err)
		}
		for len(got) < 3*(i+1) {
			n, err := b.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
	}
	for i, c := range got {
		if int(c) != i {
			t.Fatalf("byte %d is %d", i, c)
		}
	}
}

func TestCloseWrite(t *testing.T) {
	a, b := Pair("a", "b", 64)
	defer a.Close()
	defer b.Close()
	a.Write([]byte("last"))
	if err := a.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Write after CloseWrite: %v, want EPIPE", err)
	}
	got, err := io.ReadAll(b)
	if string(got) != "last" || err != nil {
		t.Fatalf("peer read %q, %v; want the bytes, then io.EOF", got, err)
	}
	// The other direction still works.
	if _, err := b.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "reply" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// After Close, the peer reads what was sent, then io.EOF, and its writes fail.
func TestClosePeer(t *testing.T) {
	a, b := Pair("a", "b", 64)
	defer b.Close()
	a.Write([]byte("bye"))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	got, err := io.ReadAll(b)
	if string(got) != "bye" || err != nil {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Write to a closed peer: %v, want ECONNRESET", err)
	}
	if a.LocalAddr().String() != "a" || a.RemoteAddr().String() != "b" || a.LocalAddr().Network() != "memconn" {
		t.Errorf("addresses %v %v", a.LocalAddr(), a.RemoteAddr())
	}
}
