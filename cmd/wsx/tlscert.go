package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"time"
)

// serverTLS is what the TLS flags of a server select.
type serverTLS struct {
	cert, key  string
	selfSigned bool
}

func (t *serverTLS) addFlags(f *flags) {
	f.StringVar(&t.cert, "tls-cert", "", "serve wss:// with the PEM certificate chain in `file` (needs --tls-key)")
	f.StringVar(&t.key, "tls-key", "", "PEM private key `file` for --tls-cert")
	f.BoolVar(&t.selfSigned, "tls-self-signed", false, "serve wss:// with a self-signed certificate made at start, for localhost")
}

// check returns a usage error for flags that do not go together.
func (t *serverTLS) check() error {
	switch {
	case (t.cert == "") != (t.key == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case t.cert != "" && t.selfSigned:
		return fmt.Errorf("choose --tls-cert/--tls-key or --tls-self-signed, not both")
	}
	return nil
}

func (t *serverTLS) enabled() bool { return t.cert != "" || t.selfSigned }

// config returns the TLS configuration of a server listening on addr, with the certificate
// of --tls-cert/--tls-key or a self-signed one, offering HTTP/1.1 only (ALPN): the opening
// handshake is HTTP/1.1 (§4.1).
func (t *serverTLS) config(addr string, log *slog.Logger) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if t.selfSigned {
		cert, err = t.selfSignedFor(addr, log)
	} else if cert, err = tls.LoadX509KeyPair(t.cert, t.key); err != nil {
		err = fmt.Errorf("loading the TLS certificate: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}, nil
}

// selfSignedFor makes a self-signed certificate for the host of addr and logs its
// fingerprint, for users who pin it.
func (t *serverTLS) selfSignedFor(addr string, log *slog.Logger) (tls.Certificate, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := selfSignedCertificate(host, time.Now())
	if err != nil {
		return cert, err
	}
	sum := sha256.Sum256(cert.Certificate[0])
	log.Info("made a self-signed certificate", "names", strings.Join(cert.Leaf.DNSNames, ","),
		"ips", fmt.Sprint(cert.Leaf.IPAddresses), "not_after", cert.Leaf.NotAfter.Format(time.RFC3339),
		"sha256", hex.EncodeToString(sum[:]))
	return cert, nil
}

// selfSignedCertificate makes an ECDSA P-256 certificate valid for a week from now, for
// localhost, the loopback addresses and host (a name or an address; "" adds nothing).
func selfSignedCertificate(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"wsx serve (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
