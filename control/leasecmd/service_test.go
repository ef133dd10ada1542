package leasecmd

import (
	"context"
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
	h.SetNetwork6(v6)
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
