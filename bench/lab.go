// Package bench runs xdhcpd (and ISC Kea 2.2, where installed) in a
// namespace lab and drives them with the loadgen client emulator and with
// perfdhcp: the `make demo` walk-through, single load runs, and the
// scenario suite of issue 4 with its JSON, Markdown and SVG report.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"

	"github.com/vishvananda/netns"

	"xdhcp/bench/loadgen"
	"xdhcp/internal/lab"
)

// Lab is a server namespace and a client namespace joined by one veth.
type Lab struct {
	*lab.Lab
	Server, Client       *lab.NS
	ServerIf, ClientIf   string
	ServerAddr, ClientIP netip.Prefix
	ServerMAC            [6]byte
}

// NewLab builds the two namespaces with the veth ServerIf (serverAddr) –
// ClientIf (clientAddr). Close removes everything, including processes
// started with Lab.Server.Start.
func NewLab(prefix string, serverAddr, clientAddr netip.Prefix) (_ *Lab, err error) {
	l, err := lab.New(prefix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	b := &Lab{Lab: l, ServerIf: "xd0", ClientIf: "xd1", ServerAddr: serverAddr, ClientIP: clientAddr}
	if b.Server, err = l.NS("srv"); err != nil {
		return nil, err
	}
	if b.Client, err = l.NS("cli"); err != nil {
		return nil, err
	}
	if err := l.Veth(b.Server, b.ServerIf, serverAddr, b.Client, b.ClientIf, clientAddr); err != nil {
		return nil, err
	}
	if b.ServerMAC, err = b.Server.LinkMAC(b.ServerIf); err != nil {
		return nil, err
	}
	return b, nil
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
// at path (for `run -netns`). If the thread cannot return to its own
// namespace it stays locked and dies with its goroutine.
func DoInNetns(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave namespace %s: %w (after %v)", path, err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

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
