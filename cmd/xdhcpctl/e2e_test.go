package main

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// xdhcpd is the daemon the end-to-end test talks to: $XDHCP_BIN/xdhcpd,
// else one built on first use into a temporary directory TestMain removes.
var xdhcpd = daemontest.NewBinary("xctl-bin-")

func TestMain(m *testing.M) {
	code := xdhcpd.RunTests(m)
	pgServer.Close()
	mysqlServer.Close()
	os.Exit(code)
}

// TestAgainstDaemon: a real xdhcpd in a lab namespace serves a DHCP
// client, and xdhcpctl, given only the daemon's UNIX control socket by
// the environment, shows the lease, the statistics and the status as
// tables; the completion offers the commands the daemon lists.
func TestAgainstDaemon(t *testing.T) {
	_, p := lab.PairForTest(t, "xctl", "cs0", netip.MustParsePrefix("10.89.0.1/16"), "cc0", netip.MustParsePrefix("10.89.0.2/16"))
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "xdhcp4-ctrl-socket")
	cfg := map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{"cs0"}},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "lfc-interval": 0, "name": filepath.Join(dir, "leases4.csv")},
		"valid-lifetime":    3600,
		"control-sockets": []any{
			// The harness waits for readiness over HTTP; xdhcpctl uses the socket.
			map[string]any{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000},
			map[string]any{"socket-type": "unix", "socket-name": sock},
		},
		"subnet4": []any{map[string]any{"id": 7, "subnet": "10.89.0.0/16",
			"pools": []any{map[string]any{"pool": "10.89.1.10 - 10.89.1.20"}}}},
		"loggers": []any{map[string]any{"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stderr"}}}},
		"xdhcp": map[string]any{daemontest.InsecureControlKey: true, "xdp": map[string]any{"mode": "off"}},
	}}
	daemontest.Start(t, daemontest.Options{
		NS: p.Server, Binary: xdhcpd.Path(t),
		Config: daemontest.WriteConfig(t, filepath.Join(dir, "xdhcpd.json"), cfg),
		Log:    filepath.Join(dir, "xdhcpd.log"),
	})
	c := daemontest.NClient(t, p.Client, "cc0", p.ClientMAC[:])
	l := daemontest.DORA(t, c)
	ip := l.ACK.YourIPAddr.String()
	mac := net.HardwareAddr(p.ClientMAC[:])

	env := envOf(map[string]string{"XDHCPCTL_SOCKET": sock}, "", "", true)
	out, stderr, err := ctlIn(t, env, "lease4-get-all")
	if err != nil || stderr != "" {
		t.Fatalf("lease4-get-all: %v %s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	row := regexp.MustCompile(`^` + regexp.QuoteMeta(ip) + ` +` + regexp.QuoteMeta(mac.String()) + ` +\S+ +7 +default +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\S+$`)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "IP ADDRESS") || !row.MatchString(lines[1]) {
		t.Errorf("lease4-get-all table for %s %s:\n%s", ip, mac.String(), out)
	}
	if out2, _, err := ctlIn(t, env, "lease4-get", "ip-address="+ip); err != nil || out2 != out {
		t.Errorf("lease4-get table differs from the lease4-get-all one: %v\n%s", err, out2)
	}
	out, _, err = ctlIn(t, env, "statistic-get-all")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^pkt4-ack-sent +1 +\d{4}-`).MatchString(out) || !regexp.MustCompile(`(?m)^subnet\[7\]\.assigned-addresses +1 +`).MatchString(out) {
		t.Errorf("statistic-get-all table lacks one ACK and one assigned address:\n%s", out)
	}
	out, _, err = ctlIn(t, env, "status-get")
	if err != nil || !regexp.MustCompile(`(?m)^pid: +\d+$`).MatchString(out) || !strings.Contains(out, "dhcp:             enabled") ||
		!strings.Contains(out, "xdp:              not attached") {
		t.Errorf("status-get table: %v\n%s", err, out)
	}
	// Piped (no terminal), the same command prints Kea's JSON.
	env.terminal = noEnvironment().terminal
	if out, _, err := ctlIn(t, env, "lease4-get-all"); err != nil || !strings.Contains(out, `"ip-address": "`+ip+`"`) {
		t.Errorf("lease4-get-all piped: %v\n%s", err, out)
	}

	// The commands completion offers are the ones the daemon answers (the
	// ha-* ones only with high availability configured, so not here).
	var listed struct {
		Arguments []string `json:"arguments"`
	}
	out, _, err = ctlIn(t, env, "list-commands")
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("list-commands: %v\n%s", err, out)
	}
	var known []string
	for c := range commandArgs {
		if !strings.HasPrefix(c, "ha-") {
			known = append(known, c)
		}
	}
	sort.Strings(known)
	sort.Strings(listed.Arguments)
	if strings.Join(known, " ") != strings.Join(listed.Arguments, " ") {
		t.Errorf("completion commands:\n%s\ndaemon's list-commands:\n%s", strings.Join(known, " "), strings.Join(listed.Arguments, " "))
	}
}
