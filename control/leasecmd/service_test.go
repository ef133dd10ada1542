package leasecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"xdhcp/control"
	"xdhcp/slowpath"
)

// TestDisableByService: with a DHCPv6 service, dhcp-disable and
// dhcp-enable act on the services the request names (an HA partner's
// "dhcp4" leaves DHCPv6 alone, a Control Agent's "dhcp6" leaves DHCPv4
// alone), and on both when it names none.
func TestDisableByService(t *testing.T) {
	h, _, _ := newCommands(t)
	v4 := h.srv.Network
	v6 := slowpath.NewNetworkState(time.Now)
	h.SetService6(v6, nil)
	send := func(cmd string, service ...string) control.Answer {
		t.Helper()
		a := h.disable
		if cmd == "dhcp-enable" {
			a = h.enable
		}
		ans := a(context.Background(), &control.Request{Command: cmd, Service: service})
		if ans.Result != control.ResultSuccess {
			t.Fatalf("%s %v: %d %q", cmd, service, ans.Result, ans.Text)
		}
		return ans
	}
	check := func(when string, want4, want6 bool) {
		t.Helper()
		if v4.Enabled() != want4 || v6.Enabled() != want6 {
			t.Errorf("%s: DHCPv4 enabled %v (want %v), DHCPv6 enabled %v (want %v)", when, v4.Enabled(), want4, v6.Enabled(), want6)
		}
	}
	if a := send("dhcp-disable", "dhcp6"); a.Text != "DHCPv6 service disabled" {
		t.Errorf("dhcp-disable for dhcp6 answers %q", a.Text)
	}
	check("after dhcp-disable for dhcp6", true, false)
	send("dhcp-enable", "dhcp6")
	check("after dhcp-enable for dhcp6", true, true)
	if a := send("dhcp-disable", "dhcp4"); a.Text != "DHCPv4 service disabled" {
		t.Errorf("dhcp-disable for dhcp4 answers %q", a.Text)
	}
	check("after dhcp-disable for dhcp4", false, true)
	send("dhcp-enable")
	check("after dhcp-enable for every service", true, true)
	send("dhcp-disable")
	check("after dhcp-disable for every service", false, false)
}

// reclaimCount is a DHCPv6 service's reclamation that counts its calls.
type reclaimCount struct{ calls, removes int }

func (r *reclaimCount) Reclaim(remove bool) (int, error) {
	r.calls++
	if remove {
		r.removes++
	}
	return 0, nil
}

// TestReclaimByService: leases-reclaim reclaims the DHCPv6 leases when
// the request names dhcp6 or no service, and leaves them alone for dhcp4.
func TestReclaimByService(t *testing.T) {
	h, _, _ := newCommands(t)
	r6 := &reclaimCount{}
	h.SetService6(slowpath.NewNetworkState(time.Now), r6)
	for _, c := range []struct {
		service []string
		remove  bool
		calls   int
	}{{[]string{"dhcp4"}, false, 0}, {[]string{"dhcp6"}, true, 1}, {nil, false, 2}} {
		args := fmt.Sprintf(`{"remove": %v}`, c.remove)
		ans := h.reclaim(context.Background(), &control.Request{Command: "leases-reclaim", Service: c.service, Arguments: json.RawMessage(args)})
		if ans.Result != control.ResultSuccess || ans.Text != "Reclamation of expired leases is complete." {
			t.Fatalf("leases-reclaim %v: %d %q", c.service, ans.Result, ans.Text)
		}
		if r6.calls != c.calls {
			t.Errorf("after leases-reclaim for %v: DHCPv6 reclaimed %d times, want %d", c.service, r6.calls, c.calls)
		}
	}
	if r6.removes != 1 {
		t.Errorf("DHCPv6 reclamations with remove: %d, want 1", r6.removes)
	}
}
