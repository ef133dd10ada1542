package dbtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLS to a test server: a server started with Options.TLS offers TLS
// with a certificate for 127.0.0.1 signed by a CA of its own (CAFile);
// databases made by NewTLSDB refuse their account anything but TLS.

// tlsOnlyRole is the PostgreSQL group whose members the server's
// pg_hba.conf refuses without TLS.
const tlsOnlyRole = "xdhcp_tls_only"

// makeCerts writes, in the server's directory, a CA (ca.pem), the
// server's certificate and key signed by it, and an unrelated CA
// (other-ca.pem) for tests of a wrong trust anchor.
func (s *Server) makeCerts() error {
	caKey, caCert, caPEM, err := newCA("xdhcp test database CA")
	if err != nil {
		return err
	}
	_, _, otherPEM, err := newCA("xdhcp unrelated CA")
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	s.CAFile, s.OtherCAFile = filepath.Join(s.Dir, "ca.pem"), filepath.Join(s.Dir, "other-ca.pem")
	s.certFile, s.keyFile = filepath.Join(s.Dir, "server.pem"), filepath.Join(s.Dir, "server.key")
	for _, f := range []struct {
		path, content string
	}{{s.CAFile, caPEM}, {s.OtherCAFile, otherPEM},
		{s.certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))},
		{s.keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))}} {
		if err := s.writeOwned(f.path, f.content); err != nil {
			return err
		}
	}
	return os.Chmod(s.CAFile, 0o644)
}

func newCA(name string) (*ecdsa.PrivateKey, *x509.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, "", err
	}
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// postgresTLSArgs writes the certificates and a pg_hba.conf that refuses
// members of tlsOnlyRole anything but TLS, and returns the server's
// options for them.
func (s *Server) postgresTLSArgs() ([]string, error) {
	if err := s.makeCerts(); err != nil {
		return nil, err
	}
	hba := filepath.Join(s.Dir, "pg_hba.conf")
	if err := s.writeOwned(hba, fmt.Sprintf(`local all all trust
hostnossl all +%s 127.0.0.1/32 reject
host all all 127.0.0.1/32 scram-sha-256
`, tlsOnlyRole)); err != nil {
		return nil, err
	}
	return []string{"-c", "ssl=on", "-c", "ssl_cert_file=" + s.certFile, "-c", "ssl_key_file=" + s.keyFile,
		"-c", "hba_file=" + hba}, nil
}

// mysqlTLSArgs writes the certificates and returns the server's options
// for them.
func (s *Server) mysqlTLSArgs() ([]string, error) {
	if err := s.makeCerts(); err != nil {
		return nil, err
	}
	return []string{"--ssl-ca=" + s.CAFile, "--ssl-cert=" + s.certFile, "--ssl-key=" + s.keyFile}, nil
}

// NewTLSDB is NewDB for a database whose account may connect with TLS
// only (the server must have been started with Options.TLS).
func (s *Server) NewTLSDB(t testing.TB) DB {
	t.Helper()
	if !s.opts.TLS {
		t.Fatal("dbtest: NewTLSDB on a server started without TLS")
	}
	d := s.NewDB(t)
	var err error
	if s.Kind == Postgres {
		_, err = s.psql("postgres", fmt.Sprintf(`DO $$ BEGIN CREATE ROLE %s NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`, tlsOnlyRole),
			fmt.Sprintf("GRANT %s TO %s", tlsOnlyRole, d.User))
	} else {
		err = s.mysqlRoot(fmt.Sprintf("ALTER USER '%s'@'%%' REQUIRE SSL", d.User))
	}
	if err != nil {
		t.Fatalf("dbtest: require TLS of %s: %v", d.User, err)
	}
	return d
}
