package socks5

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// script is the client's view of a SOCKS5 server: it reads the server's canned bytes and
// records what the client writes.
type script struct {
	server  *bytes.Reader
	written bytes.Buffer
}

func newScript(server ...[]byte) *script {
	return &script{server: bytes.NewReader(bytes.Join(server, nil))}
}

func (s *script) Read(p []byte) (int, error)  { return s.server.Read(p) }
func (s *script) Write(p []byte) (int, error) { return s.written.Write(p) }

var (
	selectNoAuth   = []byte{5, 0}
	selectUserPass = []byte{5, 2}
	authOK         = []byte{1, 0}
	replyOKIPv4    = []byte{5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}
)

func cat(b ...[]byte) []byte { return bytes.Join(b, nil) }

// RFC 1928 §3, §4: greeting offering only "no authentication", then a CONNECT to a domain
// name (ATYP 3) and port in network order; the tunnel starts right after the reply.
func TestConnectDomainNoAuth(t *testing.T) {
	s := newScript(selectNoAuth, replyOKIPv4, []byte("tunnel"))
	if err := Connect(s, "example.com", 443, nil); err != nil {
		t.Fatal(err)
	}
	want := cat([]byte{5, 1, 0}, []byte{5, 1, 0, 3, 11}, []byte("example.com"), []byte{1, 187})
	if !bytes.Equal(s.written.Bytes(), want) {
		t.Fatalf("client wrote %x, want %x", s.written.Bytes(), want)
	}
	rest, _ := io.ReadAll(s.server)
	if string(rest) != "tunnel" {
		t.Fatalf("Connect consumed bytes past the reply: %q left", rest)
	}
}

// RFC 1928 §5: IP literals go as ATYP 1 (IPv4, also for IPv4-mapped IPv6) or ATYP 4 (IPv6).
func TestConnectAddressTypes(t *testing.T) {
	for _, tc := range []struct {
		host string
		want []byte
	}{
		{"192.0.2.7", []byte{1, 192, 0, 2, 7}},
		{"::ffff:192.0.2.7", []byte{1, 192, 0, 2, 7}},
		{"2001:db8::1", []byte{4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	} {
		s := newScript(selectNoAuth, replyOKIPv4)
		if err := Connect(s, tc.host, 80, nil); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		want := cat([]byte{5, 1, 0, 5, 1, 0}, tc.want, []byte{0, 80})
		if !bytes.Equal(s.written.Bytes(), want) {
			t.Errorf("%s: client wrote %x, want %x", tc.host, s.written.Bytes(), want)
		}
	}
}

// RFC 1929 §2: with credentials the client offers methods 0 and 2, and answers the server's
// choice of 2 with VER 1, ULEN, UNAME, PLEN, PASSWD.
func TestConnectUserPass(t *testing.T) {
	s := newScript(selectUserPass, authOK, replyOKIPv4)
	if err := Connect(s, "h", 1, &Auth{Username: "user", Password: "pässword"}); err != nil {
		t.Fatal(err)
	}
	want := cat([]byte{5, 2, 0, 2}, []byte{1, 4}, []byte("user"), []byte{9}, []byte("pässword"),
		[]byte{5, 1, 0, 3, 1, 'h', 0, 1})
	if !bytes.Equal(s.written.Bytes(), want) {
		t.Fatalf("client wrote %x, want %x", s.written.Bytes(), want)
	}
}

// A server may skip authentication even when credentials were offered (RFC 1928 §3).
func TestConnectServerChoosesNoAuth(t *testing.T) {
	s := newScript(selectNoAuth, replyOKIPv4)
	if err := Connect(s, "h", 1, &Auth{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if want := []byte{5, 2, 0, 2, 5, 1, 0, 3, 1, 'h', 0, 1}; !bytes.Equal(s.written.Bytes(), want) {
		t.Fatalf("client wrote %x, want %x (no subnegotiation)", s.written.Bytes(), want)
	}
}

// RFC 1928 §6: the bound address of a reply may be a domain name; all of it is consumed.
func TestConnectReplyWithDomainAndIPv6(t *testing.T) {
	for _, reply := range [][]byte{
		cat([]byte{5, 0, 0, 3, 4}, []byte("host"), []byte{0, 1}),
		cat([]byte{5, 0, 0, 4}, make([]byte, 16), []byte{0, 1}),
	} {
		s := newScript(selectNoAuth, reply, []byte("x"))
		if err := Connect(s, "h", 1, nil); err != nil {
			t.Fatal(err)
		}
		if rest, _ := io.ReadAll(s.server); string(rest) != "x" {
			t.Fatalf("reply %x: left %q, want %q", reply, rest, "x")
		}
	}
}

func TestConnectErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server []byte
		auth   *Auth
		want   string
	}{
		{"wrong version", []byte{4, 0}, nil, "version 4"},
		{"auth required", []byte{5, 0xff}, nil, "requires authentication"},
		{"no acceptable method", []byte{5, 0xff}, &Auth{Username: "u"}, "none of the offered"},
		{"unoffered method", []byte{5, 2}, nil, "not offered"},
		{"GSSAPI", []byte{5, 1}, &Auth{Username: "u"}, "not offered"},
		{"auth failed", cat(selectUserPass, []byte{1, 1}), &Auth{Username: "u", Password: "p"}, "authentication failed"},
		{"auth reply version", cat(selectUserPass, []byte{5, 0}), &Auth{Username: "u"}, "version 5, not 1"},
		{"refused", cat(selectNoAuth, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}), nil, "connection refused"},
		{"unassigned reply", cat(selectNoAuth, []byte{5, 0x42, 0, 1, 0, 0, 0, 0, 0, 0}), nil, "0x42"},
		{"reply version", cat(selectNoAuth, []byte{1, 0, 0, 1, 0, 0, 0, 0, 0, 0}), nil, "reply has version 1"},
		{"address type", cat(selectNoAuth, []byte{5, 0, 0, 9, 0, 0, 0, 0, 0, 0}), nil, "unknown address type"},
		{"truncated selection", []byte{5}, nil, io.ErrUnexpectedEOF.Error()},
		{"truncated reply", cat(selectNoAuth, []byte{5, 0, 0, 1, 1, 2}), nil, io.ErrUnexpectedEOF.Error()},
		{"long username", nil, &Auth{Username: strings.Repeat("u", 256)}, "1 to 255"},
		{"empty username", nil, &Auth{Password: "p"}, "1 to 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Connect(newScript(tc.server), "h", 1, tc.auth)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestConnectBadTarget(t *testing.T) {
	for _, host := range []string{"", strings.Repeat("a", 256), "fe80::1%eth0"} {
		s := newScript(selectNoAuth, replyOKIPv4)
		if err := Connect(s, host, 1, nil); err == nil {
			t.Errorf("Connect(%q) succeeded", host)
		}
		if s.written.Len() != 0 {
			t.Errorf("Connect(%q) wrote %x before rejecting the target", host, s.written.Bytes())
		}
	}
}

type errWriter struct{ io.Reader }

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestConnectWriteError(t *testing.T) {
	if err := Connect(errWriter{bytes.NewReader(nil)}, "h", 1, nil); err == nil || err.Error() != "broken pipe" {
		t.Fatalf("err = %v, want the write error", err)
	}
}

// FuzzConnect feeds arbitrary server bytes to the client: it must never panic, and success
// means it read a well-formed selection and reply and nothing more.
func FuzzConnect(f *testing.F) {
	f.Add(cat(selectNoAuth, replyOKIPv4), false)
	f.Add(cat(selectUserPass, authOK, replyOKIPv4), true)
	f.Add(cat(selectNoAuth, []byte{5, 0, 0, 3, 3}, []byte("abc"), []byte{0, 1}), false)
	f.Add(cat(selectNoAuth, []byte{5, 0, 0, 4}, make([]byte, 18)), false)
	f.Fuzz(func(t *testing.T, server []byte, withAuth bool) {
		var auth *Auth
		if withAuth {
			auth = &Auth{Username: "u", Password: "p"}
		}
		s := newScript(server)
		err := Connect(s, "example.com", 80, auth)
		if err != nil {
			return
		}
		read := len(server) - s.server.Len()
		if server[0] != 5 || (server[1] != 0 && server[1] != 2) {
			t.Fatalf("accepted method selection %x", server[:2])
		}
		reply := server[2:read]
		if server[1] == 2 {
			if !withAuth || reply[0] != 1 || reply[1] != 0 {
				t.Fatalf("accepted authentication %x", reply[:2])
			}
			reply = reply[2:]
		}
		if len(reply) < 5 || reply[0] != 5 || reply[1] != 0 {
			t.Fatalf("accepted reply %x", reply)
		}
		want := map[byte]int{1: 10, 3: 7 + int(reply[4]), 4: 22}[reply[3]]
		if len(reply) != want {
			t.Fatalf("reply %x: read %d bytes, want %d", reply, len(reply), want)
		}
	})
}
