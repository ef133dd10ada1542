package client

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
)

// LoadTrustAnchor reads a PEM CA file, or every PEM file in a directory, as
// Kea accepts both for trust-anchor (OpenSSL's CApath holds hash-named
// links; reading them all covers that).
func LoadTrustAnchor(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trust-anchor: %w", err)
	}
	pool := x509.NewCertPool()
	if !fi.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("trust-anchor: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("trust-anchor %s: no PEM certificate found", path)
		}
		return pool, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("trust-anchor: %w", err)
	}
	found := false
	for _, e := range entries {
		name := filepath.Join(path, e.Name())
		if st, err := os.Stat(name); err != nil || !st.Mode().IsRegular() {
			continue // dangling links and subdirectories are not anchors
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("trust-anchor: %w", err)
		}
		found = pool.AppendCertsFromPEM(b) || found
	}
	if !found {
		return nil, fmt.Errorf("trust-anchor %s: no PEM certificate found in directory", path)
	}
	return pool, nil
}
