package control

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xdhcp/config"
	"xdhcp/control/client"
)

// defaultRealm is sent in WWW-Authenticate when the config names none.
const defaultRealm = "xdhcp"

// authState holds the basic-auth clients of one socket, read at Listen time.
type authState struct {
	realm string
	creds *Credentials
}

type credential struct{ user, password string }

// check reports whether user and password match a client (by digest, see
// Credentials.Check).
func (a *authState) check(user, password string) bool { return a.creds.Check(user, password) }

// aeadCipherSuites are the TLS 1.2 suites the control channel accepts:
// forward-secret key exchange and authenticated encryption only (no CBC,
// no SHA-1 MACs, no RSA key exchange). TLS 1.3 suites are all AEAD and
// not configurable.
var aeadCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// AEADCipherSuites returns the TLS 1.2 cipher suites the control channel
// accepts, for other listeners that should match it.
func AEADCipherSuites() []uint16 { return append([]uint16(nil), aeadCipherSuites...) }

// readSecret reads a user or password file. A single trailing newline is
// dropped because editors add one; other whitespace is kept, since it may
// be part of the password.
func readSecret(dir, name string) (string, error) {
	if !filepath.IsAbs(name) && dir != "" {
		name = filepath.Join(dir, name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// loadAuth validates Kea's "authentication" block and reads its files.
// A client gives user or user-file, and password or password-file; a client
// with only a password-file reads "user:password" from it, as Kea does.
func loadAuth(cfg *config.Authentication) (*authState, error) {
	if cfg.Type != "" && cfg.Type != "basic" {
		return nil, fmt.Errorf("authentication type %q not supported (want basic)", cfg.Type)
	}
	a := &authState{realm: cfg.Realm}
	if a.realm == "" {
		a.realm = defaultRealm
	}
	a.creds = NewCredentials(a.realm)
	var errs []error
	for i, c := range cfg.Clients {
		cred, err := loadClient(cfg.Directory, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("authentication client %d: %w", i, err))
			continue
		}
		a.creds.Add(cred.user, cred.password)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

func loadClient(dir string, c config.AuthClient) (credential, error) {
	var cred credential
	if c.User != "" && c.UserFile != "" {
		return cred, errors.New("user and user-file are mutually exclusive")
	}
	if c.Password != "" && c.PasswordFile != "" {
		return cred, errors.New("password and password-file are mutually exclusive")
	}
	cred.user, cred.password = c.User, c.Password
	if c.UserFile != "" {
		u, err := readSecret(dir, c.UserFile)
		if err != nil {
			return cred, fmt.Errorf("user-file: %w", err)
		}
		cred.user = u
	}
	if c.PasswordFile != "" {
		p, err := readSecret(dir, c.PasswordFile)
		if err != nil {
			return cred, fmt.Errorf("password-file: %w", err)
		}
		cred.password = p
		if c.User == "" && c.UserFile == "" {
			u, p, ok := strings.Cut(p, ":")
			if !ok {
				return cred, errors.New("password-file without user must hold user:password")
			}
			cred.user, cred.password = u, p
		}
	}
	if cred.user == "" {
		return cred, errors.New("user is empty")
	}
	if strings.Contains(cred.user, ":") {
		return cred, errors.New("user contains ':' (basic authentication cannot carry it)")
	}
	return cred, nil
}

// tlsState is an https socket's TLS configuration.
type tlsState struct{ cfg *tls.Config }

// loadTLS builds the server TLS config: cert-file/key-file, trust-anchor (a
// CA file or a directory of PEM files), and mutual TLS when cert-required.
func loadTLS(sock config.ControlSocket) (*tlsState, error) {
	if sock.CertFile == "" || sock.KeyFile == "" {
		return nil, errors.New("https needs cert-file and key-file")
	}
	cert, err := tls.LoadX509KeyPair(sock.CertFile, sock.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert-file %s / key-file %s: %w", sock.CertFile, sock.KeyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: aeadCipherSuites, Certificates: []tls.Certificate{cert}}
	if sock.TrustAnchor != "" {
		pool, err := client.LoadTrustAnchor(sock.TrustAnchor)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	switch {
	case sock.CertRequired && cfg.ClientCAs == nil:
		return nil, errors.New("cert-required needs a trust-anchor to verify client certificates")
	case sock.CertRequired:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case cfg.ClientCAs != nil:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return &tlsState{cfg: cfg}, nil
}
