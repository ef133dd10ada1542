package sqllease

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/lease"
)

// Kea 2.2's lease4 row: address as an unsigned 32-bit number, expire as
// a timestamp (cltt + valid lifetime; for an infinite lifetime Kea stores
// cltt itself, which would otherwise overflow), empty byte strings rather
// than NULL for a missing hardware address or client identifier.

// ExpireOf is the expire column Kea writes for l.
func ExpireOf(l *lease.Lease) time.Time {
	if l.ValidLft == lease.Infinite {
		return time.Unix(l.CLTT, 0).UTC()
	}
	return time.Unix(l.Expire(), 0).UTC()
}

// CLTTOf recovers the client's last transmission time from a row, as
// Kea does.
func CLTTOf(expire int64, valid uint32) int64 {
	if valid == lease.Infinite {
		return expire
	}
	return expire - int64(valid)
}

// AddrNum is the address column's value for a.
func AddrNum(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// NumAddr is the address of an address column value.
func NumAddr(n int64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// Row is one lease4 row as read.
type Row struct {
	Address, Valid, Expire, Subnet, State int64
	HW, CID                               []byte
	FqdnFwd, FqdnRev                      bool
	Hostname, UserContext                 string
}

// Lease converts r; the slices are r's.
func (r *Row) Lease() lease.Lease {
	valid := uint32(r.Valid)
	return lease.Lease{
		Addr: NumAddr(r.Address), HWAddr: r.HW, ClientID: r.CID, ValidLft: valid,
		CLTT: CLTTOf(r.Expire, valid), SubnetID: uint32(r.Subnet), FqdnFwd: r.FqdnFwd, FqdnRev: r.FqdnRev,
		Hostname: r.Hostname, State: lease.State(r.State), UserContext: r.UserContext,
	}
}

// Params are Kea's lease-database connection parameters.
type Params struct {
	Host     string // default localhost
	Port     int    // 0: the database's default
	Name     string
	User     string
	Password string
	// ConnectTimeout bounds connecting; ReadTimeout and WriteTimeout
	// bound one read or write on the connection (the MySQL driver's own;
	// on PostgreSQL the store bounds each operation by their sum, see
	// Options.OpTimeout); TCPUserTimeout is the socket's
	// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before
	// the kernel drops the connection. 0: none.
	ConnectTimeout, ReadTimeout, WriteTimeout, TCPUserTimeout time.Duration
	// TLS: the CA file or directory, the client certificate and key,
	// and the cipher list (OpenSSL names).
	TrustAnchor, CertFile, KeyFile, CipherList string
	// MaxConns bounds the connection pool.
	MaxConns int
	// Lazy opens the pool without reaching the database (retry-on-startup:
	// the store then starts in a fault and reconnects).
	Lazy bool
}

// Dial returns the dial function of TCP connections to the database:
// TCP keepalive, and TCP_USER_TIMEOUT when TCPUserTimeout is set, so a
// path that drops packets fails a write within that time instead of the
// kernel's many minutes of retransmissions.
func (p *Params) Dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{KeepAlive: 15 * time.Second}
	if p.TCPUserTimeout > 0 {
		ms := int(p.TCPUserTimeout / time.Millisecond)
		d.Control = func(network, _ string, c syscall.RawConn) error {
			if !strings.HasPrefix(network, "tcp") {
				return nil
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
			})
			return errors.Join(err, serr)
		}
	}
	return d.DialContext
}

// OpenPing checks a new pool's first connection (FirstPing), unless
// Lazy: then the store finds the database away and reconnects.
func (p *Params) OpenPing(ctx context.Context, ping func(context.Context) error) error {
	if p.Lazy {
		return nil
	}
	return FirstPing(ctx, ping)
}

// TLSConfig builds the client TLS configuration the parameters ask for,
// nil when they ask for none (Kea: TLS when trust-anchor, cert-file or
// key-file is given).
func (p *Params) TLSConfig() (*tls.Config, error) {
	if p.TrustAnchor == "" && p.CertFile == "" && p.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{ServerName: p.Host, MinVersion: tls.VersionTLS12}
	if p.TrustAnchor != "" {
		pool := x509.NewCertPool()
		files := []string{p.TrustAnchor}
		if st, err := os.Stat(p.TrustAnchor); err == nil && st.IsDir() {
			ents, err := os.ReadDir(p.TrustAnchor)
			if err != nil {
				return nil, fmt.Errorf("trust-anchor: %w", err)
			}
			files = files[:0]
			for _, e := range ents {
				if !e.IsDir() {
					files = append(files, p.TrustAnchor+"/"+e.Name())
				}
			}
		}
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("trust-anchor: %w", err)
			}
			pool.AppendCertsFromPEM(pem)
		}
		c.RootCAs = pool
	} else {
		// Kea with a certificate and no trust anchor does not verify
		// the server.
		c.InsecureSkipVerify = true
	}
	if p.CertFile != "" || p.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert-file/key-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if p.CipherList != "" {
		ids, err := cipherSuites(p.CipherList)
		if err != nil {
			return nil, err
		}
		c.CipherSuites = ids
	}
	return c, nil
}

// cipherSuites maps an OpenSSL cipher list to Go's TLS 1.2 suites (TLS
// 1.3's are not configurable, as in OpenSSL's cipher list).
func cipherSuites(list string) ([]uint16, error) {
	byName := map[string]uint16{
		"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
		"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	}
	var ids []uint16
	for _, n := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if id, ok := byName[n]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("cipher-list %q names no cipher suite xdhcp supports", list)
	}
	return ids, nil
}

// firstPingTries bounds the attempts to reach the database at start: a
// connection reset in the first exchange (seen under load, through
// proxies) should not fail a start-up that a second attempt completes.
const firstPingTries = 3

// FirstPing checks a new pool's first connection, trying firstPingTries
// times 300 ms apart within ctx.
func FirstPing(ctx context.Context, ping func(context.Context) error) error {
	var err error
	for i := 0; i < firstPingTries; i++ {
		if err = ping(ctx); err == nil {
			return nil
		}
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return err // the same certificate will fail again
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(300 * time.Millisecond):
		}
	}
	return err
}
