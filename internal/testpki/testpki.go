// Package testpki makes a throw-away CA with a server and a client
// certificate for tests of the TLS listeners and clients.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away CA with a server and a client certificate,
// written as PEM files into a temporary directory.
type PKI struct {
	Dir                   string
	CAFile                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string

	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	serial int64
}

// New writes a CA, a server certificate (for 127.0.0.1 and localhost) and a
// client certificate into a temporary directory.
func New(t *testing.T) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{Dir: dir}
	caKey := mustKey(t)
	caTmpl := certTemplate("xc-test-ca", 1)
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, caCert := sign(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	p.caKey, p.caCert, p.serial = caKey, caCert, 3
	p.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key := mustKey(t)
		tmpl := certTemplate(name, serial)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		der, _ := sign(t, tmpl, caCert, &key.PublicKey, caKey)
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
	p.ServerCert, p.ServerKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// sign issues tmpl for pub, signed by signer as parent (tmpl itself for a
// self-signed certificate), and returns the certificate in DER and parsed.
func sign(t *testing.T, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, *x509.Certificate) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, cert
}

// certTemplate is a certificate for name, valid from an hour ago to an
// hour from now.
func certTemplate(name string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Peer issues a certificate for an HA peer at ips, good for both TLS
// server and client authentication (a peer presents the same certificate
// on its listener and to its partners, as Kea's do), and returns the
// certificate and key files.
func (p *PKI) Peer(t *testing.T, name string, ips ...net.IP) (cert, key string) {
	t.Helper()
	p.serial++
	k := mustKey(t)
	tmpl := certTemplate(name, p.serial)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.IPAddresses = ips
	der, _ := sign(t, tmpl, p.caCert, &k.PublicKey, p.caKey)
	keyDER, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, p.Dir, name+".pem", "CERTIFICATE", der), writePEM(t, p.Dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}
