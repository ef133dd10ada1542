package bpf

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"xdhcp/ha/lbhash"

	"github.com/cilium/ebpf"
)

// TestParse6 runs the DHCPv6 parser and the default policy over a table of
// frames: every way to the kernel, to a drop, and to the AF_XDP socket (with
// none registered, bpf_redirect_map's fallback: XDP_PASS, xsk_missing6).
func TestParse6(t *testing.T) {
	o := load(t, Options{DHCPv6: true})
	sol := clientMsg6(solicit6, defaultDUID)
	hop := ext6{0, []byte{1, 4, 0, 0, 0, 0}} // PadN
	dst := ext6{60, []byte{1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}
	rt := ext6{43, append([]byte{0, 0, 0, 0, 0, 0}, make([]byte, 16)...)} // type 0, segments left 0, one address
	nine := slices.Repeat([]ext6{dst}, 9)
	eight := slices.Repeat([]ext6{dst}, 8)
	longTrunc := relay6(sol, 0)
	longTrunc = longTrunc[:len(longTrunc)-3] // Relay Message runs past the end

	tests := []struct {
		name    string
		data    []byte
		verdict uint32
		counter string
	}{
		{"solicit", frame6{payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"every client message type", nil, 0, ""}, // below
		{"802.1Q tagged", frame6{vlans: []uint16{0x8100}, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"QinQ", frame6{vlans: []uint16{0x88a8, 0x8100}, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"hop-by-hop", frame6{ext: []ext6{hop}, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"hop-by-hop, routing, destination", frame6{ext: []ext6{hop, rt, dst}, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"atomic fragment", frame6{ext: []ext6{{44, fragHdr(0, false)}}, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"8 extension headers", frame6{ext: eight, payload: sol}.bytes(), xdpPass, "xsk_missing6"},
		{"first fragment", frame6{ext: []ext6{{44, fragHdr(0, true)}}, payload: sol}.bytes(), xdpPass, "fragment6"},
		{"non-first fragment", frame6{ext: []ext6{hop, {44, fragHdr(10, false)}}, payload: sol}.bytes(), xdpPass, "fragment6"},
		{"9 extension headers", frame6{ext: nine, payload: sol}.bytes(), xdpPass, "ext_unparsed6"},
		{"extension header cut short", frame6{ext: []ext6{hop}}.bytes()[:14+40+4], xdpPass, "ext_unparsed6"},
		{"extension header longer than the frame", frame6{ext: []ext6{{60, make([]byte, 200)}}}.bytes()[:14+40+64], xdpPass, "ext_unparsed6"},
		{"ESP", frame6{proto: 50, payload: sol}.bytes(), xdpPass, "not_dhcp"},
		{"TCP", frame6{proto: 6, payload: sol}.bytes(), xdpPass, "not_dhcp"},
		{"no next header", frame6{ext: []ext6{hop}, proto: 59}.bytes(), xdpPass, "not_dhcp"},
		{"UDP to 546", frame6{dstPort: 546, payload: sol}.bytes(), xdpPass, "not_dhcp"},
		{"IPv6 header cut short", frame6{payload: sol}.bytes()[:14+39], xdpPass, "not_dhcp"},
		{"UDP header cut short", frame6{payload: sol}.bytes()[:14+40+7], xdpPass, "not_dhcp"},
		{"Advertise", frame6{payload: clientMsg6(advert6, defaultDUID)}.bytes(), xdpPass, "not_request6"},
		{"Reply", frame6{payload: clientMsg6(reply6, defaultDUID)}.bytes(), xdpPass, "not_request6"},
		{"Relay-repl", frame6{payload: clientMsg6(relayRp6, nil)}.bytes(), xdpPass, "not_request6"},
		{"relayed Advertise", frame6{payload: relay6(clientMsg6(advert6, defaultDUID), 0)}.bytes(), xdpPass, "not_request6"},
		{"type 0", frame6{payload: msg6(0)}.bytes(), xdpPass, "not_request6"},
		{"3-byte message", frame6{payload: []byte{solicit6, 0, 0}}.bytes(), xdpDrop, "malformed6"},
		{"UDP length past the frame", frame6{payload: sol, udpLen: 8 + len(sol) + 1}.bytes(), xdpDrop, "malformed6"},
		{"UDP length below its header", frame6{payload: sol, udpLen: 7}.bytes(), xdpDrop, "malformed6"},
		{"Relay-forw header cut short", frame6{payload: relay6(sol, 0)[:33]}.bytes(), xdpDrop, "malformed6"},
		{"relay without Relay Message", frame6{payload: relay6(sol, 0)[:34+8]}.bytes(), xdpDrop, "malformed6"},
		{"Relay Message cut short", frame6{payload: longTrunc}.bytes(), xdpDrop, "malformed6"},
		{"relayed message shorter than its header", frame6{payload: relay6([]byte{1, 2}, 0)}.bytes(), xdpDrop, "malformed6"},
		{"relayed", frame6{payload: relay6(sol, 0)}.bytes(), xdpPass, "xsk_missing6"},
		{"relayed 8 times", frame6{payload: relayN(sol, 8)}.bytes(), xdpPass, "xsk_missing6"},
		// Deeper than the walk goes: irregular, so only a policy drops it.
		{"relayed 9 times", frame6{payload: relayN(sol, 9)}.bytes(), xdpPass, "xsk_missing6"},
		// As Kea's unpackOptions6: options up to the truncated one count.
		{"truncated last option", frame6{payload: append(sol, 0, 23, 0, 16, 1)}.bytes(), xdpPass, "xsk_missing6"},
		{"no client-id", frame6{payload: clientMsg6(inforeq6, nil)}.bytes(), xdpPass, "xsk_missing6"},
		{"DHCPv4 still", frame{msgType: discover}.bytes(), xdpPass, "xsk_missing"},
	}
	for _, tc := range tests {
		if tc.data == nil {
			for _, typ := range []uint8{solicit6, request6, confirm6, renew6, rebind6, release6, decline6, inforeq6} {
				t.Run(fmt.Sprintf("type %d", typ), func(t *testing.T) {
					run(t, o, frame6{payload: clientMsg6(typ, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
				})
			}
			continue
		}
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.data, tc.verdict, tc.counter) })
	}
}

// TestTruncation6 cuts DHCPv6 frames at every length: each cut is counted
// once and none reaches the socket's path with less than a message header.
func TestTruncation6(t *testing.T) {
	o := load(t, Options{DHCPv6: true})
	frames := [][]byte{
		frame6{ext: []ext6{{0, []byte{1, 4, 0, 0, 0, 0}}}, payload: clientMsg6(renew6, defaultDUID)}.bytes(),
		frame6{payload: relayN(clientMsg6(solicit6, defaultDUID), 2)}.bytes(),
	}
	for fi, f := range frames {
		for n := 14; n < len(f); n++ { // test runs need >= 14 bytes
			before, err := o.Counters()
			if err != nil {
				t.Fatal(err)
			}
			ret, err := o.Program().Run(&ebpf.RunOptions{Data: f[:n]})
			if err != nil {
				t.Fatal(err)
			}
			after, err := o.Counters()
			if err != nil {
				t.Fatal(err)
			}
			if d := after.Total() - before.Total(); d != 1 {
				t.Fatalf("frame %d cut at %d: %d counters went up", fi, n, d)
			}
			if after.Redirected6 != before.Redirected6 || after.XSKMissing6 != before.XSKMissing6 {
				t.Fatalf("frame %d cut at %d: verdict %d, counted as a request", fi, n, ret)
			}
		}
	}
}

// TestDropDUID: the drop list matches the client message's DUID, directly
// and through Relay-forw levels, and nothing else.
func TestDropDUID(t *testing.T) {
	o := load(t, Options{DHCPv6: true})
	other := append(bytes.Clone(defaultDUID[:len(defaultDUID)-1]), 0x02)
	if err := o.DropDUID(defaultDUID, true); err != nil {
		t.Fatal(err)
	}
	sol := clientMsg6(solicit6, defaultDUID)
	run(t, o, frame6{payload: sol}.bytes(), xdpDrop, "drop_duid")
	run(t, o, frame6{payload: clientMsg6(renew6, defaultDUID)}.bytes(), xdpDrop, "drop_duid")
	run(t, o, frame6{payload: relay6(sol, 0)}.bytes(), xdpDrop, "drop_duid")
	run(t, o, frame6{payload: relayN(sol, 8)}.bytes(), xdpDrop, "drop_duid")
	run(t, o, frame6{ext: []ext6{{0, []byte{1, 4, 0, 0, 0, 0}}}, payload: sol}.bytes(), xdpDrop, "drop_duid")
	run(t, o, frame6{payload: clientMsg6(solicit6, other)}.bytes(), xdpPass, "xsk_missing6")
	// A prefix or an extension of a listed DUID is another DUID.
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID[:len(defaultDUID)-1])}.bytes(), xdpPass, "xsk_missing6")
	run(t, o, frame6{payload: clientMsg6(solicit6, append(bytes.Clone(defaultDUID), 0))}.bytes(), xdpPass, "xsk_missing6")
	// A relay's own options are not the client's: a client-id in the
	// relay (not valid there) does not make the message listed.
	rel := relay6(clientMsg6(solicit6, other), 0)
	rel = append(rel[:34], append(opt6(optCID6, defaultDUID), rel[34:]...)...)
	run(t, o, frame6{payload: rel}.bytes(), xdpPass, "xsk_missing6")
	// The first client-id is the one Kea evaluates.
	run(t, o, frame6{payload: msg6(solicit6, opt6(optCID6, defaultDUID), opt6(optCID6, other))}.bytes(), xdpDrop, "drop_duid")
	// The DHCPv4 client-id list is another list.
	run(t, o, frame{msgType: discover, clientID: defaultDUID}.bytes(), xdpPass, "xsk_missing")

	list, err := o.ListDroppedDUIDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !bytes.Equal(list[0], defaultDUID) {
		t.Fatalf("ListDroppedDUIDs = %x", list)
	}
	if err := o.DropDUID(defaultDUID, false); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: sol}.bytes(), xdpPass, "xsk_missing6")
	if err := o.DropDUID(make([]byte, 129), true); err == nil {
		t.Error("a 129-byte DUID was accepted")
	}
	if err := o.DropDUID(nil, true); err == nil {
		t.Error("an empty DUID was accepted")
	}
	long := bytes.Repeat([]byte{7}, 128)
	if err := o.DropDUID(long, true); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, long)}.bytes(), xdpDrop, "drop_duid")
}

// TestRateLimit6: one bucket per DUID, apart from the DHCPv4 buckets; a
// message without a DUID is keyed by its source address.
func TestRateLimit6(t *testing.T) {
	o := load(t, Options{RateLimit: 1, Burst: 2, DHCPv6: true})
	renew := frame6{payload: clientMsg6(renew6, defaultDUID)}.bytes()
	run(t, o, renew, xdpPass, "xsk_missing6")
	run(t, o, renew, xdpPass, "xsk_missing6")
	run(t, o, renew, xdpDrop, "rate_limited6")
	// Relayed, the same client is the same bucket.
	run(t, o, frame6{payload: relay6(clientMsg6(renew6, defaultDUID), 0)}.bytes(), xdpDrop, "rate_limited6")
	other := bytes.Clone(defaultDUID)
	other[len(other)-1] = 9
	run(t, o, frame6{payload: clientMsg6(renew6, other)}.bytes(), xdpPass, "xsk_missing6")
	run(t, o, frame{msgType: discover}.bytes(), xdpPass, "xsk_missing")

	noDUID := frame6{payload: clientMsg6(inforeq6, nil)}
	run(t, o, noDUID.bytes(), xdpPass, "xsk_missing6")
	run(t, o, noDUID.bytes(), xdpPass, "xsk_missing6")
	run(t, o, noDUID.bytes(), xdpDrop, "rate_limited6")
	noDUID.src[0], noDUID.src[1], noDUID.src[15] = 0xfe, 0x80, 7
	run(t, o, noDUID.bytes(), xdpPass, "xsk_missing6")
}

// TestHAScope6: Kea 2.2 load-balances DHCPv6 on the client-id's data (the
// whole DUID) with the RFC 3074 hash, for Solicit, Request, Confirm, Renew,
// Rebind, Release and Decline; a message without a DUID is in no scope.
func TestHAScope6(t *testing.T) {
	o := load(t, Options{HA6Enabled: true, DHCPv6: true})
	h := lbhash.Sum(defaultDUID)
	var mine, theirs, all [256]bool
	for i := range all {
		mine[i] = i%2 == int(h%2)
		theirs[i] = !mine[i]
		all[i] = true
	}
	for _, tc := range []struct {
		served  [256]bool
		verdict uint32
		counter string
	}{{mine, xdpPass, "xsk_missing6"}, {theirs, xdpDrop, "ha_out_of_scope6"}} {
		if err := o.SetScopes6(tc.served); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []uint8{solicit6, request6, confirm6, renew6, rebind6, release6, decline6} {
			run(t, o, frame6{payload: clientMsg6(typ, defaultDUID)}.bytes(), tc.verdict, tc.counter)
			run(t, o, frame6{payload: relayN(clientMsg6(typ, defaultDUID), 3)}.bytes(), tc.verdict, tc.counter)
		}
		// Information-request is not load balanced.
		run(t, o, frame6{payload: clientMsg6(inforeq6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
		run(t, o, frame6{payload: clientMsg6(inforeq6, nil)}.bytes(), xdpPass, "xsk_missing6")
	}
	// Exactly the DUID's hash value decides.
	var only [256]bool
	only[h] = true
	if err := o.SetScopes6(only); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
	only[h], only[h+1] = false, true
	if err := o.SetScopes6(only); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpDrop, "ha_out_of_scope6")

	// With every scope served: a Solicit without DUID is still in none;
	// irregular messages are taken.
	if err := o.SetScopes6(all); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, nil)}.bytes(), xdpDrop, "ha_out_of_scope6")
	run(t, o, frame6{payload: msg6(solicit6, opt6(optCID6, []byte{}))}.bytes(), xdpDrop, "ha_out_of_scope6")
	twice := msg6(solicit6, opt6(optCID6, defaultDUID), opt6(optCID6, defaultDUID))
	deep := relayN(clientMsg6(solicit6, defaultDUID), 9)
	long := clientMsg6(solicit6, bytes.Repeat([]byte{1}, 129))
	for _, irr := range [][]byte{twice, deep, long} {
		run(t, o, frame6{payload: irr}.bytes(), xdpPass, "xsk_missing6")
	}
	if err := o.SetScopes6(mine); err != nil {
		t.Fatal(err)
	}
	for _, irr := range [][]byte{twice, deep, long} {
		run(t, o, frame6{payload: irr}.bytes(), xdpDrop, "irregular_out_of_scope6")
	}
}

// TestOverload6: level 1 sheds Solicits, level 2 everything but Renew and
// Rebind; irregular messages go first.
func TestOverload6(t *testing.T) {
	o := load(t, Options{DHCPv6: true})
	if err := o.SetOverload(0, 1); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpDrop, "shed_solicit")
	run(t, o, frame6{payload: relay6(clientMsg6(solicit6, defaultDUID), 0)}.bytes(), xdpDrop, "shed_solicit")
	for _, typ := range []uint8{request6, confirm6, renew6, rebind6, release6, decline6, inforeq6} {
		run(t, o, frame6{payload: clientMsg6(typ, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
	}
	run(t, o, frame6{payload: relayN(clientMsg6(renew6, defaultDUID), 9)}.bytes(), xdpDrop, "irregular_shed6")
	if err := o.SetOverload(0, 2); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []uint8{request6, confirm6, release6, decline6, inforeq6} {
		run(t, o, frame6{payload: clientMsg6(typ, defaultDUID)}.bytes(), xdpDrop, "shed_other6")
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpDrop, "shed_solicit")
	run(t, o, frame6{payload: clientMsg6(renew6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
	run(t, o, frame6{payload: relay6(clientMsg6(rebind6, defaultDUID), 0)}.bytes(), xdpPass, "xsk_missing6")
	// The DHCPv4 counters keep their meaning.
	run(t, o, frame{msgType: discover}.bytes(), xdpDrop, "shed_discover")
	if err := o.SetOverload(0, 0); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
}

// TestDHCPv6Off: a program loaded without DHCPv6 leaves every IPv6 frame
// to the kernel, where another DHCPv6 server may listen.
func TestDHCPv6Off(t *testing.T) {
	o := load(t, Options{HAEnabled: true})
	if err := o.DropDUID(defaultDUID, true); err != nil {
		t.Fatal(err)
	}
	for _, f := range []frame6{
		{payload: clientMsg6(solicit6, defaultDUID)},
		{payload: clientMsg6(renew6, defaultDUID)},
		{ext: []ext6{{44, fragHdr(8, false)}}, payload: clientMsg6(renew6, defaultDUID)},
		{payload: []byte{1}},
	} {
		run(t, o, f.bytes(), xdpPass, "not_dhcp")
	}
}

// BenchmarkProgram6 measures the program alone (kernel test run) on a
// relayed DHCPv6 Renew behind a hop-by-hop header that passes every
// check, with HA and rate limiting on.
func BenchmarkProgram6(b *testing.B) {
	requireCaps(b)
	o, err := Load(Options{RateLimit: 1 << 30, Burst: 1 << 30, HA6Enabled: true, DHCPv6: true})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var all [256]bool
	for h := range all {
		all[h] = true
	}
	if err := o.SetScopes6(all); err != nil {
		b.Fatal(err)
	}
	data := frame6{ext: []ext6{{0, []byte{1, 4, 0, 0, 0, 0}}}, payload: relay6(clientMsg6(renew6, defaultDUID), 0)}.bytes()
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

// TestHAFamiliesApart: the DHCPv4 and DHCPv6 HA relationships have their
// own switches and tables: serving every DHCPv4 scope (partner down)
// serves no DHCPv6 one, and the reverse.
func TestHAFamiliesApart(t *testing.T) {
	var all, none [256]bool
	for h := range all {
		all[h] = true
	}
	o := load(t, Options{HAEnabled: true, HA6Enabled: true, DHCPv6: true})
	if err := o.SetScopes(all); err != nil {
		t.Fatal(err)
	}
	if err := o.SetScopes6(none); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame{msgType: discover}.bytes(), xdpPass, "xsk_missing")
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpDrop, "ha_out_of_scope6")
	if err := o.SetScopes(none); err != nil {
		t.Fatal(err)
	}
	if err := o.SetScopes6(all); err != nil {
		t.Fatal(err)
	}
	run(t, o, frame{msgType: discover}.bytes(), xdpDrop, "ha_out_of_scope")
	run(t, o, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
	// DHCPv4 HA alone leaves DHCPv6 unfiltered.
	o4 := load(t, Options{HAEnabled: true, DHCPv6: true})
	run(t, o4, frame6{payload: clientMsg6(solicit6, defaultDUID)}.bytes(), xdpPass, "xsk_missing6")
}
