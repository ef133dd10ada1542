package slowpath

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/handoff"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

const testConfig = `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "lease-database": { "type": "memfile", "persist": false },
  "valid-lifetime": 3600,
  "renew-timer": 900, "rebind-timer": 1800,
  "authoritative": true,
  "client-classes": [
    { "name": "DROP", "test": "pkt4.mac == 0xdead00000001" },
    { "name": "short", "test": "option[60].text == 'short'", "valid-lifetime": 600 }
  ],
  "option-data": [ { "name": "domain-name-servers", "data": "192.0.2.53" } ],
  "subnet4": [
    { "id": 1, "subnet": "192.0.2.0/24",
      "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
      "option-data": [ { "name": "routers", "data": "192.0.2.1" } ],
      "reservations": [
        { "hw-address": "aa:bb:cc:00:00:01", "ip-address": "192.0.2.10", "hostname": "fixed" },
        { "hw-address": "aa:bb:cc:00:00:66", "client-classes": [ "DROP" ] }
      ] },
    { "id": 2, "subnet": "198.51.100.0/24",
      "pools": [ { "pool": "198.51.100.10 - 198.51.100.12" } ],
      "option-data": [ { "name": "routers", "data": "198.51.100.1" } ] },
    { "id": 3, "subnet": "203.0.113.0/24", "cache-threshold": 0.5,
      "relay": { "ip-addresses": [ "10.9.9.9" ] },
      "pools": [ { "pool": "203.0.113.10 - 203.0.113.50" } ] }
  ]
} }`

// countingStore wraps the store to count commits: a cached renewal must
// write nothing.
type countingStore struct {
	*memfile.Store
	mu      sync.Mutex
	commits int
}

func (c *countingStore) Commit(ctx context.Context, ops ...lease.Op) error {
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
	return c.Store.Commit(ctx, ops...)
}

func (c *countingStore) CommitAsync(ops []lease.Op, done func(error)) {
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
	c.Store.CommitAsync(ops, done)
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commits
}

type sent struct {
	dst handoff.Meta
	msg *dhcpv4.DHCPv4
}

type capture struct {
	mu  sync.Mutex
	out []sent
}

func (c *capture) Send(dst *handoff.Meta, payload []byte) error {
	// An undecodable reply is recorded with a nil msg, for the test to fail on.
	m, _ := dhcpv4.FromBytes(payload)
	c.mu.Lock()
	c.out = append(c.out, sent{*dst, m})
	c.mu.Unlock()
	return nil
}

func (c *capture) take() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	return out
}

type harness struct {
	t     *testing.T
	srv   *Server
	store *countingStore
	reg   *stats.Registry
	out   *capture
	now   time.Time
	pool  handoff.PacketPool // packets of enqueue
}

var serverAddr = netip.MustParseAddr("192.0.2.1")

func newHarness(t *testing.T, cfgText string) *harness {
	t.Helper()
	st := openStore(t, memfile.Options{Persist: false})
	h := &harness{t: t, store: &countingStore{Store: st}, reg: stats.New(20, 0), out: &capture{},
		now: time.Unix(1_800_000_000, 0)}
	h.srv = newTestServer(t, cfgText, Deps{Store: h.store, Stats: h.reg, Now: func() time.Time { return h.now }})
	return h
}

// mustConfig parses a Kea document, failing t when it does not load.
func mustConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// openStore opens a memfile store with opts; cleanup closes it.
func openStore(t testing.TB, opts memfile.Options) *memfile.Store {
	t.Helper()
	st, err := memfile.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newTestServer makes a Server on cfgText with deps, not yet started.
func newTestServer(t testing.TB, cfgText string, deps Deps) *Server {
	t.Helper()
	srv, err := New(mustConfig(t, cfgText), deps)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// requestPacket is m as it arrives on eth0: from the client, or, with a
// giaddr, from the relay, which sends from giaddr.
func requestPacket(m *dhcpv4.DHCPv4, out handoff.Sender) *handoff.Packet {
	p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, IfMAC: [6]byte{2, 0, 0, 0, 0, 1},
		Meta: handoff.Meta{SrcMAC: [6]byte(m.ClientHWAddr), SrcPort: 68, DstPort: 67}, Data: m.ToBytes(), Out: out}
	if m.GatewayIPAddr != nil && !m.GatewayIPAddr.IsUnspecified() {
		p.Meta.SrcMAC = [6]byte{2, 0, 0, 0, 0, 0x99}
		p.Meta.SrcIP = [4]byte(m.GatewayIPAddr.To4())
		p.Meta.SrcPort = 67
	}
	return p
}

// exchange runs one request through the server synchronously and returns
// what it sent.
func (h *harness) exchange(m *dhcpv4.DHCPv4) []sent {
	h.t.Helper()
	p := requestPacket(m, h.out)
	if r := h.srv.decode(p); r != nil {
		h.srv.process(r)
	}
	return h.out.take()
}

func (h *harness) one(m *dhcpv4.DHCPv4) sent {
	h.t.Helper()
	out := h.exchange(m)
	if len(out) != 1 {
		h.t.Fatalf("%s: got %d replies, want 1", m.MessageType(), len(out))
	}
	return out[0]
}

func (h *harness) stat(name string) int64 {
	s, ok := h.reg.Get(name)
	if !ok || len(s) == 0 {
		return 0
	}
	return s[0].Value
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func discover(hw string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewDiscovery(mac(hw), append([]dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionHostName)}, mods...)...)
	if err != nil {
		panic(err)
	}
	return m
}

func requestFor(offer *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		panic(err)
	}
	return m
}

func renew(hw string, ip netip.Addr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, _ := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(mac(hw)),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IP(ip.AsSlice())),
	}, mods...)...)
	return m
}

func leaseTime(m *dhcpv4.DHCPv4) time.Duration { return m.IPAddressLeaseTime(0) }

// dora runs DISCOVER/OFFER/REQUEST/ACK and returns the ACK.
func (h *harness) dora(hw string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	h.t.Helper()
	offer := h.one(discover(hw, mods...))
	if offer.msg.MessageType() != dhcpv4.MessageTypeOffer {
		h.t.Fatalf("got %s, want OFFER", offer.msg.MessageType())
	}
	ack := h.one(requestFor(offer.msg, mods...))
	if ack.msg.MessageType() != dhcpv4.MessageTypeAck {
		h.t.Fatalf("got %s (%s), want ACK", ack.msg.MessageType(), ack.msg.Message())
	}
	if !ack.msg.YourIPAddr.Equal(offer.msg.YourIPAddr) {
		h.t.Fatalf("ACK for %s, OFFER was %s", ack.msg.YourIPAddr, offer.msg.YourIPAddr)
	}
	return ack.msg
}

func TestDORA(t *testing.T) {
	h := newHarness(t, testConfig)
	offer := h.one(discover("00:11:22:33:44:55"))
	o := offer.msg
	ip := netip.MustParseAddr(o.YourIPAddr.String())
	if !netip.MustParsePrefix("192.0.2.0/24").Contains(ip) || ip.As4()[3] < 100 || ip.As4()[3] > 199 {
		t.Fatalf("offered %s, not from the pool", ip)
	}
	if got := o.ServerIdentifier().String(); got != "192.0.2.1" {
		t.Errorf("server id %s", got)
	}
	if got := o.SubnetMask().String(); got != "ffffff00" {
		t.Errorf("subnet mask %s", got)
	}
	if r := o.Router(); len(r) != 1 || r[0].String() != "192.0.2.1" {
		t.Errorf("routers %v", r)
	}
	if d := o.DNS(); len(d) != 1 || d[0].String() != "192.0.2.53" {
		t.Errorf("dns %v (global option)", d)
	}
	if lt := leaseTime(o); lt != time.Hour {
		t.Errorf("lease time %v", lt)
	}
	if t1, t2 := o.IPAddressRenewalTime(0), o.IPAddressRebindingTime(0); t1 != 900*time.Second || t2 != 1800*time.Second {
		t.Errorf("T1 %v T2 %v", t1, t2)
	}
	// No address yet and no broadcast flag: unicast to the offered address
	// at the client's MAC.
	if offer.dst.DstIP != ip.As4() || offer.dst.DstMAC != [6]byte(mac("00:11:22:33:44:55")) || offer.dst.DstPort != 68 {
		t.Errorf("offer sent to %v/%x:%d", offer.dst.DstIP, offer.dst.DstMAC, offer.dst.DstPort)
	}
	if h.store.count() != 0 {
		t.Errorf("DISCOVER wrote %d commits, want none", h.store.count())
	}
	ack := h.one(requestFor(o))
	if ack.msg.MessageType() != dhcpv4.MessageTypeAck || !ack.msg.YourIPAddr.Equal(o.YourIPAddr) {
		t.Fatalf("got %s %s", ack.msg.MessageType(), ack.msg.YourIPAddr)
	}
	l, ok := h.store.Get(ip)
	if !ok || l.SubnetID != 1 || l.ValidLft != 3600 || l.CLTT != h.now.Unix() || l.State != lease.StateDefault {
		t.Fatalf("lease %+v %v", l, ok)
	}
	if h.stat("pkt4-ack-sent") != 1 || h.stat("pkt4-offer-sent") != 1 || h.stat("subnet[1].assigned-addresses") != 1 {
		t.Errorf("stats: ack %d offer %d assigned %d", h.stat("pkt4-ack-sent"), h.stat("pkt4-offer-sent"), h.stat("subnet[1].assigned-addresses"))
	}
}

func TestRenewRebindAndNAK(t *testing.T) {
	h := newHarness(t, testConfig)
	ack := h.dora("00:11:22:33:44:55")
	ip := netip.MustParseAddr(ack.YourIPAddr.String())
	h.now = h.now.Add(30 * time.Minute)

	// RENEWING: unicast with ciaddr, no server id, no requested address.
	r := h.one(renew("00:11:22:33:44:55", ip))
	if r.msg.MessageType() != dhcpv4.MessageTypeAck || r.dst.DstIP != ip.As4() {
		t.Fatalf("renew: %s to %v", r.msg.MessageType(), r.dst.DstIP)
	}
	if l, _ := h.store.Get(ip); l.CLTT != h.now.Unix() {
		t.Errorf("renew did not extend the lease: cltt %d", l.CLTT)
	}
	// REBINDING: the same, broadcast.
	h.now = h.now.Add(20 * time.Minute)
	r = h.one(renew("00:11:22:33:44:55", ip, dhcpv4.WithBroadcast(true)))
	if r.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("rebind: %s", r.msg.MessageType())
	}
	// INIT-REBOOT asking for an address of another client: NAK, broadcast.
	other := h.dora("00:11:22:33:44:66")
	m, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:55")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(other.YourIPAddr)))
	r = h.one(m)
	if r.msg.MessageType() != dhcpv4.MessageTypeNak || r.dst.DstIP != [4]byte{255, 255, 255, 255} {
		t.Fatalf("wrong address: %s to %v, want broadcast NAK", r.msg.MessageType(), r.dst.DstIP)
	}
	// INIT-REBOOT for an address on another network: NAK.
	m, _ = dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:55")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.1.2.3"))))
	if r = h.one(m); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("foreign address: %s", r.msg.MessageType())
	}
	if h.stat("pkt4-nak-sent") != 2 {
		t.Errorf("pkt4-nak-sent %d", h.stat("pkt4-nak-sent"))
	}
}

func TestReleaseDeclineInform(t *testing.T) {
	h := newHarness(t, testConfig)
	ack := h.dora("00:11:22:33:44:55")
	ip := netip.MustParseAddr(ack.YourIPAddr.String())
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	if out := h.exchange(rel); len(out) != 0 {
		t.Fatalf("RELEASE answered: %v", out)
	}
	if _, ok := h.store.Get(ip); ok {
		t.Fatal("lease still there after RELEASE")
	}
	if h.stat("subnet[1].assigned-addresses") != 0 {
		t.Errorf("assigned %d after release", h.stat("subnet[1].assigned-addresses"))
	}

	ack = h.dora("00:11:22:33:44:77")
	ip = netip.MustParseAddr(ack.YourIPAddr.String())
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:77")), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.1"))))
	if out := h.exchange(dec); len(out) != 0 {
		t.Fatal("DECLINE answered")
	}
	l, ok := h.store.Get(ip)
	if !ok || l.State != lease.StateDeclined || l.ValidLft != 86400 || len(l.HWAddr) != 0 {
		t.Fatalf("declined lease %+v", l)
	}
	if h.stat("declined-addresses") != 1 || h.stat("subnet[1].declined-addresses") != 1 {
		t.Errorf("declined stats %d %d", h.stat("declined-addresses"), h.stat("subnet[1].declined-addresses"))
	}
	// The declined address is not offered again, to anyone.
	if o := h.one(discover("00:11:22:33:44:77")); o.msg.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatal("declined address offered again")
	}

	inf, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:88")), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithClientIP(net.ParseIP("192.0.2.20")), dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter))
	r := h.one(inf)
	if r.msg.MessageType() != dhcpv4.MessageTypeAck || !r.msg.YourIPAddr.IsUnspecified() || r.msg.IPAddressLeaseTime(0) != 0 {
		t.Fatalf("INFORM reply %s yiaddr %s lease %v", r.msg.MessageType(), r.msg.YourIPAddr, r.msg.IPAddressLeaseTime(0))
	}
	if r.dst.DstIP != [4]byte{192, 0, 2, 20} || len(r.msg.Router()) != 1 {
		t.Errorf("INFORM to %v routers %v", r.dst.DstIP, r.msg.Router())
	}
}

func TestRelayOption82(t *testing.T) {
	h := newHarness(t, testConfig)
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")), dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), []byte("sw1")))
	mods := []dhcpv4.Modifier{dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1")), dhcpv4.WithOption(rai)}
	offer := h.one(discover("00:11:22:33:44:55", mods...))
	if !netip.MustParsePrefix("198.51.100.0/24").Contains(netip.MustParseAddr(offer.msg.YourIPAddr.String())) {
		t.Fatalf("relayed client got %s, want subnet 2 by giaddr", offer.msg.YourIPAddr)
	}
	// By IP alone (zero DstMAC: the transport routes it), never to the
	// Ethernet source of the request.
	if offer.dst.DstIP != [4]byte{198, 51, 100, 1} || offer.dst.DstPort != 67 || offer.dst.DstMAC != [6]byte{} {
		t.Errorf("relayed offer sent to %v:%d %x, want the relay by IP", offer.dst.DstIP, offer.dst.DstPort, offer.dst.DstMAC)
	}
	if got := offer.msg.Options.Get(dhcpv4.OptionRelayAgentInformation); string(got) != string(rai.Value.ToBytes()) {
		t.Errorf("option 82 not echoed: %x", got)
	}
	if !offer.msg.GatewayIPAddr.Equal(net.ParseIP("198.51.100.1")) {
		t.Errorf("giaddr %s not kept", offer.msg.GatewayIPAddr)
	}
	// relay.ip-addresses selects subnet 3 for giaddr 10.9.9.9.
	o := h.one(discover("00:11:22:33:44:56", dhcpv4.WithGatewayIP(net.ParseIP("10.9.9.9"))))
	if !netip.MustParsePrefix("203.0.113.0/24").Contains(netip.MustParseAddr(o.msg.YourIPAddr.String())) {
		t.Fatalf("giaddr 10.9.9.9 got %s, want subnet 3 by relay.ip-addresses", o.msg.YourIPAddr)
	}
}

func TestReservationAndDrop(t *testing.T) {
	h := newHarness(t, testConfig)
	ack := h.dora("aa:bb:cc:00:00:01", dhcpv4.WithOption(dhcpv4.OptHostName("whatever")))
	if ack.YourIPAddr.String() != "192.0.2.10" {
		t.Fatalf("reserved client got %s", ack.YourIPAddr)
	}
	if hn := ack.HostName(); hn != "fixed" {
		t.Errorf("hostname %q, want the reservation's", hn)
	}
	for _, hw := range []string{"aa:bb:cc:00:00:66", "de:ad:00:00:00:01"} {
		if out := h.exchange(discover(hw)); len(out) != 0 {
			t.Errorf("DROP-class client %s got an answer", hw)
		}
	}
	if h.stat("pkt4-receive-drop") != 2 {
		t.Errorf("pkt4-receive-drop %d, want 2", h.stat("pkt4-receive-drop"))
	}
	// The reserved address is never handed to another client that asks.
	m, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:55")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("192.0.2.10"))))
	if r := h.one(m); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("reserved address requested by another client: %s", r.msg.MessageType())
	}
}

func TestCacheThresholdReuseWritesNothing(t *testing.T) {
	h := newHarness(t, testConfig)
	relay := dhcpv4.WithGatewayIP(net.ParseIP("10.9.9.9"))
	ack := h.dora("00:11:22:33:44:55", relay)
	ip := netip.MustParseAddr(ack.YourIPAddr.String())
	commits := h.store.count()
	// 10 minutes into a 1 h lease with threshold 0.5: reused.
	h.now = h.now.Add(10 * time.Minute)
	r := h.one(renew("00:11:22:33:44:55", ip, relay))
	if r.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renew: %s", r.msg.MessageType())
	}
	if got := leaseTime(r.msg); got != 50*time.Minute {
		t.Errorf("reused lease time %v, want the remaining 50m", got)
	}
	if h.store.count() != commits {
		t.Fatalf("cached renewal committed %d times", h.store.count()-commits)
	}
	// Past the threshold (40 min > 30 min): a real renewal, written.
	h.now = h.now.Add(30 * time.Minute)
	r = h.one(renew("00:11:22:33:44:55", ip, relay))
	if leaseTime(r.msg) != time.Hour || h.store.count() != commits+1 {
		t.Errorf("renewal past threshold: lease time %v, commits %d", leaseTime(r.msg), h.store.count()-commits)
	}
	// Subnet 1 has no cache-threshold: every renewal writes.
	ack = h.dora("00:11:22:33:44:99")
	before := h.store.count()
	h.one(renew("00:11:22:33:44:99", netip.MustParseAddr(ack.YourIPAddr.String())))
	if h.store.count() != before+1 {
		t.Errorf("renewal without cache-threshold did not write")
	}
}

func TestClassLifetimeAndExhaustion(t *testing.T) {
	h := newHarness(t, testConfig)
	ack := h.dora("00:11:22:33:44:55", dhcpv4.WithOption(dhcpv4.OptClassIdentifier("short")))
	if leaseTime(ack) != 10*time.Minute {
		t.Errorf("class valid-lifetime: %v", leaseTime(ack))
	}
	// Subnet 2 has three addresses: the fourth client gets nothing.
	gi := dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))
	seen := map[string]bool{}
	for _, hw := range []string{"00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03"} {
		a := h.dora(hw, gi)
		if seen[a.YourIPAddr.String()] {
			t.Fatalf("address %s handed out twice", a.YourIPAddr)
		}
		seen[a.YourIPAddr.String()] = true
	}
	if out := h.exchange(discover("00:00:00:00:00:04", gi)); len(out) != 0 {
		t.Fatalf("exhausted pool still offered %s", out[0].msg.YourIPAddr)
	}
	if h.stat("v4-allocation-fail") != 1 || h.stat("subnet[2].v4-allocation-fail") != 1 {
		t.Errorf("allocation-fail stats %d %d", h.stat("v4-allocation-fail"), h.stat("subnet[2].v4-allocation-fail"))
	}
}

func TestConcurrentClientsGetDistinctAddresses(t *testing.T) {
	h := newHarness(t, testConfig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.srv.Start(ctx)
	defer h.srv.Close()
	// Fewer clients than the queue holds (packet-queue-size 64): the
	// workers (as many as CPUs) may not have taken any packet yet when
	// the last one is queued, and a full queue drops its oldest.
	const n = 60
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			hw := net.HardwareAddr{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
			d, _ := dhcpv4.NewDiscovery(hw)
			h.srv.Enqueue(&handoff.Packet{IfName: "eth0", IfAddr: serverAddr, Meta: handoff.Meta{SrcMAC: [6]byte(hw)}, Data: d.ToBytes(), Out: h.out})
		}(i)
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	var offers []sent
	for len(offers) < n && time.Now().Before(deadline) {
		offers = append(offers, h.out.take()...)
		time.Sleep(5 * time.Millisecond)
	}
	if len(offers) != n {
		t.Fatalf("%d offers for %d clients", len(offers), n)
	}
	seen := map[string]string{}
	for _, o := range offers {
		ip, who := o.msg.YourIPAddr.String(), o.msg.ClientHWAddr.String()
		if prev, dup := seen[ip]; dup {
			t.Fatalf("%s offered to %s and %s", ip, prev, who)
		}
		seen[ip] = who
	}
}
