package servers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/event"
)

func init() {
	register(&Lib{Name: "wsx-event-tls", Serve: serveWsxEventTLS, TLS: true, EventLoop: true,
		Variant: "event mode over TLS"})
	register(&Lib{Name: "wsx-tls", Serve: serveWsxTLS, TLS: true, Variant: "AcceptConn over TLS"})
}

// serveWsxEventTLS is wsx-event with TLS (Server.TLSConfig): the TLS handshake in a goroutine
// of its own, then records decrypted by the workers.
func serveWsxEventTLS(ln net.Listener, o Options) (Server, error) {
	cfg, err := tlsConfig()
	if err != nil {
		return nil, err
	}
	srv := &event.Server{
		Options:   wsxOptions(o),
		TLSConfig: cfg,
		OnMessage: func(c *event.Conn, typ wsx.MessageType, msg []byte) { c.Write(typ, msg) },
	}
	go srv.Serve(ln)
	return srv, nil
}

// serveWsxTLS is the wsx server (AcceptConn, a goroutine per connection) over TLS.
func serveWsxTLS(ln net.Listener, o Options) (Server, error) {
	cfg, err := tlsConfig()
	if err != nil {
		return nil, err
	}
	return serveWsxConns(ln, o, func(nc net.Conn) net.Conn { return tls.Server(nc, cfg) })
}

// tlsConfig returns a server configuration with a fresh self-signed ECDSA P-256 certificate
// for 127.0.0.1, as a small production certificate would be.
func tlsConfig() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}
