package slowpath

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// requiredConfig requires classes at shared-network, subnet and pool
// level. What kea-dhcp4 2.2 answered to the DISCOVER of
// TestRequiredClasses (same configuration, in the lab): domain-name "net"
// (the shared network's class comes first), nis-domain "dep" (a required
// class sees those required before it), tftp-server-name "sub" (the pool's
// class has no test, so it is never added: no boot-file-name either),
// nisplus-domain "early", and no root-path (a class only evaluated when
// required, and required nowhere). Without option 60 Kea answered
// domain-name "sub" and nis-domain "dep".
const requiredConfig = `{"Dhcp4": {
 "interfaces-config": {"interfaces": ["eth0"]},
 "option-data": [{"name": "domain-name", "data": "global"}],
 "client-classes": [
   {"name": "early", "test": "option[60].exists", "option-data": [{"name": "nisplus-domain-name", "data": "early"}]},
   {"name": "net-req", "only-if-required": true, "test": "option[60].text == 'docsis3.0'", "option-data": [{"name": "domain-name", "data": "net"}]},
   {"name": "sub-req", "only-if-required": true, "test": "pkt4.msgtype == 1 or pkt4.msgtype == 3", "option-data": [{"name": "domain-name", "data": "sub"}, {"name": "tftp-server-name", "data": "sub"}]},
   {"name": "dep", "only-if-required": true, "test": "member('sub-req')", "option-data": [{"name": "nis-domain", "data": "dep"}]},
   {"name": "pool-req", "only-if-required": true, "option-data": [{"name": "tftp-server-name", "data": "pool"}, {"name": "boot-file-name", "data": "pool"}]},
   {"name": "unreq", "only-if-required": true, "test": "option[60].exists", "option-data": [{"name": "root-path", "data": "unreq"}]}
 ],
 "shared-networks": [{"name": "net", "interface": "eth0", "require-client-classes": ["net-req"], "subnet4": [
   {"id": 1, "subnet": "192.0.2.0/24", "require-client-classes": ["sub-req", "dep"],
    "pools": [{"pool": "192.0.2.100 - 192.0.2.200", "require-client-classes": ["pool-req"]}]}]}]
}}`

func TestRequiredClasses(t *testing.T) {
	h := newHarness(t, requiredConfig)
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainName, dhcpv4.OptionNetworkInformationServiceDomain,
		dhcpv4.OptionNetworkInformationServicePlusDomain, dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName,
		dhcpv4.OptionRootPath)
	want := map[dhcpv4.OptionCode]string{
		dhcpv4.OptionDomainName:                          "net",
		dhcpv4.OptionNetworkInformationServiceDomain:     "dep",
		dhcpv4.OptionNetworkInformationServicePlusDomain: "early",
		dhcpv4.OptionTFTPServerName:                      "sub",
		dhcpv4.OptionBootfileName:                        "",
		dhcpv4.OptionRootPath:                            "",
	}
	check := func(what string, m *dhcpv4.DHCPv4, want map[dhcpv4.OptionCode]string) {
		t.Helper()
		for code, v := range want {
			if got := string(m.Options.Get(code)); got != v {
				t.Errorf("%s: option %d = %q, want %q", what, code.Code(), got, v)
			}
		}
	}
	offer := h.one(discover("00:11:22:33:44:55", prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))))
	check("OFFER", offer.msg, want)
	ack := h.one(requestFor(offer.msg, prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))))
	check("ACK", ack.msg, want)

	// Without option 60 neither early nor net-req match: the subnet's
	// class gives the domain name.
	o := h.one(discover("00:11:22:33:44:66", prl))
	check("OFFER without option 60", o.msg, map[dhcpv4.OptionCode]string{
		dhcpv4.OptionDomainName: "sub", dhcpv4.OptionNetworkInformationServicePlusDomain: "",
		dhcpv4.OptionNetworkInformationServiceDomain: "dep",
	})
	// INFORM (no address, so no pool) still evaluates the network's and
	// the subnet's required classes; sub-req does not match message type 8.
	inf, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:77")), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithClientIP(offer.msg.YourIPAddr), prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0")))
	check("INFORM", h.one(inf).msg, map[dhcpv4.OptionCode]string{
		dhcpv4.OptionDomainName: "net", dhcpv4.OptionNetworkInformationServiceDomain: "",
	})
}

// TestReservationClassOrder: where a reservation's classes rank depends
// on the subnet, as kea-dhcp4 2.2 answered in the lab for these two
// configurations: in a plain subnet they join before the classes evaluated
// on arrival (which are evaluated again), so their options win; in a shared
// network they join once the address is chosen, after every evaluated
// class.
func TestReservationClassOrder(t *testing.T) {
	const classes = `"client-classes": [
   {"name": "early", "test": "option[60].exists", "option-data": [{"name": "domain-name", "data": "early"}, {"name": "nis-domain", "data": "early"}]},
   {"name": "known-dep", "test": "member('KNOWN')", "option-data": [{"name": "nis-domain", "data": "knowndep"}, {"name": "root-path", "data": "knowndep"}]},
   {"name": "resv", "option-data": [{"name": "domain-name", "data": "resv"}, {"name": "tftp-server-name", "data": "resv"}, {"name": "root-path", "data": "resv"}]}]`
	const sn = `{"id": 1, "subnet": "192.0.2.0/24", "interface": "eth0", "pools": [{"pool": "192.0.2.100 - 192.0.2.200"}],
   "reservations": [{"hw-address": "0a:00:00:00:00:01", "client-classes": ["resv"]}]}`
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainName, dhcpv4.OptionNetworkInformationServiceDomain,
		dhcpv4.OptionTFTPServerName, dhcpv4.OptionRootPath)
	for _, tt := range []struct {
		name, subnets string
		want          map[dhcpv4.OptionCode]string
	}{
		{"subnet", `"subnet4": [` + sn + `]`, map[dhcpv4.OptionCode]string{
			dhcpv4.OptionDomainName: "resv", dhcpv4.OptionRootPath: "resv",
			dhcpv4.OptionNetworkInformationServiceDomain: "early", dhcpv4.OptionTFTPServerName: "resv"}},
		{"shared network", `"shared-networks": [{"name": "n", "interface": "eth0", "subnet4": [` + sn + `]}]`, map[dhcpv4.OptionCode]string{
			dhcpv4.OptionDomainName: "early", dhcpv4.OptionRootPath: "knowndep",
			dhcpv4.OptionNetworkInformationServiceDomain: "early", dhcpv4.OptionTFTPServerName: "resv"}},
	} {
		h := newHarness(t, `{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0"]}, `+classes+`, `+tt.subnets+`}}`)
		o := h.one(discover("0a:00:00:00:00:01", prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))))
		for code, v := range tt.want {
			if got := string(o.msg.Options.Get(code)); got != v {
				t.Errorf("%s: option %d = %q, want %q", tt.name, code.Code(), got, v)
			}
		}
	}
}
