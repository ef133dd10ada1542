package legallog

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// relayedRequest is a relayed DHCPREQUEST with client-id and option 82
// (circuit-id "howdy", remote-id 87:f6:79:77:ef).
func relayedRequest() []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[4:8], []byte{0xde, 0xad, 0xbe, 0xef})
	copy(b[24:28], []byte{192, 2, 16, 33})
	copy(b[28:34], []byte{0x08, 0x00, 0x2b, 0x02, 0x3f, 0x4e})
	copy(b[236:240], []byte{0x63, 0x82, 0x53, 0x63})
	b = append(b, 53, 1, 3)
	b = append(b, 82, 14, 1, 5, 'h', 'o', 'w', 'd', 'y', 2, 5, 0x87, 0xf6, 0x79, 0x77, 0xef)
	return append(b, 255)
}

func testLease() lease.Lease {
	return lease.Lease{
		Addr:     netip.MustParseAddr("192.2.1.100"),
		HWAddr:   []byte{0x08, 0x00, 0x2b, 0x02, 0x3f, 0x4e},
		ClientID: []byte{0x17, 0x34, 0xe2, 0xff, 0x09, 0x92, 0x54},
		ValidLft: 6735,
		SubnetID: 1,
	}
}

// appendHex matches encoding/hex, with and without a separator, appended
// to what dst holds and leaving the spare capacity it used unseen.
func TestAppendHex(t *testing.T) {
	for n := range 20 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + 250)
		}
		plain := hex.EncodeToString(b)
		sep := ""
		for i := 0; i < len(plain); i += 2 {
			if i > 0 {
				sep += ":"
			}
			sep += plain[i : i+2]
		}
		if got := string(appendHex([]byte("x="), b, 0)); got != "x="+plain {
			t.Errorf("%x without separator: %q", b, got)
		}
		if got := string(appendHex([]byte("x="), b, ':')); got != "x="+sep {
			t.Errorf("%x with ':': %q", b, got)
		}
	}
}

// TestAppendAddr: appendAddr writes what netip writes, for every octet
// value in each position, IPv6 and 4-in-6 addresses included.
func TestAppendAddr(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.0.0.1"), {}}
	for c := range 256 {
		b := byte(c)
		addrs = append(addrs, netip.AddrFrom4([4]byte{b, 0, 9, 10}), netip.AddrFrom4([4]byte{99, b, 100, 255}),
			netip.AddrFrom4([4]byte{1, 199, b, 200}), netip.AddrFrom4([4]byte{255, 10, 0, b}))
	}
	for _, a := range addrs {
		if got, want := string(appendAddr([]byte("at "), a)), "at "+string(a.AppendTo(nil)); got != want {
			t.Errorf("%v: %q, want %q", a, got, want)
		}
	}
}

func TestDefaultEntryIsKeas(t *testing.T) {
	l := testLease()
	var q hooks.Packet
	if err := q.Parse(relayedRequest(), "eth0", nil); err != nil {
		t.Fatal(err)
	}
	got := string(AppendDefault(nil, &l, &q, false))
	want := "Address: 192.2.1.100 has been assigned for 1 hrs 52 mins 15 secs to a device with hardware address: " +
		"hwtype=1 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54 connected via relay at address: 192.2.16.33, " +
		"identified by circuit-id: 68:6f:77:64:79 (howdy) and remote-id: 87:f6:79:77:ef"
	if got != want {
		t.Errorf("entry\n got %s\nwant %s", got, want)
	}
	got = string(AppendDefault(nil, &l, nil, true))
	want = "Address: 192.2.1.100 has been released from a device with hardware address: hwtype=1 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54"
	if got != want {
		t.Errorf("release entry\n got %s\nwant %s", got, want)
	}
	if d := string(AppendDuration(nil, 2*86400+3661)); d != "2 days 1 hrs 1 mins 1 secs" {
		t.Errorf("duration %q", d)
	}
	if d := string(AppendDuration(nil, lease.Infinite)); d != "infinite duration" {
		t.Errorf("infinite duration %q", d)
	}
}

// clock is a settable clock for rotation tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func params(t *testing.T, js string) Params {
	t.Helper()
	p, err := ParseParams(json.RawMessage(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func record(t *testing.T, l *Log, e *hooks.Event) {
	t.Helper()
	if err := l.WriteRecords(l.AppendRecord(nil, e)); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, l)
}

// waitVisible waits until what l wrote is in its file, not only staged:
// at once after a lease commit's sync (the ticker's goroutine writes it
// then), within syncInterval after other writes.
func waitVisible(t *testing.T, l *Log) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		done := l.file.stage == nil || l.file.written == l.file.size
		l.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the staged records never reached the file")
		}
	}
}

func TestFileNamingRotationAndScripts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "scripts.log")
	script := filepath.Join(dir, "rot.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$0 $1\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	post := filepath.Join(dir, "post.sh")
	if err := os.Symlink(script, post); err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("CET", 3600)
	c := &clock{t: time.Date(2026, 1, 6, 23, 59, 0, 0, loc)}
	p := params(t, `{"path": "`+dir+`", "base-name": "legal", "time-unit": "day", "count": 1,
		"prerotate": "`+script+`", "postrotate": "`+post+`"}`)
	l, err := Open(p, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ls := []lease.Lease{testLease()}
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: c.now(), Query: relayedRequest(), Leases: ls}
	record(t, l, e)
	first := filepath.Join(dir, "legal.20260106.txt")
	if l.FileName() != first {
		t.Fatalf("file %s, want %s", l.FileName(), first)
	}
	c.set(time.Date(2026, 1, 7, 0, 0, 1, 0, loc))
	e.Time = c.now()
	record(t, l, e)
	second := filepath.Join(dir, "legal.20260107.txt")
	if l.FileName() != second {
		t.Fatalf("after midnight: file %s, want %s", l.FileName(), second)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "2026-01-06 23:59:00 CET Address: 192.2.1.100 has been assigned") {
		t.Errorf("first file: %q", b)
	}
	b, _ = os.ReadFile(second)
	if !strings.HasPrefix(string(b), "2026-01-07 00:00:01 CET Address:") || strings.Count(string(b), "\n") != 1 {
		t.Errorf("second file: %q", b)
	}
	// Kea starts both scripts, without waiting, with the file's name: the
	// closed one for prerotate, the new one for postrotate.
	want := []string{post + " " + second, script + " " + first} // sorted
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		slices.Sort(lines)
		if slices.Equal(lines, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scripts ran as\n%s\nwant\n%s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecondUnitNameAndReuseAfterRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	p := params(t, `{"path": "`+dir+`", "base-name": "kea-legal", "time-unit": "second", "count": 3600}`)
	l, err := Open(p, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "kea-legal.T00000000001700000000.txt")
	if l.FileName() != want {
		t.Fatalf("file %s, want %s", l.FileName(), want)
	}
	l.Close()
	c.set(time.Unix(1_700_000_100, 0))
	l, err = Open(p, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.FileName() != want {
		t.Errorf("a restart within the period opened %s, want %s again", l.FileName(), want)
	}
}

func TestCustomFormatsAndTimestamp(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)}
	p := params(t, `{"path": "`+dir+`",
		"request-parser-format": "'circuit=' + relay4[1].hex + ' remote=' + hexstring(relay4[2].hex, ':') + ' via ' + addrtotext(pkt4.giaddr)",
		"timestamp-format": "%Y%m%dT%H%M%S.%Q"}`)
	l, err := Open(p, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	record(t, l, &hooks.Event{Point: hooks.Leases4Committed, Time: c.now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}})
	b, _ := os.ReadFile(l.FileName())
	if want := "20260304T050607.123.456 circuit=howdy remote=87:f6:79:77:ef via 192.2.16.33\n"; string(b) != want {
		t.Errorf("line %q, want %q", b, want)
	}
}

func TestResponseFormatWrittenAfterReply(t *testing.T) {
	dir := t.TempDir()
	p := params(t, `{"path": "`+dir+`", "response-parser-format": "'yiaddr ' + addrtotext(pkt4.yiaddr)"}`)
	l, err := Open(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}}
	if rec := l.AppendRecord(nil, e); len(rec) != 0 {
		t.Fatalf("a response format was recorded before the reply: %q", rec)
	}
	cmd := &hooks.Event{Point: hooks.LeaseCommand, Command: "lease4-del", Time: time.Now(), Leases: []lease.Lease{testLease()}}
	if rec := l.AppendRecord(nil, cmd); !strings.Contains(string(rec), "Administrator deleted") {
		t.Errorf("a lease command's record is not attached to its commit with a response format: %q", rec)
	}
	resp := relayedRequest()
	copy(resp[16:20], []byte{192, 2, 1, 100})
	e.Response = resp
	l.LeaseEvent(e)
	if b := kept(l); !strings.HasSuffix(b, " yiaddr 192.2.1.100\n") {
		t.Errorf("line %q", b)
	}
}

// kept returns what a kill -9 would leave of l's current file now: its
// bytes and those staged for it.
func kept(l *Log) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := os.ReadFile(l.file.name)
	if s := l.file.stage; s != nil {
		b = append(b, s.bytes(l.file.written, l.file.size)...)
	}
	return string(b)
}

func TestParamsErrors(t *testing.T) {
	for _, js := range []string{
		`{"time-unit": "week"}`, `{"count": -1}`, `{"path": ""}`, `{"base-name": ""}`,
		`{"request-parser-format": "substring("}`, `{"type": "cql"}`,
	} {
		if _, err := ParseParams(json.RawMessage(js)); err == nil {
			t.Errorf("%s accepted", js)
		}
	}
}

func TestCommandEntries(t *testing.T) {
	l := testLease()
	l.ValidLft = 86400
	for cmd, want := range map[string]string{
		"lease4-add":    "Administrator added a lease of address: 192.2.1.100 to a device with hardware address: 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54 for 1 days 0 hrs 0 mins 0 secs",
		"lease4-update": "Administrator updated information on the lease of address: 192.2.1.100 to a device with hardware address: 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54 for 1 days 0 hrs 0 mins 0 secs",
		"lease4-del":    "Administrator deleted the lease for address: 192.2.1.100",
	} {
		if got := string(AppendCommand(nil, cmd, &l)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", cmd, got, want)
		}
	}
}

func TestCachedRenewalsHeldUntilFlush(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}, Cached: true}
	if rec := l.AppendRecord(nil, e); len(rec) != 0 {
		t.Fatal("a cached renewal's record was attached to a commit that does not happen")
	}
	l.LeaseEvent(e)
	l.LeaseEvent(e)
	if b := kept(l); len(b) != 0 {
		t.Fatalf("written before Flush: %q", b)
	}
	// By default Flush writes them (to the stage), and their replies may
	// leave; the file has them after the next sync.
	if tk := l.Flush(); tk != 0 {
		t.Fatalf("Flush gave ticket %d: the replies would wait for a sync", tk)
	}
	if b := kept(l); strings.Count(b, "has been assigned") != 2 {
		t.Errorf("after Flush: %q", b)
	}
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, l)
	if b, _ := os.ReadFile(l.FileName()); strings.Count(string(b), "has been assigned") != 2 {
		t.Errorf("the file after a sync: %q", b)
	}
}

// TestCachedRenewalsSyncedSoon: by default a cached renewal's record is
// written by Flush and synced within syncInterval without anything asking,
// or at once when syncBatch of such records wait.
func TestCachedRenewalsSyncedSoon(t *testing.T) {
	l, err := Open(params(t, `{"path": "`+t.TempDir()+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}, Cached: true}
	l.LeaseEvent(e)
	l.Flush()
	l.mu.Lock()
	written := l.written
	l.mu.Unlock()
	start := time.Now()
	waitTicket(t, l, written)
	if took := time.Since(start); took > syncInterval+500*time.Millisecond {
		t.Errorf("synced after %v, want within %v", took, syncInterval)
	}

	// A batch's worth: the sync is asked for by the flush, not the tick.
	// The syncers are kept busy (each with a request, waiting for a slot
	// the test holds), so that the request stays to be seen.
	for range cap(l.syncSlots) {
		l.syncSlots <- struct{}{}
	}
	for range cap(l.syncSlots) {
		l.wantSync()
		for len(l.syncReq) > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	l.mu.Lock()
	l.unsynced = syncBatch
	l.mu.Unlock()
	l.LeaseEvent(e)
	l.Flush()
	if len(l.syncReq) == 0 {
		t.Error("syncBatch of unsynced records did not ask for a sync")
	}
	for range cap(l.syncSlots) {
		<-l.syncSlots
	}
}

// TestCachedRenewalWriteFailureHoldsReplies: once the log file refuses
// the stage's bytes, Flush cannot write the records and gives a ticket
// (the replies wait, as a lease the store cannot commit is not
// acknowledged), so does another worker's Flush that finds the records
// unwritten, and once the disk works again the records are written and
// the ticket synced.
func TestCachedRenewalWriteFailureHoldsReplies(t *testing.T) {
	l, err := Open(params(t, `{"path": "`+t.TempDir()+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	le := testLease()
	renew := func() {
		le.Addr = le.Addr.Next()
		l.LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{le}, Cached: true})
	}
	l.mu.Lock()
	f := l.file.f
	l.file.f = full // every write fails (ENOSPC)
	l.mu.Unlock()
	renew()
	l.Flush() // staged: the file has not been asked yet
	if err := l.sync(false, true); err == nil {
		t.Fatal("the ticker's sync drained the stage into a full disk")
	}
	renew()
	ticket := l.Flush()
	if ticket == 0 {
		t.Fatal("the write failed, but Flush let the replies leave")
	}
	if tk := l.Flush(); tk < ticket {
		t.Fatalf("a flush with nothing new gave ticket %d while the records of %d are unwritten", tk, ticket)
	}
	time.Sleep(2 * syncInterval)
	if l.Synced() >= ticket {
		t.Fatalf("ticket %d synced with the records unwritten", ticket)
	}
	l.mu.Lock()
	l.file.f = f
	l.mu.Unlock()
	renew()
	if tk := l.Flush(); tk != 0 {
		t.Errorf("the disk works again, but Flush gave ticket %d", tk)
	}
	waitTicket(t, l, ticket)
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, l)
	b, _ := os.ReadFile(l.FileName())
	if strings.Count(string(b), "has been assigned") != 3 || !strings.Contains(string(b), "Address: 192.2.1.101 ") ||
		!strings.Contains(string(b), "Address: 192.2.1.102 ") {
		t.Errorf("file after the failure: %q", b)
	}
	if c := l.Counters(); c.WriteErrors == 0 {
		t.Errorf("counters %+v: the failed writes not counted", c)
	}
}

func TestQuietSubnetsGetNoRecord(t *testing.T) {
	q, err := QuietSubnets(json.RawMessage(`{"Dhcp4": {
		"subnet4": [{"id": 1, "user-context": {"legal-logging": false}}, {"id": 2, "user-context": {"legal-logging": "no"}}, {"id": 3}],
		"shared-networks": [{"user-context": {"legal-logging": false}, "subnet4": [{"id": 4}, {"id": 5, "user-context": {"legal-logging": false}}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]bool{1: true, 5: true}; !maps.Equal(q, want) {
		t.Errorf("quiet subnets %v, want %v (a subnet's own boolean only, as Kea)", q, want)
	}
	l, err := Open(params(t, `{"path": "`+t.TempDir()+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SetQuietSubnets(q)
	quiet, loud := testLease(), testLease()
	loud.SubnetID = 3
	record(t, l, &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Leases: []lease.Lease{quiet}, Deleted: []lease.Lease{loud}})
	b, _ := os.ReadFile(l.FileName())
	if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "has been released") {
		t.Errorf("records %q: want only subnet 3's", b)
	}
}

// A cached renewal's record is formatted without allocating, and with
// durable-before-reply its batch's ticket is durable only after a sync,
// which Flush asks for at once and whose end is notified.
func TestCachedRenewalsDurableBeforeReply(t *testing.T) {
	l, err := Open(params(t, `{"path": "`+t.TempDir()+`", "durable-before-reply": true}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}, Cached: true}
	notified := make(chan struct{}, 100)
	defer l.OnSynced(func() { notified <- struct{}{} })()
	l.LeaseEvent(e)
	ticket := l.Flush()
	if ticket == 0 {
		t.Fatal("no ticket: the replies would not wait")
	}
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no sync notified")
	}
	if l.Synced() < ticket {
		t.Errorf("synced %d < ticket %d after the notification", l.Synced(), ticket)
	}
	if !l.WaitsForReply(true) || l.WaitsForReply(false) {
		t.Error("WaitsForReply: a reused renewal's record is written outside a commit and must be waited for; a committed one's is not")
	}
	if n := testing.AllocsPerRun(100, func() { l.LeaseEvent(e) }); n != 0 {
		t.Errorf("a cached renewal's record allocates %.1f times", n)
	}
	l.Flush()

	d, err := Open(params(t, `{"path": "`+t.TempDir()+`", "durable-before-reply": false}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.LeaseEvent(e)
	if tk := d.Flush(); tk != 0 || !d.WaitsForReply(true) {
		t.Errorf("durable-before-reply false: ticket %d, waits %v (a reused renewal's record is still written before its reply)", tk, d.WaitsForReply(true))
	}
	if b := kept(d); strings.Count(b, "has been assigned") != 1 {
		t.Errorf("durable-before-reply false: the flushed record is not written: %q", b)
	}
}

// TestConcurrentSyncsCoverTheirTickets: with several syncs in flight, a
// reply's ticket counts as synced only once its record was written before
// an fdatasync that has ended; every flusher finds its own record in the
// file as soon as its ticket is synced.
func TestConcurrentSyncsCoverTheirTickets(t *testing.T) {
	l, err := Open(params(t, `{"path": "`+t.TempDir()+`", "durable-before-reply": true}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const flushers, rounds = 4, 25
	var wg sync.WaitGroup
	for g := range flushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wake := make(chan struct{}, 1)
			defer l.OnSynced(func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})()
			for r := range rounds {
				ls := []lease.Lease{testLease()}
				ls[0].Addr = netip.AddrFrom4([4]byte{10, byte(g), 0, byte(r)})
				l.LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Leases: ls, Cached: true})
				ticket := l.Flush()
				if ticket == 0 {
					t.Error("no ticket")
					return
				}
				if r%5 == 0 {
					// The lease store's group commit syncs beside them.
					if err := l.SyncRecords(); err != nil {
						t.Error(err)
						return
					}
				}
				for l.Synced() < ticket {
					select {
					case <-wake:
					case <-time.After(5 * time.Second):
						t.Errorf("ticket %d never synced (synced %d)", ticket, l.Synced())
						return
					}
				}
				// Durable: in the write-ahead file, and in the file or
				// the stage.
				if want := "Address: " + ls[0].Addr.String() + " has been"; !strings.Contains(kept(l), want) {
					t.Errorf("ticket %d synced, but %q is not in the file or the stage", ticket, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.sync(false, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.FileName())
	if n := strings.Count(string(b), "has been assigned"); n != flushers*rounds {
		t.Errorf("%d records in the file, want %d", n, flushers*rounds)
	}
}

// allocated is the bytes of disk the file at name holds.
func allocated(t *testing.T, name string) (size, blocks int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size, st.Blocks * 512
}

// The open file's blocks are allocated ahead of its end, its size staying
// what was written; a rotated or closed file gives the rest back.
func TestFileReservedAheadAndReleased(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 1, 6, 12, 0, 0, 0, time.UTC)}
	l, err := Open(params(t, `{"path": "`+dir+`", "base-name": "legal", "time-unit": "day", "count": 1}`), nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: c.now(), Query: relayedRequest(), Leases: []lease.Lease{testLease()}}
	record(t, l, e)
	first := l.FileName()
	size, blocks := allocated(t, first)
	if size == 0 || size > 1024 || blocks < reserveAhead {
		t.Fatalf("open file: size %d, %d bytes allocated; want one record, %d reserved", size, blocks, reserveAhead)
	}
	c.set(time.Date(2026, 1, 7, 0, 0, 1, 0, time.UTC))
	e.Time = c.now()
	record(t, l, e)
	if size, blocks := allocated(t, first); blocks > 64<<10 {
		t.Errorf("rotated file: size %d, still %d bytes allocated", size, blocks)
	}
	second := l.FileName()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if size, blocks := allocated(t, second); size == 0 || blocks > 64<<10 {
		t.Errorf("closed file: size %d, %d bytes allocated", size, blocks)
	}
}
