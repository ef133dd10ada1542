package legallog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/dhcp6"
	"xdhcp/hooks"
	"xdhcp/lease"
)

// rowsDB is a RowWriter in memory that fails while fail is set.
type rowsDB struct {
	mu           sync.Mutex
	addrs, texts []string
	calls        int
	fail         bool
}

func (d *rowsDB) WriteLogs(_ context.Context, addrs, texts []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.fail {
		return errors.New("connection refused")
	}
	d.addrs = append(d.addrs, addrs...)
	d.texts = append(d.texts, texts...)
	return nil
}

func (d *rowsDB) rows() (addrs, texts []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...), append([]string(nil), d.texts...)
}

func openDB(t *testing.T, js string, db *rowsDB) *Log {
	t.Helper()
	p := params(t, js)
	if !p.IsDatabase() {
		t.Fatalf("type %q is not a database", p.Type)
	}
	l, err := OpenDB(p, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestDatabaseRows: a lease commit's record, a lease command's and a
// release's are rows of Kea's logs table: the address, and Kea's entry
// without its timestamp, one transaction per sync.
func TestDatabaseRows(t *testing.T) {
	db := &rowsDB{}
	l := openDB(t, `{"type": "postgresql", "name": "kea"}`, db)
	le := testLease()
	record(t, l, &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{le}})
	cmd := le
	cmd.Addr = cmd.Addr.Next()
	record(t, l, &hooks.Event{Point: hooks.LeaseCommand, Command: "lease4-add", Time: time.Now(), Leases: []lease.Lease{cmd}})
	record(t, l, &hooks.Event{Point: hooks.Lease4Release, Time: time.Now(), Leases: []lease.Lease{le}})
	addrs, texts := db.rows()
	if len(addrs) != 3 {
		t.Fatalf("rows %q %q, want 3", addrs, texts)
	}
	want := []struct{ addr, text string }{
		{"192.2.1.100", "Address: 192.2.1.100 has been assigned for 1 hrs 52 mins 15 secs to a device with hardware address: hwtype=1 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54 connected via relay at address: 192.2.16.33, identified by circuit-id: 68:6f:77:64:79 (howdy) and remote-id: 87:f6:79:77:ef"},
		{"192.2.1.101", "Administrator added a lease of address: 192.2.1.101"},
		{"192.2.1.100", "Address: 192.2.1.100 has been released from a device with hardware address: hwtype=1 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54"},
	}
	for i, w := range want {
		if addrs[i] != w.addr || !strings.HasPrefix(texts[i], w.text) {
			t.Errorf("row %d: %q %q\nwant %q %q…", i, addrs[i], texts[i], w.addr, w.text)
		}
	}
	if c := l.Counters(); c.Records != 3 || c.WriteErrors != 0 {
		t.Errorf("counters %+v", c)
	}
}

// TestDatabaseCachedRenewalsAndOutage: a cached renewal's ticket is synced
// once its row is committed; while the database fails, rows wait (in
// order) and the ticket with them, and the next sync writes them.
func TestDatabaseCachedRenewalsAndOutage(t *testing.T) {
	db := &rowsDB{}
	l := openDB(t, `{"type": "mysql", "name": "kea"}`, db)
	le := testLease()
	renew := func() uint64 {
		le.Addr = le.Addr.Next()
		l.LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Leases: []lease.Lease{le}, Cached: true})
		return l.Flush()
	}
	ticket := renew()
	waitTicket(t, l, ticket)
	if addrs, _ := db.rows(); len(addrs) != 1 || addrs[0] != "192.2.1.101" {
		t.Fatalf("rows %q after the cached renewal's sync", addrs)
	}

	db.mu.Lock()
	db.fail = true
	db.mu.Unlock()
	t1, t2 := renew(), renew()
	time.Sleep(50 * time.Millisecond)
	if l.Synced() >= t1 {
		t.Fatalf("ticket %d synced (%d) with the database down", t1, l.Synced())
	}
	if err := l.SyncRecords(); err == nil {
		t.Error("SyncRecords with the database down: no error")
	}
	db.mu.Lock()
	db.fail = false
	db.mu.Unlock()
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	waitTicket(t, l, t2)
	if addrs, _ := db.rows(); strings.Join(addrs, " ") != "192.2.1.101 192.2.1.102 192.2.1.103" {
		t.Errorf("rows %q after the outage, want the three in order", addrs)
	}
	if c := l.Counters(); c.WriteErrors == 0 {
		t.Errorf("counters %+v: the failed transactions not counted", c)
	}
}

func waitTicket(t *testing.T, l *Log, ticket uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Synced() < ticket {
		if time.Now().After(deadline) {
			t.Fatalf("ticket %d not synced (at %d)", ticket, l.Synced())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDatabaseRows6: the DHCPv6 log's rows name the address, or the
// delegated prefix's address, beside Kea's entry; a multi-line text (a
// custom format with a newline) is one row, as Kea inserts it.
func TestDatabaseRows6(t *testing.T) {
	p6, err := ParseParams6([]byte(`{"type": "postgresql", "name": "kea", "request-parser-format": "'line one' + 0x0a + 'line two'"}`))
	if err != nil {
		t.Fatal(err)
	}
	db := &rowsDB{}
	l, err := OpenDB6(p6, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	na, pd := testLeases6()
	b := l.AppendRecord6(nil, &hooks.Event6{Point: hooks.Leases6Committed, Time: time.Now(), Query: relayedReply6(dhcp6.Request),
		Leases: []lease.Lease6{na, pd}})
	if err := l.WriteRecords(b); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	addrs, texts := db.rows()
	if strings.Join(addrs, " ") != na.Addr.String()+" "+pd.Addr.String() {
		t.Errorf("addresses %q, want the address and the prefix's", addrs)
	}
	for i, text := range texts {
		if text != "line one\nline two" {
			t.Errorf("row %d text %q", i, text)
		}
	}
}
