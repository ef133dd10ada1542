package ha

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// maxAnswerSize bounds a peer's answer (a lease4-get-page of 10000 leases
// is a few MB).
const maxAnswerSize = 256 << 20

// client sends commands to one peer over HTTP/1.1 with persistent
// connections. Concurrent calls use up to conns parallel connections, so
// lease updates are pipelined the way Kea's HA+MT client threads do.
type client struct {
	peer *PeerConfig
	hc   *http.Client
	tr   *http.Transport
	url  string
}

// newClient builds a client for p with at most conns connections.
func newClient(p *PeerConfig, conns int) (*client, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: RequestTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		// Under the 30 s idle timeout of our dedicated listener (and of
		// Kea's HTTP listeners): a POST on a connection the server closed
		// as we reused it fails without retry, and a failed lease update
		// drops a reply and marks the partner unavailable.
		IdleConnTimeout: 25 * time.Second,
		// Kea speaks HTTP/1.1 only; an empty TLSNextProto map keeps Go
		// from negotiating HTTP/2 over TLS.
		TLSNextProto:       map[string]func(string, *tls.Conn) http.RoundTripper{},
		DisableCompression: true,
	}
	if p.URL.Scheme == "https" {
		cfg, err := clientTLS(p)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", p.Name, err)
		}
		tr.TLSClientConfig = cfg
	}
	// Kea always posts to "/" whatever path the configured URL has.
	u := *p.URL
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/", "", "", ""
	return &client{peer: p, tr: tr, hc: &http.Client{Transport: tr}, url: u.String()}, nil
}

// close drops the idle connections.
func (c *client) close() { c.tr.CloseIdleConnections() }

// clientTLS loads the peer's trust anchor and our certificate. Like Kea,
// the peer's certificate chain is verified against the trust anchor but not
// its name: peers are addressed by IP literal, and Kea does not check SANs.
func clientTLS(p *PeerConfig) (*tls.Config, error) {
	pool, err := loadTrustAnchor(p.TrustAnchor)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert-file %s / key-file %s: %w", p.CertFile, p.KeyFile, err)
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool, x509.ExtKeyUsageServerAuth)
		},
	}, nil
}

// verifyChain checks a presented chain against pool, ignoring names.
func verifyChain(raw [][]byte, pool *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(raw) == 0 {
		return errors.New("peer presented no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("parse peer certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("verify peer certificate: %w", err)
	}
	return nil
}

// loadTrustAnchor reads a CA file, or every PEM file of a CA directory
// (Kea accepts both).
func loadTrustAnchor(path string) (*x509.CertPool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trust-anchor %s: %w", path, err)
	}
	files := []string{path}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("read trust-anchor directory %s: %w", path, err)
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	pool := x509.NewCertPool()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read trust-anchor %s: %w", f, err)
		}
		if pool.AppendCertsFromPEM(b) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("trust-anchor %s: no PEM certificate", path)
	}
	return pool, nil
}

// do posts one command and returns the peer's answer. err is set for
// transport failures, timeouts, non-200 statuses and unparsable answers;
// a parsed answer with a failure result is returned with a nil err.
func (c *client) do(ctx context.Context, name string, args any, timeout time.Duration) (answer, error) {
	body, err := encodeCommand(name, args)
	if err != nil {
		return answer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("%s to %s: %w", name, c.peer.Name, err)
	}
	// bytes.Reader gives a Content-Length: Kea cannot read chunked bodies.
	req.Header.Set("Content-Type", "application/json")
	if c.peer.BasicAuthUser != "" {
		req.SetBasicAuth(c.peer.BasicAuthUser, c.peer.BasicAuthPassword)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s to %s: %w", name, c.peer.Name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize))
	if err != nil {
		return answer{}, fmt.Errorf("%s to %s: read answer: %w", name, c.peer.Name, err)
	}
	a, err := decodeAnswer(data)
	if err != nil {
		return answer{}, fmt.Errorf("%s to %s: HTTP %d: %w", name, c.peer.Name, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("%s to %s: HTTP %s", name, c.peer.Name, strconv.Itoa(resp.StatusCode))
	}
	return a, nil
}
