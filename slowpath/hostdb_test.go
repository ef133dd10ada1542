package slowpath

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/host"
)

// memHosts is a host database in memory, at the host.Source contract.
type memHosts struct {
	mu    sync.Mutex
	hosts []*config.Reservation
	err   error
	calls int
}

func (m *memHosts) Get4(_ context.Context, subnet uint32, t host.IDType, id []byte) (*config.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	for _, h := range m.hosts {
		if ht, hid := host.Identifier(h); h.SubnetID == subnet && ht == t && bytes.Equal(hid, id) {
			return h, nil
		}
	}
	return nil, nil
}

func (m *memHosts) GetByAddr4(_ context.Context, subnet uint32, a netip.Addr) ([]*config.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	var out []*config.Reservation
	for _, h := range m.hosts {
		if h.SubnetID == subnet && h.IP == a {
			out = append(out, h)
		}
	}
	return out, nil
}

func (m *memHosts) add(r *config.Reservation) {
	m.mu.Lock()
	m.hosts = append(m.hosts, r)
	m.mu.Unlock()
}

// A reservation a database holds applies to the next packet, after the
// configuration's and identifier by identifier as Kea's host manager
// looks them up; the allocator skips addresses a database reserves for
// other clients; a failing database drops the packet and is counted.
func TestHostDatabaseSource(t *testing.T) {
	h := newHarness(t, testConfig)
	db := &memHosts{}
	h.srv.SetHostSources([]host.Source{db})

	// No reservation yet: a pool address.
	if ack := h.dora("02:00:00:00:00:01"); yiaddr(ack) != netip.MustParseAddr("192.0.2.100") {
		t.Fatalf("before: %s", ack.YourIPAddr)
	}
	db.add(&config.Reservation{SubnetID: 1, HWAddr: mac("02:00:00:00:00:02"), IP: netip.MustParseAddr("192.0.2.20"),
		Hostname: "from-db", Options: []config.Option{{Code: 6, Data: []byte{192, 0, 2, 54}}}})
	ack := h.dora("02:00:00:00:00:02")
	if got := yiaddr(ack); got != netip.MustParseAddr("192.0.2.20") || ack.HostName() != "from-db" ||
		len(ack.DNS()) != 1 || !ack.DNS()[0].Equal([]byte{192, 0, 2, 54}) {
		t.Errorf("reserved in the database: %s %q %v", got, ack.HostName(), ack.DNS())
	}

	// The configuration's reservation of aa:bb:cc:00:00:01 wins over a
	// database's for the same identifier.
	db.add(&config.Reservation{SubnetID: 1, HWAddr: mac("aa:bb:cc:00:00:01"), IP: netip.MustParseAddr("192.0.2.21")})
	if got := yiaddr(h.dora("aa:bb:cc:00:00:01")); got != netip.MustParseAddr("192.0.2.10") {
		t.Errorf("configuration first: %s", got)
	}
	// Per identifier: the database's hw-address reservation comes before
	// the configuration's client-id one (hw-address is asked first).
	h2 := newHarness(t, `{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "192.0.2.0/24",
		"pools": [{"pool": "192.0.2.100 - 192.0.2.199"}],
		"reservations": [{"client-id": "01:02:00:00:00:00:03", "ip-address": "192.0.2.30"}]}]}}`)
	db2 := &memHosts{}
	db2.add(&config.Reservation{SubnetID: 1, HWAddr: mac("02:00:00:00:00:03"), IP: netip.MustParseAddr("192.0.2.31")})
	h2.srv.SetHostSources([]host.Source{db2})
	cid := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 3}))
	if got := yiaddr(h2.dora("02:00:00:00:00:03", cid)); got != netip.MustParseAddr("192.0.2.31") {
		t.Errorf("identifier order: %s", got)
	}

	// In-pool addresses the database reserves for others are skipped.
	db.add(&config.Reservation{SubnetID: 1, HWAddr: mac("02:00:00:00:00:98"), IP: netip.MustParseAddr("192.0.2.101")})
	db.add(&config.Reservation{SubnetID: 1, HWAddr: mac("02:00:00:00:00:99"), IP: netip.MustParseAddr("192.0.2.102")})
	if got := yiaddr(h.dora("02:00:00:00:00:04")); got == netip.MustParseAddr("192.0.2.101") || got == netip.MustParseAddr("192.0.2.102") {
		t.Errorf("got %s, reserved in the database for another client", got)
	}

	// A failing database: the packet is dropped and counted.
	db.mu.Lock()
	db.err = errors.New("connection refused")
	db.mu.Unlock()
	drops := h.stat("pkt4-receive-drop")
	if out := h.exchange(discover("02:00:00:00:00:05")); len(out) != 0 {
		t.Errorf("answered with the database failing: %v", out[0].msg.MessageType())
	}
	if h.stat("xdhcp-host-lookup-errors") != 1 || h.stat("pkt4-receive-drop") != drops+1 {
		t.Errorf("errors %d, drops %d (was %d)", h.stat("xdhcp-host-lookup-errors"), h.stat("pkt4-receive-drop"), drops)
	}
}

func yiaddr(m *dhcpv4.DHCPv4) netip.Addr {
	a, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	return a
}
