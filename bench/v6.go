package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"xdhcp/bench/loadgen"
	"xdhcp/internal/lab"
)

// DHCPv6 scenarios, with the generator's DHCPv6 clients (xdhcp-bench run
// -v6, over AF_XDP): S1v6 is S1 for DHCPv6 (new clients a second at under
// 1% loss, each with one address and one /56 of a /40: a knee search, then
// perfdhcp -6 at each server's knee); S2v6 is cached Renews a second in a
// closed loop against clients bound first. xdhcpd serves DHCPv6 through
// its XDP program and AF_XDP workers (Renews of cached bindings answered
// there), durable as for DHCPv4; kea-dhcp6 runs the same Dhcp6 section.

var (
	v6Server = netip.MustParsePrefix("2001:db8:1::1/64")
	keaDhcp6 = "/usr/sbin/kea-dhcp6"
)

// dhcp6Section is the Dhcp6 configuration both servers run: a /64 of
// addresses and a /40 cut into /56 prefixes on the lab's server link.
func dhcp6Section(dir, iface string) map[string]any {
	return map[string]any{
		"interfaces-config":  map[string]any{"interfaces": []any{iface}},
		"data-directory":     dir,
		"lease-database":     map[string]any{"type": "memfile", "name": filepath.Join(dir, "leases6.csv"), "lfc-interval": 0},
		"preferred-lifetime": 3000, "valid-lifetime": 4000,
		// As for DHCPv4 (dhcp4Common): a Renew in the first quarter of a
		// lease is answered without a write, by both servers.
		"cache-threshold": 0.25,
		// As dhcp4Common: both servers multi-threaded, two threads.
		"multi-threading": map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 256},
		"subnet6": []any{map[string]any{
			"id": 1, "subnet": "2001:db8:1::/64", "interface": iface,
			"pools":    []any{map[string]any{"pool": "2001:db8:1::/80"}},
			"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}},
		}},
		"loggers": []any{map[string]any{"name": "kea-dhcp6", "severity": "WARN",
			"output_options": []any{map[string]any{"output": "stdout"}}}},
	}
}

// startV6 builds a lab with IPv6 (no DAD) and starts the named server on
// its Dhcp6 configuration: xdhcpd with XDP on the lab interface (named in
// a Dhcp4 section without subnets, which also carries the control
// listener), kea-dhcp6 with a UNIX control socket.
func (s *suite) startV6(ctx context.Context, name string) (_ *instance, err error) {
	b, err := NewLab("xd-v6", suiteServer, suiteClient)
	if err != nil {
		return nil, err
	}
	in := &instance{lab: b.Lab, cliNS: b.Client, cliIf: b.ClientIf, srvMAC: b.ServerMAC}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	for _, ns := range []*lab.NS{b.Server, b.Client} {
		if err := ns.EnableIPv6(); err != nil {
			return nil, err
		}
	}
	// Links made before IPv6 was set up without DAD: down and up gives
	// them their link-local address at once.
	for _, x := range []struct {
		ns  *lab.NS
		ifc string
	}{{b.Server, b.ServerIf}, {b.Client, b.ClientIf}} {
		if err := x.ns.SetLink(x.ifc, false); err != nil {
			return nil, err
		}
		if err := x.ns.SetLink(x.ifc, true); err != nil {
			return nil, err
		}
	}
	if err := b.Server.AddAddr(b.ServerIf, v6Server); err != nil {
		return nil, err
	}
	// kea-dhcp6 opens no socket on an interface without a usable
	// link-local address: both ends must have one before it starts.
	if err := waitLinkLocal(ctx, b.Client, b.ClientIf); err != nil {
		return nil, err
	}
	if err := waitLinkLocal(ctx, b.Server, b.ServerIf); err != nil {
		return nil, err
	}
	dir, err := s.serverDir(name + "6")
	if err != nil {
		return nil, err
	}
	o := ServerOptions{CPU: serverCPU, LogPath: filepath.Join(dir, "log")}
	d6 := dhcp6Section(dir, b.ServerIf)
	switch name {
	case "xdhcp":
		o.Bin, o.Config = s.o.Xdhcpd, filepath.Join(dir, "xdhcpd.json")
		// A pin folder per run, as for DHCPv4.
		pins := filepath.Join(s.bpffs, filepath.Base(dir))
		doc := map[string]any{"Dhcp4": map[string]any{
			"interfaces-config": map[string]any{"interfaces": []any{b.ServerIf}, "dhcp-socket-type": "raw"},
			"lease-database":    map[string]any{"type": "memfile", "persist": false},
			"control-sockets": []any{map[string]any{"socket-type": "http", "socket-address": "127.0.0.1",
				"socket-port": 8000}},
			"xdhcp": map[string]any{"insecure-unauthenticated-loopback-control": true,
				"xdp": map[string]any{"mode": "auto", "bpffs": pins}},
		}, "Dhcp6": d6}
		if err := writeJSON(o.Config, doc); err != nil {
			return nil, err
		}
		in.srv, err = StartXdhcpdIn(ctx, b.Server, o)
	case "kea":
		o.Bin, o.Config = keaDhcp6, filepath.Join(dir, "kea-dhcp6.json")
		o.Env = []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}
		sock := filepath.Join(dir, "kea6.sock")
		d6["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		if err := writeJSON(o.Config, map[string]any{"Dhcp6": d6}); err != nil {
			return nil, err
		}
		in.srv, err = StartKeaIn(ctx, b.Server, o, sock)
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

func writeJSON(path string, doc any) error {
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func waitLinkLocal(ctx context.Context, ns *lab.NS, ifc string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _ := ns.Command(ctx, "ip", "-6", "addr", "show", "dev", ifc, "scope", "link").CombinedOutput()
		if strings.Contains(string(out), "fe80::") && !strings.Contains(string(out), "tentative") {
			return nil
		}
	}
	return fmt.Errorf("%s has no usable link-local address", ifc)
}

// perf6 is one perfdhcp -6 run's exchanges: sent, received and dropped per
// exchange (SOLICIT-ADVERTISE, REQUEST-REPLY, RENEW-REPLY).
type perf6 map[string]struct{ sent, received, drops int }

var (
	perfBlock = regexp.MustCompile(`(?s)Statistics for: ([A-Z-]+)\*+\s*\n\s*sent packets: (\d+)\s*\n\s*received packets: (\d+)\s*\n\s*drops: (\d+)`)
)

func parsePerf6(out string) (perf6, error) {
	r := perf6{}
	for _, m := range perfBlock.FindAllStringSubmatch(out, -1) {
		sent, _ := strconv.Atoi(m[2])
		recv, _ := strconv.Atoi(m[3])
		drops, _ := strconv.Atoi(m[4])
		r[m[1]] = struct{ sent, received, drops int }{sent, recv, drops}
	}
	if len(r) == 0 {
		return nil, fmt.Errorf("perfdhcp -6 output has no statistics: %.300q", out)
	}
	return r, nil
}

// runPerf6 runs perfdhcp -6 for address and prefix in the client
// namespace, pinned to the generator CPU.
func (s *suite) runPerf6(ctx context.Context, in *instance, dur time.Duration, args ...string) (perf6, error) {
	secs := max(int(dur.Seconds()), 1)
	cctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	argv := append([]string{"-c", strconv.Itoa(genCPU), "nsenter", "--net=" + in.cliNS.Path(), "--",
		s.perf, "-6", "-l", in.cliIf, "-e", "address-and-prefix", "-p", strconv.Itoa(secs)}, args...)
	out, err := exec.CommandContext(cctx, "taskset", argv...).CombinedOutput()
	r, perr := parsePerf6(string(out))
	if perr != nil {
		return nil, fmt.Errorf("perfdhcp -6 (%v): %w", err, perr)
	}
	return r, nil
}

// lossOf is the share of an exchange's requests left unanswered, in %.
func lossOf(e struct{ sent, received, drops int }) float64 {
	if e.sent == 0 {
		return 100
	}
	return 100 * float64(e.drops) / float64(e.sent)
}

// DHCPv6 lab prefixes the generator checks the replies against.
const (
	v6Subnet    = "2001:db8:1::/64"
	v6Delegated = "2001:db8:100::/40"
	// v6MaxClients is the most clients a run binds: the /40 holds 65,536
	// /56 prefixes, and each client takes one (warm-up included), with a
	// margin so the pool never runs dry.
	v6MaxClients = 60000
)

// gen6 runs the generator's DHCPv6 clients against in.
func (s *suite) gen6(ctx context.Context, in *instance, args ...string) (*loadgen.Report, error) {
	return s.gen(ctx, in, append([]string{"-v6", "-transport", loadgen.TransportAFXDP, "-subnet", v6Subnet,
		"-delegated", v6Delegated}, args...)...)
}

// solicitArgs are the generator flags of an open-loop run of new DHCPv6
// clients at rate for dur, shortened so that it binds at most
// v6MaxClients (the /40's /56 prefixes); the second value says whether
// it was.
func solicitArgs(rate float64, dur time.Duration) ([]string, bool) {
	n := int(rate * dur.Seconds())
	short := n+warmupClients > v6MaxClients
	if short {
		n = v6MaxClients - warmupClients
		dur = time.Duration(float64(n) / rate * float64(time.Second))
	}
	return []string{"-mode", "open", "-rate", ftoa(rate), "-clients", strconv.Itoa(n + warmupClients),
		"-warmup", strconv.Itoa(warmupClients), "-count", strconv.Itoa(n), "-duration", dur.String(), "-timeout", "1s"}, short
}

// s1v6 is new DHCPv6 clients/s at < 1% loss: the knee search with the
// generator's DHCPv6 clients, then perfdhcp -6 at each server's knee.
func (s *suite) s1v6(ctx context.Context) error {
	err := s.kneeScenario(ctx, "S1v6", 2000, func(ctx context.Context, server string, rate float64, dur time.Duration) (*loadgen.Report, []string, error) {
		in, err := s.startV6(ctx, server)
		if err != nil {
			return nil, nil, err
		}
		defer s.closeChecked("S1v6", in)
		args, short := solicitArgs(rate, dur)
		rep, err := s.gen6(ctx, in, args...)
		if err != nil {
			return nil, nil, err
		}
		s.check(fmt.Sprintf("S1v6 %.0f/s", rate), in, rep)
		var notes []string
		if short {
			notes = append(notes, fmt.Sprintf("run shortened to %d clients: the /40 holds 65,536 /56 prefixes", v6MaxClients))
		}
		return rep, notes, nil
	})
	if s.perf == "" {
		return err
	}
	_, perr := s.measure(ctx, "S1v6", "perfdhcp -6", "new clients/s", "at the xdhcp-bench knee", func(ctx context.Context, server string) (sample, error) {
		rate := s.knees["S1v6/"+server]
		if rate == 0 {
			return sample{}, errors.New("no xdhcp-bench knee to run at")
		}
		// perfdhcp -6 binds a client per exchange too: the same bound on
		// the run's length.
		dur := min(s.runDur, time.Duration(float64(v6MaxClients-1000)/rate*float64(time.Second)))
		in, err := s.startV6(ctx, server)
		if err != nil {
			return sample{}, err
		}
		defer s.closeChecked("S1v6 perfdhcp", in)
		r, err := s.runPerf6(ctx, in, dur, "-r", ftoa(rate), "-R", strconv.Itoa(int(rate*dur.Seconds())+1000))
		if err != nil {
			return sample{}, err
		}
		sa, rr := r["SOLICIT-ADVERTISE"], r["REQUEST-REPLY"]
		secs := max(float64(int(dur.Seconds())), 1)
		loss := max(lossOf(sa), lossOf(rr))
		return sample{v: float64(rr.received) / secs, setting: rate,
			extra: map[string]float64{"requested": rate, "loss_pct": loss, "sent": float64(sa.sent)}}, nil
	})
	return errors.Join(err, perr)
}

// s2v6 measures cached DHCPv6 Renews/s: bind N clients (an address and a
// prefix each), then renew both in a closed loop as fast as the server
// answers. xdhcpd answers them in its XDP workers from the lease cache.
func (s *suite) s2v6(ctx context.Context) error {
	n := 20000
	if s.o.Quick {
		n = 5000
	}
	_, err := s.measure(ctx, "S2v6", "xdhcp-bench", "renews/s", fmt.Sprintf("%d bound clients, closed loop", n), func(ctx context.Context, server string) (sample, error) {
		in, err := s.startV6(ctx, server)
		if err != nil {
			return sample{}, err
		}
		defer s.closeChecked("S2v6", in)
		rep, err := s.gen6(ctx, in, "-mode", "closed", "-outstanding", "256", "-clients", strconv.Itoa(n),
			"-warmup", strconv.Itoa(n), "-renew-fraction", "1", "-duration", s.runDur.String(), "-timeout", "1s")
		if err != nil {
			return sample{}, err
		}
		s.check("S2v6", in, rep)
		smp := genSample(rep, rep.Renew.Rate, 0)
		smp.setting = float64(n)
		if server == "xdhcp" {
			if m, err := in.srv.Metrics(ctx); err == nil {
				smp.extra["fastpath_cache_hits6"] = m["xdhcp_fastpath_cache_hits6_total"]
			}
		}
		return smp, nil
	})
	return err
}
