package keadiff

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
)

// leaseKeys are the lease4-get-all fields a lease file carries.
var leaseKeys = []string{"ip-address", "hw-address", "client-id", "subnet-id", "valid-lft", "cltt", "hostname", "state", "fqdn-fwd", "fqdn-rev"}

// leases is lease4-get-all of side, one line per lease, sorted.
func leases(t *testing.T, side *Side) []string {
	t.Helper()
	var out struct {
		Leases []map[string]any `json:"leases"`
	}
	a := daemontest.Command(t, side.Control(), "lease4-get-all", nil)
	if a.Result == 3 { // empty
		return nil
	}
	if a.Result != 0 {
		t.Fatalf("%s lease4-get-all: %d %s", side.Name, a.Result, a.Text)
	}
	if err := json.Unmarshal(a.Arguments, &out); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range out.Leases {
		line := ""
		for _, k := range leaseKeys {
			v, ok := l[k]
			if !ok && (k == "client-id" || k == "hostname") {
				v = ""
			}
			line += fmt.Sprintf("%s=%v ", k, v)
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// TestLeaseFileRoundTrip is the rollback path of a migration: the lease
// file xdhcpd writes, given to Kea 2.2, holds the same leases for Kea
// (lease4-get-all from Kea's own control socket) and Kea offers each client
// the address it has there; and the reverse, Kea's file given to xdhcpd.
func TestLeaseFileRoundTrip(t *testing.T) {
	if _, err := os.Stat(DebianHooks + "/libdhcp_lease_cmds.so"); err != nil {
		t.Skipf("Kea's lease_cmds hook is not installed: %v", err)
	}
	text, err := os.ReadFile("testdata/migrate.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	r := Start(t, "migrate", doc, xdhcpdBin.Path(t))
	if r.KeaRefused != "" || r.XDRefused != "" {
		t.Fatalf("configuration refused: kea %q, xdhcpd %q", r.KeaRefused, r.XDRefused)
	}
	var clients []Client
	for i := range 12 {
		c := Client{Name: fmt.Sprintf("c%d", i), MAC: mac(9, i), Subnet: i % 2, Relayed: i%3 != 0}
		if i%4 == 1 {
			c.Options = []dhcpv4.Option{opt(61, []byte{0xff, 0, 0, 0, 9, byte(i)})}
		}
		clients = append(clients, c)
	}
	offered := map[string][2]string{} // client -> (kea, xdhcpd) address
	for _, c := range clients {
		cs := r.Exchange(c)
		ack := cs[1] // the REQUEST
		if ack.Kea == nil || ack.XD == nil || ack.Kea.Msg.MessageType() != dhcpv4.MessageTypeAck || ack.XD.Msg.MessageType() != dhcpv4.MessageTypeAck {
			t.Fatalf("%s: no ACK from both: %s", c.Name, ack.Summary())
		}
		offered[c.Name] = [2]string{ack.Kea.Msg.YourIPAddr.String(), ack.XD.Msg.YourIPAddr.String()}
	}
	keaBefore, xdBefore := leases(t, r.Kea), leases(t, r.XD)
	if len(keaBefore) != len(clients) || len(xdBefore) != len(clients) {
		t.Fatalf("leases before the swap: kea %d, xdhcpd %d, want %d each", len(keaBefore), len(xdBefore), len(clients))
	}
	for _, s := range []*Side{r.Kea, r.XD} {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	keaFile, err := os.ReadFile(r.Kea.LeaseFile())
	if err != nil {
		t.Fatal(err)
	}
	xdFile, err := os.ReadFile(r.XD.LeaseFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Kea.LeaseFile(), xdFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.XD.LeaseFile(), keaFile, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Side{r.Kea, r.XD} {
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	if got := leases(t, r.Kea); !slices.Equal(got, xdBefore) {
		t.Errorf("Kea on xdhcpd's lease file:\n%q\nxdhcpd had:\n%q", got, xdBefore)
	}
	if got := leases(t, r.XD); !slices.Equal(got, keaBefore) {
		t.Errorf("xdhcpd on Kea's lease file:\n%q\nKea had:\n%q", got, keaBefore)
	}
	// Each server now offers every client the address the other one gave.
	for _, c := range clients {
		cs := r.Exchange(c)
		d := cs[0]
		if d.Kea == nil || d.Kea.Msg.YourIPAddr.String() != offered[c.Name][1] {
			t.Errorf("%s: Kea offers %s, xdhcpd's lease file gave it %s", c.Name, describe(d.Kea), offered[c.Name][1])
		}
		if d.XD == nil || d.XD.Msg.YourIPAddr.String() != offered[c.Name][0] {
			t.Errorf("%s: xdhcpd offers %s, Kea's lease file gave it %s", c.Name, describe(d.XD), offered[c.Name][0])
		}
	}
	t.Logf("%d leases each way; Kea and xdhcpd read each other's lease file", len(clients))
}
