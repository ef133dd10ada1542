package layout

import (
	"fmt"
	"slices"
	"strings"
)

// A Rule says what the packages matching Pkg may import of the module.
// Patterns are module-relative import paths; "x/..." matches x and every
// package below it, anything else matches exactly. When several rules
// match a package, the most specific Pkg pattern decides.
type Rule struct {
	Pkg string
	May []string
	Why string
}

// Rules is the project's layout. A package no rule matches is an error
// too, so a new top-level folder needs a decision here.
var Rules = []Rule{
	{Pkg: "handoff", Why: "the contract between transports and engines: a leaf both import"},
	{Pkg: "dhcp6", Why: "the DHCPv6 wire format: a leaf the v6 engine and the fast path both read"},
	{Pkg: "bpf", Why: "the XDP program and its loader know nothing of DHCP serving"},
	{Pkg: "config/...", May: []string{"config/..."}, Why: "the configuration is read by everyone and imports nobody above it"},
	{Pkg: "configdb", May: []string{"config/...", "lease/sqllease"},
		Why: "the configuration backend's tables, read into and written from Kea's configuration JSON; connections as the lease database makes them"},
	{Pkg: "lease/...", May: []string{"lease/...", "internal/uring"}, Why: "stores are the bottom of the engine"},
	{Pkg: "host", May: []string{"config"}, Why: "the host reservation contract: the engine and the commands see reservations through it, never a database"},
	{Pkg: "host/...", May: []string{"host", "config/..."}, Why: "host databases implement the contract at the bottom of the engine, beside the lease stores"},
	{Pkg: "slowpath/...", May: []string{"slowpath/...", "handoff", "hooks", "config/...", "lease", "host", "internal/stats"},
		Why: "the engine sees packets through handoff, leases through the lease.Store interface and reservations through host.Source: no transport, no command channel, no HA, no concrete store"},
	{Pkg: "slowpath6/...", May: []string{"slowpath6/...", "slowpath/...", "dhcp6", "handoff", "hooks", "config/...", "lease", "host", "internal/stats"},
		Why: "the DHCPv6 engine, beside the DHCPv4 one and held to the same rules; it shares the v4 engine's intake and allocation code"},
	{Pkg: "fastpath/...", May: []string{"fastpath/...", "dhcp6", "handoff", "hooks", "lease", "bpf", "config/...", "internal/stats"},
		Why: "transports hand packets to an engine through handoff and never import one"},
	{Pkg: "fastpath/xdp", May: []string{"fastpath/...", "dhcp6", "handoff", "hooks", "lease", "bpf", "config/...", "internal/stats", "internal/caps", "internal/cpuset", "control", "lease/leasejson"},
		Why: "the XDP lifecycle also answers its drop-list commands (Kea's identifier spellings) and says which capabilities it lacks"},
	{Pkg: "hooks", May: []string{"lease"}, Why: "the lease event contract between the engine (and the fast path's cached renewals) and what listens: a leaf above the lease types"},
	{Pkg: "hooks/pkt6", May: []string{"lease", "dhcp6", "config/..."},
		Why: "the DHCPv6 message as lease event listeners read it (expressions, script variables): a leaf over the wire format"},
	{Pkg: "hooks/...", May: []string{"hooks", "hooks/pkt6", "lease", "config/...", "internal/stats", "internal/strftime", "internal/uring", "internal/cpuset"},
		Why: "forensic logging, run-script and the lease log lines plug into the engine's event contract from the edge; the engine never imports them"},
	{Pkg: "lease/sqllease/sqltest", May: []string{"lease/...", "internal/dbtest"},
		Why: "the suite every database dialect passes, against the real servers the tests start"},
	{Pkg: "ha/...", May: []string{"ha/...", "config/...", "lease/...", "control/...", "slowpath", "slowpath/alloc", "internal/stats"},
		Why: "HA plugs into the engine from the edge"},
	{Pkg: "ha/lbhash", Why: "the RFC 3074 hash is a leaf shared with the XDP program's tests"},
	{Pkg: "control/...", May: []string{"control/...", "config/...", "lease/...", "host", "slowpath", "internal/stats"},
		Why: "the command channel plugs into the engine from the edge"},
	{Pkg: "control/cbcmd", May: []string{"control", "configdb"},
		Why: "Kea's remote-* commands answer over the configuration database, not the running engine"},
	{Pkg: "control/client", Why: "one Kea command client for HA, xdhcpctl, the bench and the tests"},
	{Pkg: "internal/stats", Why: "Kea's statistics registry is a leaf"},
	{Pkg: "internal/buildinfo", Why: "which build is running: a leaf every binary reads"},
	{Pkg: "internal/caps", Why: "the process's capabilities, read once for the daemon and the tests"},
	{Pkg: "internal/uring", Why: "fdatasync through io_uring, so that a sync holds no thread the runtime must watch: a leaf the lease stores and the forensic log share"},
	{Pkg: "internal/cpuset", Why: "which CPUs threads may run on: a leaf the fast path's pinning and run-script's scripts share"},
	{Pkg: "internal/strftime", Why: "strftime(3) with log4cplus's %q and %Q, for the forensic log's timestamps and the loggers' patterns: a leaf"},
	{Pkg: "internal/logging", May: []string{"config", "internal/strftime"}, Why: "the logger Kea's loggers configuration describes"},
	{Pkg: "internal/profiling", Why: "the runtime profiles as HTTP routes, which the daemon serves on its control channel"},
	{Pkg: "internal/cli", Why: "the signal-aware main every command shares: a leaf"},
	{Pkg: "internal/lab", May: []string{"internal/caps"}, Why: "namespace labs for tests and the bench"},
	{Pkg: "internal/testpki", Why: "test certificates"},
	{Pkg: "internal/testlog", Why: "loggers and buffers for tests"},
	{Pkg: "internal/dbtest", Why: "real PostgreSQL and MariaDB servers with Kea's schema for tests and the bench"},
	{Pkg: "internal/testframe", May: []string{"handoff", "fastpath/frame"}, Why: "canned request frames for tests"},
	{Pkg: "internal/layout", Why: "this package"},
	{Pkg: "internal/daemontest", May: []string{"internal/lab", "internal/testpki", "control/client"},
		Why: "the daemon test harness drives the binary from outside, as a user would"},
	{Pkg: "internal/keadiff", May: []string{"internal/lab", "internal/daemontest"},
		Why: "the differential suite drives kea-dhcp4 and xdhcpd from outside, as an operator would"},
	{Pkg: "bench/...", May: []string{"bench/...", "internal/lab", "internal/dbtest", "control/client", "handoff", "fastpath/frame", "fastpath/xsk", "fastpath/dhcpview", "dhcp6"},
		Why: "the benchmark drives the binaries from outside; it borrows only the fast path's packet and socket code and the DHCPv6 codec for its generator"},
	{Pkg: "telemetry", May: []string{"internal/stats"}, Why: "the read-only monitoring listener plugs in at the edge"},
	{Pkg: "packaging", May: []string{"internal/lab"}, Why: "the Debian package's files and its install test"},
	{Pkg: "monitoring", Why: "the alert rules and dashboard operators load, with their tests"},
	{Pkg: "cmd/...", May: []string{"..."}, Why: "cmd/ wires the parts together"},
}

// match reports whether the module-relative path p matches pattern.
func match(pattern, p string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

// specificity orders patterns: a longer base is more specific, and an
// exact pattern more than the subtree of the same base.
func specificity(pattern string) int {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return 2 * len(base)
	}
	return 2*len(pattern) + 1
}

// ruleFor returns the most specific rule matching pkg.
func ruleFor(rules []Rule, pkg string) (Rule, bool) {
	best, found := Rule{}, false
	for _, r := range rules {
		if match(r.Pkg, pkg) && (!found || specificity(r.Pkg) > specificity(best.Pkg)) {
			best, found = r, true
		}
	}
	return best, found
}

// Check applies rules to graph, which maps each package of the module to
// the module packages it imports (module-relative paths, test files not
// included), and returns one line per violation, sorted.
func Check(rules []Rule, graph map[string][]string) []string {
	var bad []string
	for pkg, imports := range graph {
		r, ok := ruleFor(rules, pkg)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no import rule covers this package", pkg))
			continue
		}
		for _, imp := range imports {
			if !slices.ContainsFunc(r.May, func(p string) bool { return match(p, imp) }) {
				bad = append(bad, fmt.Sprintf("%s imports %s, which rule %q does not allow (%s)", pkg, imp, r.Pkg, r.Why))
			}
		}
	}
	slices.Sort(bad)
	return bad
}
