package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// dhcp4Common is the part of the suite configuration that xdhcpd and Kea
// share: one /8 subnet with a pool that no scenario exhausts, memfile
// without LFC, multi-threading, raw sockets on the lab interface, and lease
// caching (cache-threshold, which Kea 2.2 has too but leaves off unless
// configured): a renewal in the first quarter of a lease is answered
// without a write, which S2 measures and S4 relies on.
func dhcp4Common(leaseFile string) map[string]any {
	return map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{"xd0"}, "dhcp-socket-type": "raw"},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "name": leaseFile, "lfc-interval": 0},
		"valid-lifetime":    3600,
		"renew-timer":       900,
		"rebind-timer":      1800,
		"cache-threshold":   0.25,
		"multi-threading":   map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 256},
		"client-classes":    []any{map[string]any{"name": "DROP"}},
		"subnet4": []any{map[string]any{
			"id":          1,
			"subnet":      suiteSubnet,
			"pools":       []any{map[string]any{"pool": "10.1.0.0 - 10.254.255.255"}},
			"option-data": []any{map[string]any{"name": "routers", "data": "10.0.0.1"}},
			"reservations": []any{
				map[string]any{"hw-address": dropMAC, "client-classes": []string{"DROP"}},
			},
		}},
	}
}

// xdhcpConfig is the suite's xdhcpd configuration: the common part, the
// HTTP control listener (inside the server namespace) and XDP in auto mode
// pinning under bpffs, with the high-availability relationship ha when not
// nil.
func xdhcpConfig(leaseFile string, ha map[string]any, hooksDir, bpffs string) []byte {
	d := dhcp4Common(leaseFile)
	d["control-sockets"] = []any{map[string]any{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000}}
	d["loggers"] = []any{map[string]any{"name": "kea-dhcp4", "output_options": []any{map[string]any{"output": "stderr"}}, "severity": "WARN"}}
	d["xdhcp"] = map[string]any{"xdp": map[string]any{"mode": "auto", "bpffs": bpffs}, "insecure-unauthenticated-loopback-control": true}
	addHA(d, ha, hooksDir)
	b, _ := json.MarshalIndent(map[string]any{"Dhcp4": d}, "", "  ")
	return b
}

// keaConfig is the same configuration for Kea 2.2: a UNIX control socket
// and a log file.
func keaConfig(leaseFile, sock, logFile string, ha map[string]any, hooksDir string) []byte {
	d := dhcp4Common(leaseFile)
	d["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
	d["loggers"] = []any{map[string]any{"name": "kea-dhcp4", "output_options": []any{map[string]any{"output": logFile}}, "severity": "WARN"}}
	addHA(d, ha, hooksDir)
	b, _ := json.MarshalIndent(map[string]any{"Dhcp4": d}, "", "  ")
	return b
}

// addHA puts the relationship ha under Kea's libdhcp_ha.so entry, after
// libdhcp_lease_cmds.so, which Kea's HA needs (xdhcpd only recognises the
// library paths).
func addHA(d map[string]any, ha map[string]any, hooksDir string) {
	if ha == nil {
		return
	}
	d["hooks-libraries"] = []any{
		map[string]any{"library": filepath.Join(hooksDir, "libdhcp_lease_cmds.so")},
		map[string]any{"library": filepath.Join(hooksDir, "libdhcp_ha.so"),
			"parameters": map[string]any{"high-availability": []any{ha}}},
	}
}

// perfdhcp output lines we read.
var (
	perfRate  = regexp.MustCompile(`(?m)^Rate:\s*([0-9.]+)`)
	perfDrops = regexp.MustCompile(`(?m)^\s*drops:\s*([0-9]+)`)
	perfSent  = regexp.MustCompile(`(?m)^\s*sent packets:\s*([0-9]+)`)
	perfRecv  = regexp.MustCompile(`(?m)^\s*received packets:\s*([0-9]+)`)
)

// PerfdhcpResult is what the suite reads from perfdhcp's output.
type PerfdhcpResult struct {
	// Rate is perfdhcp's "Rate:" (full exchanges per second).
	Rate float64
	// Sent, Received and Drops are per exchange type, DO then RA.
	Sent, Received, Drops []uint64
}

// ParsePerfdhcp reads perfdhcp -4 output.
func ParsePerfdhcp(out string) (PerfdhcpResult, error) {
	var r PerfdhcpResult
	m := perfRate.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("perfdhcp output has no Rate line: %.300q", out)
	}
	var err error
	if r.Rate, err = strconv.ParseFloat(m[1], 64); err != nil {
		return r, fmt.Errorf("perfdhcp rate %q: %w", m[1], err)
	}
	grab := func(re *regexp.Regexp) []uint64 {
		var v []uint64
		for _, mm := range re.FindAllStringSubmatch(out, -1) {
			n, _ := strconv.ParseUint(mm[1], 10, 64)
			v = append(v, n)
		}
		return v
	}
	r.Sent, r.Received, r.Drops = grab(perfSent), grab(perfRecv), grab(perfDrops)
	return r, nil
}

// perfdhcpRun drives a fresh server with perfdhcp in relay mode at rate for
// dur, pinned to the generator CPU. perfdhcp's own CPU time tells whether
// it, not the server, was the limit.
func (s *suite) perfdhcpRun(ctx context.Context, server string, rate float64, dur time.Duration) (sample, error) {
	in, err := s.start(ctx, server, "")
	if err != nil {
		return sample{}, err
	}
	defer s.closeChecked("S1 perfdhcp", in)
	n := int(rate*dur.Seconds()) + 1000
	secs := max(int(dur.Seconds()), 1)
	cctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	// taskset and nsenter exec, so the process's rusage is perfdhcp's.
	cmd := exec.CommandContext(cctx, "taskset", "-c", strconv.Itoa(genCPU), "nsenter", "--net="+in.cliNS.Path(), "--",
		s.perf, "-4", "-l", suiteClient.Addr().String(), "-R", strconv.Itoa(n), "-r", ftoa(rate), "-p", strconv.Itoa(secs),
		suiteServer.Addr().String())
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	r, perr := ParsePerfdhcp(string(out))
	if perr != nil {
		return sample{}, fmt.Errorf("perfdhcp (%v): %w", err, perr)
	}
	var sent, drops uint64
	for _, v := range r.Sent {
		sent += v
	}
	for _, d := range r.Drops {
		drops += d
	}
	loss := 0.0
	if sent > 0 {
		loss = 100 * float64(drops) / float64(sent)
	}
	s.check("S1 perfdhcp", in, nil)
	if r.Rate == 0 {
		s.fail("perfdhcp at %.0f/s: %s served nothing", rate, server)
	}
	smp := sample{v: r.Rate, setting: rate, extra: map[string]float64{"requested": rate, "loss_pct": loss, "drops": float64(drops), "sent": float64(sent)}}
	if ps := cmd.ProcessState; ps != nil && wall > 0 {
		cpu := 100 * (ps.UserTime() + ps.SystemTime()).Seconds() / wall.Seconds()
		smp.extra["gen_cpu_pct"] = cpu
		if cpu >= 90 {
			smp.gen.notes = append(smp.gen.notes, fmt.Sprintf("perfdhcp CPU %.0f%% of its core", cpu))
		}
	}
	// DISCOVERs sent over the run against those asked for.
	if len(r.Sent) > 0 {
		offered := float64(r.Sent[0]) / float64(secs)
		smp.extra["offered"] = offered
		if offered < 0.95*rate {
			smp.gen.notes = append(smp.gen.notes, fmt.Sprintf("perfdhcp offered %.0f/s of %.0f/s requested", offered, rate))
		}
	}
	smp.gen.saturated = len(smp.gen.notes) > 0
	return smp, nil
}
