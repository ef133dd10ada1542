package ha

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"xdhcp/config"
	ctlclient "xdhcp/control/client"
)

// client sends commands to one peer over HTTP/1.1 with persistent
// connections. Concurrent calls use up to conns parallel connections, so
// lease updates are pipelined the way Kea's HA+MT client threads do.
type client struct {
	peer *config.HAPeer
	c    *ctlclient.Client
}

// newClient builds a client for p with at most conns connections, whose
// commands name f's service.
func newClient(p *config.HAPeer, conns int, f Family) (*client, error) {
	// Kea always posts to "/" whatever path the configured URL has.
	u := *p.URL
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/", "", "", ""
	o := ctlclient.Options{
		URL:      u.String(),
		User:     p.BasicAuthUser,
		Password: p.BasicAuthPassword,
		MaxConns: conns,
		Service:  f.Service(),
	}
	if p.URL.Scheme == "https" {
		cfg, err := clientTLS(p)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", p.Name, err)
		}
		o.TLS = cfg
	}
	c, err := ctlclient.New(o)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", p.Name, err)
	}
	return &client{peer: p, c: c}, nil
}

// close drops the idle connections.
func (c *client) close() { c.c.Close() }

// clientTLS loads the peer's trust anchor and our certificate. Like Kea,
// the peer's certificate chain is verified against the trust anchor but not
// its name: peers are addressed by IP literal, and Kea does not check SANs.
func clientTLS(p *config.HAPeer) (*tls.Config, error) {
	pool, err := ctlclient.LoadTrustAnchor(p.TrustAnchor)
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

// do posts one command and returns the peer's answer. err is set for
// transport failures, timeouts, non-200 statuses and unparsable answers;
// a parsed answer with a failure result is returned with a nil err.
func (c *client) do(ctx context.Context, name string, args any, timeout time.Duration) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := c.c.Do(ctx, name, args)
	if err != nil {
		return answer{}, fmt.Errorf("%s to %s: %w", name, c.peer.Name, err)
	}
	return answer(a), nil
}

// RequestTimeout is Kea's fixed HTTP client timeout for every HA request
// but lease4-get-page (TIMEOUT_DEFAULT_HTTP_CLIENT_REQUEST).
const RequestTimeout = 10 * time.Second
