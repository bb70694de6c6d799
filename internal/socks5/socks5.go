// Package socks5 is a SOCKS version 5 client for TCP CONNECT (RFC 1928) with optional
// username/password authentication (RFC 1929).
//
// It speaks the protocol over a connection the caller has already opened to the proxy, so
// timeouts and cancellation stay with the caller (deadlines on that connection). Every read
// asks for an exact number of bytes, so nothing past the server's reply is consumed: once
// Connect returns nil, the connection is the tunnel.
package socks5

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// Protocol constants (RFC 1928 §3-§6, RFC 1929 §2).
const (
	version5 = 0x05

	methodNoAuth       = 0x00
	methodUserPass     = 0x02
	methodNoAcceptable = 0xff

	cmdConnect = 0x01

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	userPassVersion = 0x01
)

// Auth holds the credentials of RFC 1929 username/password authentication.
type Auth struct {
	Username, Password string
}

// replyText describes the REP codes of RFC 1928 §6.
var replyText = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// Connect asks the SOCKS5 server at the other end of rw to open a TCP connection to
// host:port (RFC 1928 §4). host is an IP address literal (sent as such) or a domain name,
// which the server resolves. auth, when non-nil, offers username/password authentication
// besides no authentication.
func Connect(rw io.ReadWriter, host string, port uint16, auth *Auth) error {
	req, err := connectRequest(host, port)
	if err != nil {
		return err
	}
	if err := negotiate(rw, auth); err != nil {
		return err
	}
	if _, err := rw.Write(req); err != nil {
		return err
	}
	return readReply(rw)
}

// negotiate offers the authentication methods and runs the one the server selects (§3).
func negotiate(rw io.ReadWriter, auth *Auth) error {
	greeting := []byte{version5, 1, methodNoAuth}
	if auth != nil {
		if auth.Username == "" || len(auth.Username) > 255 || len(auth.Password) > 255 {
			return errors.New("socks5: username must be 1 to 255 bytes and password at most 255 bytes (RFC 1929 §2)")
		}
		greeting = []byte{version5, 2, methodNoAuth, methodUserPass}
	}
	if _, err := rw.Write(greeting); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(rw, sel[:]); err != nil {
		return fmt.Errorf("socks5: reading method selection: %w", noEOF(err))
	}
	if sel[0] != version5 {
		return fmt.Errorf("socks5: server answered with version %d, not 5", sel[0])
	}
	switch {
	case sel[1] == methodNoAuth:
		return nil
	case sel[1] == methodUserPass && auth != nil:
		return userPass(rw, auth)
	case sel[1] == methodNoAcceptable:
		if auth == nil {
			return errors.New("socks5: server requires authentication; put the credentials in the proxy URL")
		}
		return errors.New("socks5: server accepted none of the offered authentication methods")
	}
	return fmt.Errorf("socks5: server selected authentication method %#02x, which was not offered", sel[1])
}

// userPass runs the username/password subnegotiation of RFC 1929 §2.
func userPass(rw io.ReadWriter, auth *Auth) error {
	b := make([]byte, 0, 3+len(auth.Username)+len(auth.Password))
	b = append(b, userPassVersion, byte(len(auth.Username)))
	b = append(b, auth.Username...)
	b = append(b, byte(len(auth.Password)))
	b = append(b, auth.Password...)
	if _, err := rw.Write(b); err != nil {
		return err
	}
	var st [2]byte
	if _, err := io.ReadFull(rw, st[:]); err != nil {
		return fmt.Errorf("socks5: reading authentication status: %w", noEOF(err))
	}
	if st[0] != userPassVersion {
		return fmt.Errorf("socks5: authentication reply has version %d, not 1", st[0])
	}
	if st[1] != 0 {
		return errors.New("socks5: username/password authentication failed")
	}
	return nil
}

// connectRequest encodes the CONNECT request of RFC 1928 §4 and §5.
func connectRequest(host string, port uint16) ([]byte, error) {
	b := []byte{version5, cmdConnect, 0}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, fmt.Errorf("socks5: cannot send the zone of address %q", host)
		}
		ip = ip.Unmap()
		if ip.Is4() {
			b = append(b, atypIPv4)
		} else {
			b = append(b, atypIPv6)
		}
		b = append(b, ip.AsSlice()...)
	} else {
		if host == "" || len(host) > 255 {
			return nil, fmt.Errorf("socks5: host name %q must be 1 to 255 bytes", host)
		}
		b = append(b, atypDomain, byte(len(host)))
		b = append(b, host...)
	}
	return append(b, byte(port>>8), byte(port)), nil
}

// readReply reads the whole reply of RFC 1928 §6, including the bound address, so that the
// tunnel starts right after it.
func readReply(r io.Reader) error {
	var h [5]byte // VER REP RSV ATYP and the first byte of BND.ADDR
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fmt.Errorf("socks5: reading reply: %w", noEOF(err))
	}
	if h[0] != version5 {
		return fmt.Errorf("socks5: reply has version %d, not 5", h[0])
	}
	if h[1] != 0 {
		if int(h[1]) < len(replyText) {
			return fmt.Errorf("socks5: CONNECT failed: %s", replyText[h[1]])
		}
		return fmt.Errorf("socks5: CONNECT failed with reply code %#02x", h[1])
	}
	var rest int // bytes of BND.ADDR after the first, plus BND.PORT
	switch h[3] {
	case atypIPv4:
		rest = net.IPv4len - 1 + 2
	case atypIPv6:
		rest = net.IPv6len - 1 + 2
	case atypDomain:
		rest = int(h[4]) + 2 // h[4] is the name's length
	default:
		return fmt.Errorf("socks5: reply has unknown address type %#02x", h[3])
	}
	var buf [255 + 2]byte
	if _, err := io.ReadFull(r, buf[:rest]); err != nil {
		return fmt.Errorf("socks5: reading reply: %w", noEOF(err))
	}
	return nil
}

// noEOF turns a clean EOF in the middle of the protocol into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
