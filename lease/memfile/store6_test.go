package memfile

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/lease"
)

// Rows as kea-dhcp6 2.2 wrote them (lease6-add over its control socket):
// an address with hostname, hardware address and user context, a declined
// address, a delegated prefix.
const keaRows6 = Header6 + `
2001:db8:1::100,00:01:02:03,7200,1796568836,1,7200,0,5,128,0,0,a&#x2cb&#x26c,aa:bb:cc:dd:ee:ff,0,{ "x": 1 },1,0
2001:db8:1::101,00,30,1000000,1,7200,0,5,128,0,0,,,1,,,
2001:db8:100::,00:01:02:03,7200,1796568836,1,3600,2,6,56,1,1,cpe.example.org,,0,,,
`

func TestParseRow6KeaRows(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(keaRows6), "\n")[1:]
	want := []lease.Lease6{
		{Addr: netip.MustParseAddr("2001:db8:1::100"), PrefixLen: 128, Type: lease.TypeNA, DUID: []byte{0, 1, 2, 3},
			IAID: 5, PreferredLft: 7200, ValidLft: 7200, CLTT: 1796568836 - 7200, SubnetID: 1, Hostname: "a,b&c",
			HWAddr: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, HWType: 1, UserContext: `{ "x": 1 }`},
		{Addr: netip.MustParseAddr("2001:db8:1::101"), PrefixLen: 128, Type: lease.TypeNA, DUID: []byte{0},
			IAID: 5, PreferredLft: 7200, ValidLft: 30, CLTT: 1000000 - 30, SubnetID: 1, State: lease.StateDeclined},
		{Addr: netip.MustParseAddr("2001:db8:100::"), PrefixLen: 56, Type: lease.TypePD, DUID: []byte{0, 1, 2, 3},
			IAID: 6, PreferredLft: 3600, ValidLft: 7200, CLTT: 1796568836 - 7200, SubnetID: 1, FqdnFwd: true,
			FqdnRev: true, Hostname: "cpe.example.org"},
	}
	for i, line := range lines {
		got, err := ParseRow6([]byte(line))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want[i])
		}
		// Written back, the row is byte for byte what Kea wrote.
		if back := string(AppendRow6(nil, &got)); back != line+"\n" {
			t.Errorf("row %d written back:\n got %q\nwant %q", i, back, line+"\n")
		}
	}
}

func TestParseRow6Rejects(t *testing.T) {
	good := "2001:db8::1,01:02,100,200,1,50,0,7,128,0,0,,,0,,,"
	if _, err := ParseRow6([]byte(good)); err != nil {
		t.Fatalf("good row: %v", err)
	}
	for name, row := range map[string]string{
		"ipv4 address":         "192.0.2.1,01:02,100,200,1,50,0,7,128,0,0,,,0,,,",
		"empty duid":           "2001:db8::1,,100,200,1,50,0,7,128,0,0,,,0,,,",
		"empty duid, active":   "2001:db8::1,00,100,200,1,50,0,7,128,0,0,,,0,,,",
		"bad type":             "2001:db8::1,01:02,100,200,1,50,3,7,128,0,0,,,0,,,",
		"prefix len 129":       "2001:db8::,01:02,100,200,1,50,2,7,129,0,0,,,0,,,",
		"expire before valid":  "2001:db8::1,01:02,100,99,1,50,0,7,128,0,0,,,0,,,",
		"iaid overflow":        "2001:db8::1,01:02,100,200,1,50,0,4294967296,128,0,0,,,0,,,",
		"user context a list":  "2001:db8::1,01:02,100,200,1,50,0,7,128,0,0,,,0,[1],,",
		"too few columns":      "2001:db8::1,01:02,100,200,1,50,0,7,128,0,0",
		"too many columns":     good + ",x",
		"bool not 0/1":         "2001:db8::1,01:02,100,200,1,50,0,7,128,2,0,,,0,,,",
		"duid over 128 octets": "2001:db8::1," + strings.Repeat("ab", 129) + ",100,200,1,50,0,7,128,0,0,,,0,,,",
	} {
		if _, err := ParseRow6([]byte(row)); !errors.Is(err, ErrBadRow) {
			t.Errorf("%s: got %v, want ErrBadRow", name, err)
		}
	}
	// Kea drops a hardware address it cannot read and keeps the lease.
	l, err := ParseRow6([]byte("2001:db8::1,01:02,100,200,1,50,0,7,128,0,0,,zz:1,0,,1,0"))
	if err != nil || l.HWAddr != nil {
		t.Errorf("unreadable hwaddr: lease %+v, err %v; want the lease without hwaddr", l, err)
	}
	// Schema 1.0 rows (12 columns) take the defaults.
	l, err = ParseRow6([]byte("2001:db8::1,01:02,100,200,1,50,0,7,128,0,0,h"))
	if err != nil || l.State != lease.StateDefault || l.Hostname != "h" {
		t.Errorf("schema 1.0 row: %+v, %v", l, err)
	}
}

func addr6(s string) netip.Addr { return netip.MustParseAddr(s) }

func na(a string, duid byte, iaid uint32, cltt int64) lease.Lease6 {
	return lease.Lease6{Addr: addr6(a), Type: lease.TypeNA, PrefixLen: 128, DUID: []byte{0, 1, duid}, IAID: iaid,
		PreferredLft: 300, ValidLft: 600, CLTT: cltt, SubnetID: 1}
}

func pd(p string, duid byte, iaid uint32, cltt int64) lease.Lease6 {
	pfx := netip.MustParsePrefix(p)
	return lease.Lease6{Addr: pfx.Addr(), Type: lease.TypePD, PrefixLen: uint8(pfx.Bits()), DUID: []byte{0, 1, duid},
		IAID: iaid, PreferredLft: 300, ValidLft: 600, CLTT: cltt, SubnetID: 2}
}

func put6(ls ...lease.Lease6) []lease.Op6 {
	ops := make([]lease.Op6, len(ls))
	for i, l := range ls {
		ops[i] = lease.Op6{Kind: lease.OpPut, Lease: l}
	}
	return ops
}

func addrs6(ls []lease.Lease6) string {
	var b []string
	for _, l := range ls {
		b = append(b, l.Prefix().String())
	}
	return strings.Join(b, " ")
}

func TestStore6Lookups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "leases6.csv")
	s, err := Open6(Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	host := na("2001:db8::20", 1, 2, 1000)
	host.Hostname = "Host.Example"
	if err := s.Commit(ctx, put6(
		na("2001:db8::10", 1, 1, 1000), host, pd("2001:db8:100::/56", 1, 1, 1000),
		pd("2001:db8:200::/56", 1, 9, 1000), na("2001:db8::5", 2, 1, 100))...); err != nil {
		t.Fatal(err)
	}
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	check("ByIA NA", addrs6(s.ByIA([]byte{0, 1, 1}, 1, lease.TypeNA, 0)), "2001:db8::10/128")
	check("ByIA PD", addrs6(s.ByIA([]byte{0, 1, 1}, 1, lease.TypePD, 2)), "2001:db8:100::/56")
	check("ByIA other subnet", addrs6(s.ByIA([]byte{0, 1, 1}, 1, lease.TypePD, 1)), "")
	check("ByDUID", addrs6(s.ByDUID([]byte{0, 1, 1})),
		"2001:db8::10/128 2001:db8::20/128 2001:db8:100::/56 2001:db8:200::/56")
	check("ByHostname", addrs6(s.ByHostname("host.example")), "2001:db8::20/128")
	check("Page from zero", addrs6(s.Page(netip.Addr{}, 2)), "2001:db8::5/128 2001:db8::10/128")
	check("Page after", addrs6(s.Page(addr6("2001:db8::20"), 10)), "2001:db8:100::/56 2001:db8:200::/56")
	check("Expired", addrs6(s.Expired(1000, 0)), "2001:db8::5/128")
	if l, ok := s.Get(addr6("2001:db8:100::")); !ok || l.PrefixLen != 56 || l.Type != lease.TypePD {
		t.Errorf("Get prefix: %+v %v", l, ok)
	}

	// A delete, then reopen: the file holds exactly what the index held.
	if err := s.Commit(ctx, lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: addr6("2001:db8::10")}}); err != nil {
		t.Fatal(err)
	}
	var before []lease.Lease6
	s.Range(func(l *lease.Lease6) bool { before = append(before, l.Clone()); return true })
	s.Close()
	s, err = Open6(Options{Path: path, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var after []lease.Lease6
	s.Range(func(l *lease.Lease6) bool { after = append(after, l.Clone()); return true })
	if !reflect.DeepEqual(before, after) || len(after) != 4 {
		t.Errorf("reloaded leases differ:\n got %+v\nwant %+v", after, before)
	}
	check("ByHostname after reload", addrs6(s.ByHostname("HOST.example")), "2001:db8::20/128")

	// Cleanup keeps the leases and leaves one row per lease in <name>.2.
	if err := s.RunLFC(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".2")
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(b), "\n"); rows != 5 || !strings.HasPrefix(string(b), Header6+"\n") {
		t.Errorf("cleaned file has %d lines:\n%s", rows, b)
	}
	if n, _ := s.Wipe(ctx, 2); n != 2 || s.Len() != 2 {
		t.Errorf("wipe subnet 2: deleted %d, %d left; want 2, 2", n, s.Len())
	}
}

func TestStore6Rejects(t *testing.T) {
	s, err := Open6(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	noDUID := na("2001:db8::1", 1, 1, 1)
	noDUID.DUID = nil
	badPD := pd("2001:db8::/56", 1, 1, 1)
	badPD.PrefixLen = 0
	v4 := na("2001:db8::1", 1, 1, 1)
	v4.Addr = netip.MustParseAddr("192.0.2.1")
	for name, l := range map[string]lease.Lease6{"no DUID": noDUID, "PD /0": badPD, "IPv4": v4} {
		if err := s.Commit(context.Background(), put6(l)...); !errors.Is(err, lease.ErrInvalidLease) {
			t.Errorf("%s: got %v, want ErrInvalidLease", name, err)
		}
	}
	// A declined lease forgets its client: written with Kea's empty DUID.
	declined := noDUID
	declined.State = lease.StateDeclined
	if err := s.Commit(context.Background(), put6(declined)...); err != nil {
		t.Errorf("declined lease without DUID: %v", err)
	}
	if row := string(AppendRow6(nil, &declined)); !strings.HasPrefix(row, "2001:db8::1,00,") {
		t.Errorf("declined row %q: want Kea's empty DUID 00", row)
	}
}

// TestStore6Fault: a failing disk refuses DHCPv6 commits and recovers as
// the DHCPv4 store does.
func TestStore6Fault(t *testing.T) {
	ff := &faultFile{}
	evs := &eventLog{}
	path := filepath.Join(t.TempDir(), "leases6.csv")
	s, err := openHook6(Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t),
		RetryWait: 5 * time.Millisecond, RetryLimit: 3, OnFault: evs.add},
		func(p string) (journalFile, error) {
			j, err := journalOpener(nil)(p)
			ff.mu.Lock()
			ff.journalFile = j
			ff.mu.Unlock()
			return ff, err
		})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Commit(ctx, put6(na("2001:db8::1", 1, 1, 1))...); err != nil {
		t.Fatal(err)
	}
	ff.failSyncs(1, syscall.EIO)
	err = s.Commit(ctx, put6(na("2001:db8::2", 1, 2, 1))...)
	if !errors.Is(err, lease.ErrStorage) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit on a failing disk: %v, want ErrStorage wrapping EIO", err)
	}
	if _, ok := s.Get(addr6("2001:db8::2")); ok {
		t.Error("refused lease is visible")
	}
	ff.clear()
	for deadline := time.Now().Add(10 * time.Second); s.Fault() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no recovery")
		}
	}
	if err := s.Commit(ctx, put6(na("2001:db8::3", 1, 3, 1))...); err != nil {
		t.Fatalf("commit after recovery: %v", err)
	}
	if evs.count(lease.FaultFailed) != 1 || evs.count(lease.FaultRecovered) != 1 {
		t.Errorf("events: %+v", evs.evs)
	}
	s.Close()
	s2, err := Open6(Options{Path: path, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := addrs6(s2.Page(netip.Addr{}, 10)); got != "2001:db8::1/128 2001:db8::3/128" {
		t.Errorf("reloaded after a fault: %s", got)
	}
}

// TestKeySetOrder: the ordered address set keeps order through inserts in
// random order, chunk splits and deletes.
func TestKeySetOrder(t *testing.T) {
	var s keySet
	const n = 5000
	for i := range n {
		s.add(key6{hi: 1, lo: uint64((i * 7919) % n)})
	}
	for i := 0; i < n; i += 3 {
		s.remove(key6{hi: 1, lo: uint64(i)})
	}
	var got []uint64
	s.ascend(key6{hi: 1, lo: 100}, func(k key6) bool { got = append(got, k.lo); return len(got) < 4 })
	if fmt.Sprint(got) != "[100 101 103 104]" {
		t.Errorf("ascend from 100: %v", got)
	}
	count := 0
	prev := key6{}
	s.ascend(key6{}, func(k key6) bool {
		if k.cmp(prev) <= 0 && count > 0 {
			t.Fatalf("out of order: %v after %v", k, prev)
		}
		prev = k
		count++
		return true
	})
	if want := n - (n+2)/3; count != want {
		t.Errorf("%d keys, want %d", count, want)
	}
}

func FuzzParseRow6(f *testing.F) {
	for _, r := range strings.Split(strings.TrimSpace(keaRows6), "\n")[1:] {
		f.Add([]byte(r))
	}
	f.Add([]byte("2001:db8::1,01:02,100,200,1,50,0,7,128,0,0,h"))
	f.Add([]byte("2001:db8::,0x0102,4294967295,5294967295,1,1,2,7,48,true,false,a&#x2,,2,{},6,4"))
	f.Add([]byte("::,00,1,2,0,0,0,0,0,0,0,,zz:1,1,,,"))
	f.Fuzz(func(t *testing.T, row []byte) {
		l, err := ParseRow6(row)
		if err != nil {
			return
		}
		out := AppendRow6(nil, &l)
		if i := strings.IndexByte(string(out), '\n'); i != len(out)-1 {
			t.Fatalf("row %q written with a newline inside: %q", row, out)
		}
		l2, err := ParseRow6(out[:len(out)-1])
		if err != nil {
			t.Fatalf("row %q -> %q: reparse: %v", row, out, err)
		}
		if !reflect.DeepEqual(l, l2) {
			t.Fatalf("row %q -> %q:\n%+v\n%+v", row, out, l, l2)
		}
	})
}

// TestStore6OldSchema: a lease file of an older Kea (schema 3.1, before
// hwtype and hwaddr_source) loads, and is rewritten in the current schema
// before anything is appended, as kea-dhcp6 does.
func TestStore6OldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases6.csv")
	old := "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context\n" +
		"2001:db8::1,00:01:02,100,1700000100,1,50,0,7,128,0,0,old.example,0a:0b:0c:0d:0e:0f,0,\n" +
		"2001:db8:100::,00:01:02,100,1700000100,1,50,2,8,56,0,0,,,0,{ \"a\": 1 }\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open6(Options{Path: path, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, ok := s.Get(addr6("2001:db8::1"))
	if !ok || l.HWType != lease.HWTypeEthernet || l.Hostname != "old.example" || s.Len() != 2 {
		t.Fatalf("old-schema lease: %+v %v, %d leases", l, ok, s.Len())
	}
	b, err := os.ReadFile(path + ".2")
	if err != nil {
		t.Fatalf("no rewritten file: %v", err)
	}
	if !strings.HasPrefix(string(b), Header6+"\n") || !strings.Contains(string(b), ",0a:0b:0c:0d:0e:0f,0,,1,0\n") {
		t.Errorf("rewritten file:\n%s", b)
	}
}

func FuzzLoad6(f *testing.F) {
	f.Add([]byte(keaRows6))
	f.Add([]byte(Header6 + "\n2001:db8::1,01,100,200,1,50,0,7,128,0,0,,,0,,,\n2001:db8::1,01,0,200,1,0,0,7,128,0,0,,,0,,,\n2001:db8::2,01"))
	f.Add([]byte("address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname\n2001:db8::5,01,5,6,1,1,0,1,128,0,0,\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "l6.csv")
		if err := os.WriteFile(path, content, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open6(Options{Path: path, Persist: true})
		if err != nil {
			return
		}
		var before []lease.Lease6
		s.Range(func(l *lease.Lease6) bool { before = append(before, l.Clone()); return true })
		extra := na("2001:db8:ffff::1", 9, 9, 1)
		if err := s.Commit(context.Background(), put6(extra)...); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open6(Options{Path: path, Persist: true})
		if err != nil {
			t.Fatalf("reopen after our own append: %v", err)
		}
		defer s.Close()
		if l, ok := s.Get(extra.Addr); !ok || l.IAID != 9 {
			t.Fatalf("our lease did not survive a reload: %+v", l)
		}
		n := 0
		s.Range(func(l *lease.Lease6) bool {
			if l.Addr != extra.Addr {
				n++
			}
			return true
		})
		if want := len(before); n != want && !(n == want-1 && containsAddr(before, extra.Addr)) {
			t.Fatalf("reloaded %d other leases, had %d", n, want)
		}
	})
}

func containsAddr(ls []lease.Lease6, a netip.Addr) bool {
	for _, l := range ls {
		if l.Addr == a {
			return true
		}
	}
	return false
}
