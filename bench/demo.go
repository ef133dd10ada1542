package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"xdhcp/bench/loadgen"
)

// DemoOptions configure Demo.
type DemoOptions struct {
	// Xdhcpd is the daemon binary; it runs with its embedded default
	// configuration (subnet 10.77.0.0/16, control on its UNIX socket).
	Xdhcpd string
	// Clients is the number of emulated clients.
	Clients int
}

// Default-configuration facts the demo relies on.
var (
	demoServer = netip.MustParsePrefix("10.77.0.1/16")
	demoClient = netip.MustParsePrefix("10.77.0.2/16")
	demoSubnet = netip.MustParsePrefix("10.77.0.0/16")
)

// Demo builds a lab, runs xdhcpd with its embedded configuration, binds and
// renews Clients emulated clients and one real busybox udhcpc client,
// prints leases, statistics and metrics, and removes everything again. It
// returns an error if any client failed.
func Demo(ctx context.Context, o DemoOptions, out io.Writer) (err error) {
	if o.Clients <= 0 {
		return errors.New("demo: -clients must be positive")
	}
	b, err := NewLab("xd-demo", demoServer, demoClient)
	if err != nil {
		return fmt.Errorf("demo lab: %w", err)
	}
	defer func() {
		if cerr := b.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	tmp, err := os.MkdirTemp("", "xd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(out, "== lab: server netns %s (%s %s), client netns %s (%s)\n", b.Server.Name(), b.ServerIf, demoServer, b.Client.Name(), b.ClientIf)
	srv, err := StartXdhcpd(ctx, b, ServerOptions{Bin: o.Xdhcpd, CPU: -1, LogPath: filepath.Join(tmp, "xdhcpd.log")})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if serr := srv.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	a, _ := srv.Command(ctx, "version-get", nil)
	fmt.Fprintf(out, "== xdhcpd pid %d ready in %v: %s\n", srv.PID(), srv.Ready.Round(time.Millisecond), a.Text)

	sock, err := b.OpenClientSocket(false)
	if err != nil {
		return err
	}
	defer sock.Close()
	g, err := loadgen.New(loadgen.Config{
		Mode: loadgen.Closed, Outstanding: 32, Clients: o.Clients, Count: o.Clients,
		Duration: 60 * time.Second, Renewals: 1, RenewAfter: 300 * time.Millisecond,
		Subnet: demoSubnet, ClientID: true, Timeout: time.Second, Retries: 3,
	}, sock)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== %d emulated clients: DORA, then one unicast renewal each\n", o.Clients)
	rep, err := g.Run(ctx)
	if err != nil {
		return fmt.Errorf("demo load: %w", err)
	}
	fmt.Fprintf(out, "   bound %d, renewed %d, lost %d, wrong %d, malformed %d; DORA p50 %.2f ms p99 %.2f ms, renew p50 %.2f ms\n",
		rep.DORA.Completed, rep.Renew.Completed, rep.Lost, rep.Wrong, rep.Malformed,
		rep.DORA.Latency.P50Ms, rep.DORA.Latency.P99Ms, rep.Renew.Latency.P50Ms)
	var failures []error
	if ferr := rep.Failed(); ferr != nil {
		failures = append(failures, ferr)
	}
	if rep.DORA.Completed != uint64(o.Clients) || rep.Renew.Completed != uint64(o.Clients) {
		failures = append(failures, fmt.Errorf("%d of %d clients bound, %d renewed", rep.DORA.Completed, o.Clients, rep.Renew.Completed))
	}

	fmt.Fprintln(out, "== busybox udhcpc in the client namespace")
	if line, uerr := runUdhcpc(ctx, b, tmp); uerr != nil {
		failures = append(failures, uerr)
		fmt.Fprintf(out, "   FAILED: %v\n", uerr)
	} else {
		fmt.Fprintf(out, "   %s\n", line)
	}

	if perr := printLeases(ctx, srv, out, 10); perr != nil {
		failures = append(failures, perr)
	}
	if perr := printStats(ctx, srv, out); perr != nil {
		failures = append(failures, perr)
	}
	if perr := printMetrics(ctx, srv, out, 25); perr != nil {
		failures = append(failures, perr)
		fmt.Fprintf(out, "   /metrics FAILED: %v\n", perr)
	}
	if !srv.Alive() {
		failures = append(failures, fmt.Errorf("xdhcpd died; log:\n%s", srv.LogTail(20)))
	}
	if len(failures) > 0 {
		return fmt.Errorf("demo failed: %w", errors.Join(failures...))
	}
	fmt.Fprintln(out, "== demo passed; cleaning up")
	return nil
}

// runUdhcpc runs busybox udhcpc once in the client namespace with a script
// that prints the lease it got.
func runUdhcpc(ctx context.Context, b *Lab, tmp string) (string, error) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox not installed: %w", err)
	}
	script := filepath.Join(tmp, "udhcpc.sh")
	body := "#!/bin/sh\n[ \"$1\" = bound ] && echo \"LEASE ip=$ip mask=$subnet router=$router dns=$dns domain=$domain lease=${lease}s server=$serverid\"\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return "", err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := b.Client.Command(cctx, bb, "udhcpc", "-i", b.ClientIf, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", script)
	outb, err := cmd.CombinedOutput()
	for line := range strings.SplitSeq(string(outb), "\n") {
		if rest, ok := strings.CutPrefix(line, "LEASE "); ok {
			return "udhcpc got a lease: " + rest, nil
		}
	}
	return "", fmt.Errorf("udhcpc got no lease (%v): %s", err, strings.TrimSpace(string(outb)))
}

// demoLease is the part of a lease4-get-all lease the demo prints.
type demoLease struct {
	IP       string `json:"ip-address"`
	HW       string `json:"hw-address"`
	ClientID string `json:"client-id"`
	Valid    int64  `json:"valid-lft"`
	Cltt     int64  `json:"cltt"`
	Hostname string `json:"hostname"`
	State    int    `json:"state"`
	Subnet   int    `json:"subnet-id"`
}

func printLeases(ctx context.Context, srv *Server, out io.Writer, n int) error {
	a, err := srv.Command(ctx, "lease4-get-all", nil)
	if err != nil {
		return err
	}
	var args struct {
		Leases []demoLease `json:"leases"`
	}
	if err := json.Unmarshal(a.Arguments, &args); err != nil {
		return fmt.Errorf("lease4-get-all: %w (%s)", err, a.Text)
	}
	fmt.Fprintf(out, "== lease4-get-all: %d leases (%s); a sample:\n", len(args.Leases), a.Text)
	slices.SortFunc(args.Leases, func(x, y demoLease) int {
		ax, _ := netip.ParseAddr(x.IP)
		ay, _ := netip.ParseAddr(y.IP)
		return ax.Compare(ay)
	})
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   IP\tHW ADDRESS\tCLIENT-ID\tSUBNET\tVALID\tEXPIRES\tSTATE")
	for i, l := range args.Leases {
		if i == n {
			break
		}
		exp := time.Unix(l.Cltt+l.Valid, 0).Format(time.TimeOnly)
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%d\t%ds\t%s\t%d\n", l.IP, l.HW, l.ClientID, l.Subnet, l.Valid, exp, l.State)
	}
	return tw.Flush()
}

func printStats(ctx context.Context, srv *Server, out io.Writer) error {
	a, err := srv.Command(ctx, "statistic-get-all", nil)
	if err != nil {
		return err
	}
	var stats map[string][][]any
	if err := json.Unmarshal(a.Arguments, &stats); err != nil {
		return fmt.Errorf("statistic-get-all: %w", err)
	}
	names := make([]string, 0, len(stats))
	for k, v := range stats {
		if len(v) > 0 && len(v[0]) > 0 {
			if f, ok := v[0][0].(float64); ok && f != 0 {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	fmt.Fprintf(out, "== statistic-get-all: %d statistics, the non-zero ones:\n", len(stats))
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, k := range names {
		fmt.Fprintf(tw, "   %s\t%v\n", k, stats[k][0][0])
	}
	return tw.Flush()
}

func printMetrics(ctx context.Context, srv *Server, out io.Writer, n int) error {
	b, err := srv.metricsText(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "== GET /metrics (non-zero xdhcp_ series, first lines):")
	sc := bufio.NewScanner(bytes.NewReader(b))
	shown := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "xdhcp_") || strings.HasSuffix(line, " 0") {
			continue
		}
		if shown < n {
			fmt.Fprintf(out, "   %s\n", line)
		}
		shown++
	}
	if shown > n {
		fmt.Fprintf(out, "   ... %d more\n", shown-n)
	}
	return sc.Err()
}
