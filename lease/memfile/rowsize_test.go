package memfile

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"xdhcp/lease"
)

// TestRowLen: the counted row length is the written one, escapes and
// every column width included.
func TestRowLen(t *testing.T) {
	ls := []lease.Lease{
		{Addr: netip.MustParseAddr("10.0.0.1"), HWAddr: []byte{1}, ValidLft: 1},
		{Addr: netip.MustParseAddr("255.255.255.255"), HWAddr: make([]byte, 20), ClientID: make([]byte, 255),
			ValidLft: 4294967295, CLTT: 1 << 40, SubnetID: 4294967295, FqdnFwd: true, Hostname: "a,b&c\nd\x7f",
			State: 2, UserContext: `{"x": "1,2&3"}`},
		{Addr: netip.MustParseAddr("0.0.0.0"), State: lease.StateDeclined, ValidLft: 10, CLTT: -20},
	}
	for _, l := range ls {
		if got, want := rowLen(&l), len(AppendRow(nil, &l))-1; got != want {
			t.Errorf("%v: rowLen %d, row %d bytes", l.Addr, got, want)
		}
	}
}

// largestLease is a lease whose row is exactly n bytes, padded in its user
// context with commas (each written as a five-byte escape) and letters.
func largestLease(n int) lease.Lease {
	l := lease.Lease{Addr: netip.MustParseAddr("10.0.0.9"), HWAddr: []byte{2, 0, 0, 0, 0, 9},
		ValidLft: 3600, CLTT: 1_700_000_000, SubnetID: 1}
	l.UserContext = `{"p":""}`
	pad := n - rowLen(&l)
	commas := pad / 5
	l.UserContext = `{"p":"` + strings.Repeat(",", commas) + strings.Repeat("x", pad-5*commas) + `"}`
	return l
}

// TestLargestRowRoundTrip: the largest row the loader reads is accepted by
// the writer and comes back after a restart; one byte more is refused at
// commit, so no committed lease is skipped on load.
func TestLargestRowRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases4.csv")
	s := openTest(t, path)
	big := largestLease(maxLineLen)
	if n := len(AppendRow(nil, &big)) - 1; n != maxLineLen {
		t.Fatalf("test lease row is %d bytes, want %d", n, maxLineLen)
	}
	put(t, s, big)
	over := largestLease(maxLineLen + 1)
	over.Addr = netip.MustParseAddr("10.0.0.10")
	err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: over})
	if !errors.Is(err, lease.ErrInvalidLease) || !strings.Contains(err.Error(), "row would be") {
		t.Fatalf("row one byte over the limit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, func(o *Options) { o.MaxRowErrors = 0 })
	got := all(s)
	if len(got) != 1 || got[0].UserContext != big.UserContext || got[0].Addr != big.Addr {
		t.Fatalf("after restart: %d leases", len(got))
	}
}
