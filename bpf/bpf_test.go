package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"xdhcp/ha/lbhash"
	"xdhcp/internal/lab"
	"xdhcp/internal/testlog"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// XDP verdicts as returned by test runs.
const (
	xdpDrop     = 1
	xdpPass     = 2
	xdpRedirect = 4
)

// requireCaps skips the test when the process cannot load BPF programs or
// manage interfaces; everything else is a failure.
func requireCaps(t testing.TB) {
	t.Helper()
	if err := lab.BPFAvailable(); err != nil {
		t.Skip(err)
	}
}

func load(t testing.TB, opts Options) *Objects {
	t.Helper()
	requireCaps(t)
	if opts.Logger == nil {
		opts.Logger = testlog.New(t)
	}
	o, err := Load(opts)
	if err != nil {
		t.Fatalf("Load(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

// counterMap names the fields so that deltas can be compared as a whole.
func counterMap(c Counters) map[string]uint64 {
	return map[string]uint64{
		"not_dhcp": c.NotDHCP, "fragment": c.Fragment, "not_request": c.NotRequest,
		"malformed": c.Malformed, "drop_mac": c.DropMAC, "drop_clientid": c.DropClientID,
		"rate_limited": c.RateLimited, "ha_out_of_scope": c.HAOutOfScope,
		"shed_discover": c.ShedDiscover, "shed_other": c.ShedOther,
		"irregular_out_of_scope": c.IrregularOutOfScope, "irregular_shed": c.IrregularShed,
		"redirected": c.Redirected, "xsk_missing": c.XSKMissing,
		"fragment6": c.Fragment6, "ext_unparsed6": c.ExtUnparsed6, "not_request6": c.NotRequest6,
		"malformed6": c.Malformed6, "drop_duid": c.DropDUID, "rate_limited6": c.RateLimited6,
		"ha_out_of_scope6": c.HAOutOfScope6, "shed_solicit": c.ShedSolicit, "shed_other6": c.ShedOther6,
		"irregular_out_of_scope6": c.IrregularOutOfScope6, "irregular_shed6": c.IrregularShed6,
		"redirected6": c.Redirected6, "xsk_missing6": c.XSKMissing6,
	}
}

// run feeds one frame through the program and checks the verdict and that
// exactly the named counter went up by one.
func run(t *testing.T, o *Objects, data []byte, wantVerdict uint32, wantCounter string) {
	t.Helper()
	before, err := o.Counters()
	if err != nil {
		t.Fatal(err)
	}
	ret, err := o.Program().Run(&ebpf.RunOptions{Data: data})
	if err != nil {
		t.Fatalf("test run: %v", err)
	}
	after, err := o.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if ret != wantVerdict {
		t.Errorf("verdict %d, want %d", ret, wantVerdict)
	}
	b, a := counterMap(before), counterMap(after)
	if _, ok := a[wantCounter]; !ok {
		t.Fatalf("no counter %q", wantCounter)
	}
	for name := range a {
		want := uint64(0)
		if name == wantCounter {
			want = 1
		}
		if d := a[name] - b[name]; d != want {
			t.Errorf("counter %s went up by %d, want %d", name, d, want)
		}
	}
}

const (
	discover = 1
	request  = 3
	release  = 7
	inform   = 8
)

func TestLBTableMatchesProgram(t *testing.T) {
	// No privileges needed: reads the embedded object.
	spec, err := loadDhcp()
	if err != nil {
		t.Fatal(err)
	}
	var tbl [256]uint8
	if err := spec.Variables[dhcpVarLbTable].Get(&tbl); err != nil {
		t.Fatal(err)
	}
	if tbl != lbhash.Table {
		t.Fatal("lb_table in dhcp.c differs from lbhash.Table")
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := Load(Options{RateLimit: 10}); !errors.Is(err, ErrBadOption) {
		t.Errorf("RateLimit without Burst: %v, want ErrBadOption", err)
	}
	if _, err := Load(Options{PinDir: t.TempDir()}); !errors.Is(err, ErrBadOption) {
		t.Errorf("PinDir not on bpffs: %v, want ErrBadOption", err)
	}
}

// TestParse runs the parser and the default policy (nothing configured) over
// a table of frames. With no AF_XDP socket registered, a DHCP request ends in
// bpf_redirect_map's fallback: XDP_PASS, counted as xsk_missing.
func TestParse(t *testing.T) {
	o := load(t, Options{})
	disc := frame{msgType: discover}

	tests := []struct {
		name    string
		data    []byte
		verdict uint32
		counter string
	}{
		{"untagged discover", disc.bytes(), xdpPass, "xsk_missing"},
		{"802.1Q", frame{msgType: discover, vlans: []uint16{0x8100}}.bytes(), xdpPass, "xsk_missing"},
		{"802.1ad", frame{msgType: discover, vlans: []uint16{0x88a8}}.bytes(), xdpPass, "xsk_missing"},
		{"QinQ", frame{msgType: discover, vlans: []uint16{0x88a8, 0x8100}}.bytes(), xdpPass, "xsk_missing"},
		// A third tag is beyond what we parse: the stack gets it.
		{"three tags", frame{msgType: discover, vlans: []uint16{0x88a8, 0x8100, 0x8100}}.bytes(), xdpPass, "not_dhcp"},
		{"IP options", frame{msgType: discover, ipOptions: []byte{1, 1, 1, 0}}.bytes(), xdpPass, "xsk_missing"},
		{"40 bytes of IP options", frame{msgType: discover, ipOptions: bytes.Repeat([]byte{1}, 40)}.bytes(), xdpPass, "xsk_missing"},
		{"UDP to 68", frame{msgType: discover, dstPort: 68}.bytes(), xdpPass, "not_dhcp"},
		{"UDP to 53", frame{msgType: discover, dstPort: 53}.bytes(), xdpPass, "not_dhcp"},
		{"TCP", frame{msgType: discover, ipProto: 6}.bytes(), xdpPass, "not_dhcp"},
		{"ARP", frame{etherType: 0x0806}.bytes(), xdpPass, "not_dhcp"},
		{"IPv6", frame{etherType: 0x86dd}.bytes(), xdpPass, "not_dhcp"},
		{"first fragment", frame{msgType: discover, fragOff: 0x2000}.bytes(), xdpPass, "fragment"},
		{"later fragment", frame{msgType: discover, fragOff: 0x0010}.bytes(), xdpPass, "fragment"},
		// DF is not fragmentation.
		{"DF set", frame{msgType: discover, fragOff: 0x4000}.bytes(), xdpPass, "xsk_missing"},
		{"BOOTREPLY to 67", frame{op: 2, msgType: 5}.bytes(), xdpPass, "not_request"},
		{"bad cookie", frame{msgType: discover, cookie: 0x01020304}.bytes(), xdpDrop, "malformed"},
		{"hlen 17", frame{msgType: discover, hlen: 17}.bytes(), xdpDrop, "malformed"},
		{"hlen 0", frame{msgType: discover, hlen: -1}.bytes(), xdpPass, "xsk_missing"},
		// Kea keeps the options before a truncated one; so do we.
		{"truncated option", frame{msgType: discover, rawOpts: []byte{12, 200, 'a'}, noEnd: true}.bytes(), xdpPass, "xsk_missing"},
		{"no END", frame{msgType: discover, noEnd: true}.bytes(), xdpPass, "xsk_missing"},
		{"no options at all", frame{noEnd: true}.bytes(), xdpPass, "xsk_missing"},
		{"padded", frame{msgType: discover, padTo: 548}.bytes(), xdpPass, "xsk_missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.data, tc.verdict, tc.counter) })
	}
}

// TestTruncation cuts frames at (and just around) every header boundary.
// Before the UDP header is complete the frame is not known to be DHCP and
// goes to the stack; after it, a short BOOTP message is malformed.
func TestTruncation(t *testing.T) {
	o := load(t, Options{})
	type layout struct {
		name string
		f    frame
		l2   int // bytes up to the IP header
		ihl  int
	}
	for _, lay := range []layout{
		{"untagged", frame{msgType: discover}, 14, 20},
		{"QinQ+IP options", frame{msgType: discover, vlans: []uint16{0x88a8, 0x8100}, ipOptions: make([]byte, 8)}, 22, 28},
	} {
		full := lay.f.bytes()
		udp := lay.l2 + lay.ihl
		bootp := udp + 8
		cuts := []struct {
			n       int
			counter string
		}{
			{14, "not_dhcp"},             // Ethernet header only (test runs need >= 14 bytes)
			{lay.l2 + 10, "not_dhcp"},    // inside the IP header
			{udp - 1, "not_dhcp"},        // IP header one byte short
			{udp, "not_dhcp"},            // IP header, no UDP
			{udp + 7, "not_dhcp"},        // UDP header one byte short
			{bootp, "malformed"},         // UDP header, no BOOTP
			{bootp + 1, "malformed"},     // op only
			{bootp + 44, "malformed"},    // up to chaddr
			{bootp + 236, "malformed"},   // fixed header, no cookie
			{bootp + 239, "malformed"},   // cookie one byte short
			{bootp + 240, "malformed"},   // cookie, but UDP length says more
			{len(full) - 1, "malformed"}, // END missing, UDP length says more
		}
		if lay.l2 > 14 {
			cuts = append(cuts, struct {
				n       int
				counter string
			}{16, "not_dhcp"}) // inside the first VLAN tag
		}
		for _, c := range cuts {
			t.Run(fmt.Sprintf("%s/%d", lay.name, c.n), func(t *testing.T) {
				verdict := uint32(xdpPass)
				if c.counter == "malformed" {
					verdict = xdpDrop
				}
				run(t, o, full[:c.n], verdict, c.counter)
			})
		}
	}
}

func TestDropList(t *testing.T) {
	o := load(t, Options{})
	mac := []byte{0x02, 0xde, 0xad, 0xbe, 0xef, 0x01}
	cid := []byte{0x01, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x02}
	byMAC := frame{msgType: discover, chaddr: mac}.bytes()
	byCID := frame{msgType: discover, clientID: cid}.bytes()
	// The same chaddr with a different hlen is a different key.
	shortHlen := frame{msgType: discover, chaddr: mac, hlen: 5}.bytes()

	run(t, o, byMAC, xdpPass, "xsk_missing")
	if err := o.DropMAC(mac, true); err != nil {
		t.Fatal(err)
	}
	if err := o.DropClientID(cid, true); err != nil {
		t.Fatal(err)
	}
	run(t, o, byMAC, xdpDrop, "drop_mac")
	run(t, o, shortHlen, xdpPass, "xsk_missing")
	run(t, o, byCID, xdpDrop, "drop_clientid")
	// The MAC list is checked first.
	run(t, o, frame{msgType: discover, chaddr: mac, clientID: cid}.bytes(), xdpDrop, "drop_mac")
	// A client-id that only starts with a listed one is not listed.
	run(t, o, frame{msgType: discover, clientID: append(slices.Clone(cid), 0)}.bytes(), xdpPass, "xsk_missing")

	macs, cids, err := o.ListDropped()
	if err != nil {
		t.Fatal(err)
	}
	if len(macs) != 1 || !bytes.Equal(macs[0], mac) || len(cids) != 1 || !bytes.Equal(cids[0], cid) {
		t.Errorf("ListDropped = %x, %x", macs, cids)
	}

	if err := o.DropMAC(mac, false); err != nil {
		t.Fatal(err)
	}
	if err := o.DropClientID(cid, false); err != nil {
		t.Fatal(err)
	}
	if err := o.DropClientID(cid, false); err != nil {
		t.Errorf("removing an absent entry: %v", err)
	}
	run(t, o, byMAC, xdpPass, "xsk_missing")
	run(t, o, byCID, xdpPass, "xsk_missing")

	for _, bad := range [][]byte{nil, make([]byte, 17)} {
		if err := o.DropMAC(bad, true); !errors.Is(err, ErrBadKey) {
			t.Errorf("DropMAC(%d bytes) = %v, want ErrBadKey", len(bad), err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 63)} {
		if err := o.DropClientID(bad, true); !errors.Is(err, ErrBadKey) {
			t.Errorf("DropClientID(%d bytes) = %v, want ErrBadKey", len(bad), err)
		}
	}
}

func TestRateLimit(t *testing.T) {
	const burst = 3
	// 1 token/s: refill during the test (microseconds) is far below a token.
	o := load(t, Options{RateLimit: 1, Burst: burst})
	f := frame{msgType: request, ciaddr: [4]byte{10, 0, 0, 5}}.bytes()
	for i := range burst {
		t.Run(fmt.Sprintf("packet %d", i+1), func(t *testing.T) { run(t, o, f, xdpPass, "xsk_missing") })
	}
	t.Run("over burst", func(t *testing.T) { run(t, o, f, xdpDrop, "rate_limited") })
	// Another client has its own bucket.
	other := frame{msgType: request, chaddr: []byte{2, 0, 0, 0, 0, 2}}.bytes()
	t.Run("other client", func(t *testing.T) { run(t, o, other, xdpPass, "xsk_missing") })
	// Not DHCP: never rate limited.
	t.Run("not dhcp", func(t *testing.T) {
		for range burst + 2 {
			run(t, o, frame{dstPort: 53}.bytes(), xdpPass, "not_dhcp")
		}
	})
}

// TestHAScope feeds Kea 2.2's load-balancing vectors through the program as
// the primary (serves even hashes) and as the secondary.
func TestHAScope(t *testing.T) {
	o := load(t, Options{HAEnabled: true})
	for _, server := range []int{0, 1} {
		var served [256]bool
		for h := range served {
			served[h] = h%2 == server
		}
		if err := o.SetScopes(served); err != nil {
			t.Fatal(err)
		}
		for _, v := range lbhash.KeaVectors {
			key := v.KeyBytes()
			f := frame{msgType: discover}
			if key[0] == 0x01 && len(key) == 7 {
				f.clientID = key // client-id vectors
			} else {
				f.chaddr = key // hw-address vectors
			}
			verdict, counter := uint32(xdpPass), "xsk_missing"
			if v.Server != server {
				verdict, counter = xdpDrop, "ha_out_of_scope"
			}
			t.Run(fmt.Sprintf("server%d/%s", server+1, v.Key), func(t *testing.T) {
				run(t, o, f.bytes(), verdict, counter)
			})
		}
	}

	// Primary again: 01:00:0c:01:02:03:07 hashes to 69, the secondary's.
	var primary [256]bool
	for h := range primary {
		primary[h] = h%2 == 0
	}
	if err := o.SetScopes(primary); err != nil {
		t.Fatal(err)
	}
	theirs := lbhash.Vector{Key: "01:00:0c:01:02:03:07"}.KeyBytes()
	t.Run("RELEASE is an HA type", func(t *testing.T) {
		run(t, o, frame{msgType: release, clientID: theirs}.bytes(), xdpDrop, "ha_out_of_scope")
	})
	t.Run("INFORM is an HA type", func(t *testing.T) {
		run(t, o, frame{msgType: inform, clientID: theirs}.bytes(), xdpDrop, "ha_out_of_scope")
	})
	// Kea accepts non-HA message types (here none at all) in every scope.
	t.Run("no message type", func(t *testing.T) {
		run(t, o, frame{clientID: theirs}.bytes(), xdpPass, "xsk_missing")
	})
	t.Run("DHCPLEASEQUERY", func(t *testing.T) {
		run(t, o, frame{msgType: 10, clientID: theirs}.bytes(), xdpPass, "xsk_missing")
	})
	// Empty option 61 falls back to chaddr (00:0c:01:02:03:04 -> 131, theirs).
	t.Run("empty client-id", func(t *testing.T) {
		run(t, o, frame{msgType: discover, clientID: []byte{}, chaddr: lbhash.Vector{Key: "00:0c:01:02:03:04"}.KeyBytes()}.bytes(),
			xdpDrop, "ha_out_of_scope")
	})
	// No client-id and hlen 0: Kea drops it on both servers.
	t.Run("no key", func(t *testing.T) {
		var all [256]bool
		for h := range all {
			all[h] = true
		}
		if err := o.SetScopes(all); err != nil {
			t.Fatal(err)
		}
		run(t, o, frame{msgType: discover, hlen: -1}.bytes(), xdpDrop, "ha_out_of_scope")
	})
	// A long client-id (beyond the drop-list key size) is hashed in full.
	t.Run("255-byte client-id", func(t *testing.T) {
		id := make([]byte, 255)
		for i := range id {
			id[i] = byte(i * 7)
		}
		h := lbhash.Sum(id)
		var only [256]bool
		only[h] = true
		if err := o.SetScopes(only); err != nil {
			t.Fatal(err)
		}
		run(t, o, frame{msgType: discover, clientID: id}.bytes(), xdpPass, "xsk_missing")
		only[h], only[h+1] = false, true // uint8 wraps
		if err := o.SetScopes(only); err != nil {
			t.Fatal(err)
		}
		run(t, o, frame{msgType: discover, clientID: id}.bytes(), xdpDrop, "ha_out_of_scope")
	})
}

func TestHADisabledIgnoresTable(t *testing.T) {
	o := load(t, Options{}) // HA off: the all-false table must not matter
	run(t, o, frame{msgType: discover, clientID: lbhash.Vector{Key: "01:00:0c:01:02:03:07"}.KeyBytes()}.bytes(), xdpPass, "xsk_missing")
}

func TestOverload(t *testing.T) {
	o := load(t, Options{})
	disc := frame{msgType: discover}.bytes()
	// Renew/rebind: ciaddr set, no server identifier.
	renew := frame{msgType: request, ciaddr: [4]byte{10, 0, 0, 5}}.bytes()
	// SELECTING: server identifier and requested address, ciaddr 0.
	selecting := frame{msgType: request, serverID: true, reqIP: true}.bytes()
	// INIT-REBOOT: requested address, no server identifier, ciaddr 0.
	initReboot := frame{msgType: request, reqIP: true}.bytes()
	rel := frame{msgType: release, ciaddr: [4]byte{10, 0, 0, 5}, serverID: true}.bytes()

	tests := []struct {
		level uint32
		name  string
		data  []byte
		verd  uint32
		ctr   string
	}{
		{0, "discover", disc, xdpPass, "xsk_missing"},
		{1, "discover", disc, xdpDrop, "shed_discover"},
		{1, "renew", renew, xdpPass, "xsk_missing"},
		{1, "selecting", selecting, xdpPass, "xsk_missing"},
		{2, "discover", disc, xdpDrop, "shed_discover"},
		{2, "renew", renew, xdpPass, "xsk_missing"},
		{2, "selecting", selecting, xdpDrop, "shed_other"},
		{2, "init-reboot", initReboot, xdpDrop, "shed_other"},
		{2, "release", rel, xdpDrop, "shed_other"},
		{0, "selecting after recovery", selecting, xdpPass, "xsk_missing"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("level%d/%s", tc.level, tc.name), func(t *testing.T) {
			if err := o.SetOverload(0, tc.level); err != nil {
				t.Fatal(err)
			}
			run(t, o, tc.data, tc.verd, tc.ctr)
		})
	}
	if err := o.SetOverload(0, 3); !errors.Is(err, ErrBadOption) {
		t.Errorf("level 3: %v, want ErrBadOption", err)
	}
	if err := o.SetOverload(MaxQueues, 1); !errors.Is(err, ErrBadKey) {
		t.Errorf("queue %d: %v, want ErrBadKey", MaxQueues, err)
	}
	// Test runs happen on rx queue 0: shedding queue 1 leaves it alone.
	if err := o.SetOverload(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := o.SetOverload(1, 2); err != nil {
		t.Fatal(err)
	}
	run(t, o, disc, xdpPass, "xsk_missing")
}

// TestPolicyOrder: a frame that every stage would drop is counted by the first.
func TestPolicyOrder(t *testing.T) {
	o := load(t, Options{RateLimit: 1, Burst: 1, HAEnabled: true}) // no scope served
	if err := o.SetOverload(0, 2); err != nil {
		t.Fatal(err)
	}
	mac := []byte{2, 0, 0, 0, 0, 9}
	f := frame{msgType: discover, chaddr: mac}.bytes()
	run(t, o, f, xdpDrop, "ha_out_of_scope") // first packet: bucket full
	run(t, o, f, xdpDrop, "rate_limited")    // second: bucket empty
	if err := o.DropMAC(mac, true); err != nil {
		t.Fatal(err)
	}
	run(t, o, f, xdpDrop, "drop_mac")
	var all [256]bool
	for h := range all {
		all[h] = true
	}
	if err := o.SetScopes(all); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame{msgType: discover, chaddr: []byte{2, 0, 0, 0, 0, 10}}.bytes(), xdpDrop, "shed_discover")
}

func TestXSKValidation(t *testing.T) {
	o := load(t, Options{})
	if err := o.RegisterXSK(-1, 3); !errors.Is(err, ErrBadKey) {
		t.Errorf("queue -1: %v", err)
	}
	if err := o.RegisterXSK(0, -1); !errors.Is(err, ErrBadOption) {
		t.Errorf("fd -1: %v", err)
	}
	// Not an AF_XDP socket: the kernel refuses it.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := o.RegisterXSK(0, fd); err == nil {
		t.Error("RegisterXSK accepted a UDP socket")
	}
	if err := o.UnregisterXSK(0); err != nil {
		t.Errorf("UnregisterXSK of an empty slot: %v", err)
	}
}

// FuzzXDP feeds arbitrary frames to the program: it must never abort or
// redirect without a socket, and must count every frame exactly once.
func FuzzXDP(f *testing.F) {
	for _, fr := range []frame{
		{msgType: discover},
		{msgType: request, vlans: []uint16{0x88a8, 0x8100}, ipOptions: make([]byte, 4), clientID: []byte{1, 2, 3}},
		{msgType: request, serverID: true, reqIP: true, padTo: 300},
		{rawOpts: []byte{0, 0, 61, 0, 53, 1, 1, 12, 250}, noEnd: true},
		{op: 2},
		{preOpts: make([]byte, 256), msgType: discover},
		{msgType: discover, rawOpts: []byte{61, 3, 1, 2, 3, 61, 4, 4, 5, 6, 7, 52, 1, 3}},
	} {
		f.Add(fr.bytes())
	}
	f.Add(make([]byte, 14))
	for _, fr := range []frame6{
		{payload: clientMsg6(solicit6, defaultDUID)},
		{ext: []ext6{{0, []byte{1, 4, 0, 0, 0, 0}}, {44, fragHdr(0, false)}}, payload: relayN(clientMsg6(renew6, defaultDUID), 2)},
		{payload: msg6(request6, opt6(optCID6, defaultDUID), opt6(optCID6, nil))},
	} {
		f.Add(fr.bytes())
	}
	requireCaps(f)
	o, err := Load(Options{RateLimit: 1000, Burst: 1000, HAEnabled: true, HA6Enabled: true, DHCPv6: true})
	if err != nil {
		f.Fatal(err)
	}
	defer o.Close()
	var half [256]bool
	for h := range half {
		half[h] = h%2 == 0
	}
	if err := o.SetScopes(half); err != nil {
		f.Fatal(err)
	}
	if err := o.SetScopes6(half); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 14 || len(data) > 3000 {
			t.Skip("test runs take 14..(page size - headroom) bytes")
		}
		before, err := o.Counters()
		if err != nil {
			t.Fatal(err)
		}
		ret, err := o.Program().Run(&ebpf.RunOptions{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		after, err := o.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if ret != xdpPass && ret != xdpDrop {
			t.Fatalf("verdict %d", ret)
		}
		if d := after.Total() - before.Total(); d != 1 {
			t.Fatalf("%d counters went up", d)
		}
	})
}

// BenchmarkProgram measures the program alone (kernel test run) on a
// DISCOVER that passes every check, with HA and rate limiting on.
func BenchmarkProgram(b *testing.B) {
	requireCaps(b)
	o, err := Load(Options{RateLimit: 1 << 30, Burst: 1 << 30, HAEnabled: true})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var all [256]bool
	for h := range all {
		all[h] = true
	}
	if err := o.SetScopes(all); err != nil {
		b.Fatal(err)
	}
	data := frame{msgType: discover, clientID: []byte{1, 2, 0, 0, 0, 0, 1}, reqIP: true, padTo: 300}.bytes()
	b.ReportAllocs()
	b.ResetTimer()
	ret, d, err := o.Program().Benchmark(data, b.N, b.ResetTimer)
	if err != nil {
		b.Fatal(err)
	}
	if ret != xdpPass {
		b.Fatalf("verdict %d", ret)
	}
	b.ReportMetric(float64(d.Nanoseconds()), "ns/packet")
}
