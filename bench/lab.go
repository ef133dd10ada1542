// Package bench runs xdhcpd (and ISC Kea 2.2, where installed) in a
// namespace lab and drives them with the loadgen client emulator and with
// perfdhcp: the `make demo` walk-through, single load runs, and the
// scenario suite with its JSON, Markdown and SVG report.
package bench

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"xdhcp/bench/loadgen"
	"xdhcp/internal/lab"
)

// Lab is a server namespace and a client namespace joined by one veth
// (lab.Pair's shape, with the interface names xd0 and xd1).
type Lab struct {
	*lab.Lab
	*lab.Pair
}

// NewLab builds the two namespaces with the veth ServerIf (serverAddr) –
// ClientIf (clientAddr). Close removes everything, including processes
// started with Lab.Server.Start.
func NewLab(prefix string, serverAddr, clientAddr netip.Prefix) (*Lab, error) {
	l, p, err := lab.NewPair(prefix, "xd0", serverAddr, "xd1", clientAddr)
	if err != nil {
		return nil, err
	}
	return &Lab{Lab: l, Pair: p}, nil
}

// OpenClientSocket opens the generator's socket on the client end.
func (b *Lab) OpenClientSocket(relay bool) (*loadgen.Socket, error) {
	var s *loadgen.Socket
	opts := loadgen.SocketOptions{}
	if relay {
		opts.ListenPort = 67
	}
	err := b.Client.Do(func() error {
		var err error
		s, err = loadgen.OpenSocket(b.ClientIf, opts)
		return err
	})
	return s, err
}

// DoInNetns runs fn on a locked OS thread inside the namespace bind-mounted
// at path (for `run -netns`).
func DoInNetns(path string, fn func() error) error { return lab.DoAt(path, fn) }

// nsDialer returns a DialContext that creates its sockets inside ns, so an
// HTTP client reaches a listener on the namespace's loopback.
func nsDialer(do func(func() error) error) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := do(func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
