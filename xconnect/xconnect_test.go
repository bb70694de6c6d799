package xconnect_test

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/wsx-go/wsx/xconnect"
)

// The import above ran before net/http's initialization: an HTTP/2 server of this process
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3) in its first SETTINGS frame.
func TestServerAdvertisesExtendedConnect(t *testing.T) {
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		t.Fatalf("GODEBUG = %q", os.Getenv("GODEBUG"))
	}
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	conn, err := tls.Dial("tcp", ts.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	// The client preface and an empty SETTINGS frame (RFC 9113 §3.4), then the server's
	// first frame, which must be its SETTINGS.
	io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	var head [9]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		t.Fatal(err)
	}
	length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
	if head[3] != 0x4 || length%6 != 0 {
		t.Fatalf("first frame type %#x length %d, want SETTINGS", head[3], length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(conn, payload); err != nil {
		t.Fatal(err)
	}
	for p := payload; len(p) >= 6; p = p[6:] {
		if binary.BigEndian.Uint16(p) == 0x8 { // SETTINGS_ENABLE_CONNECT_PROTOCOL
			if v := binary.BigEndian.Uint32(p[2:]); v != 1 {
				t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d", v)
			}
			return
		}
	}
	t.Fatalf("SETTINGS %x has no SETTINGS_ENABLE_CONNECT_PROTOCOL", payload)
}
