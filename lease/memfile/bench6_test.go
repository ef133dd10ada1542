package memfile

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"xdhcp/lease"
)

func benchLease6(i int) lease.Lease6 {
	a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	return lease.Lease6{Addr: a, Type: lease.TypeNA, PrefixLen: 128,
		DUID: []byte{0, 1, 0, 1, 0x2a, 0xbb, 0xcc, 0xdd, 0, 0x16, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)},
		IAID: 1, PreferredLft: 3000, ValidLft: 4000, CLTT: 1700000000, SubnetID: 1}
}

// BenchmarkStore6Commit: durable commits from 64 concurrent clients, as
// the engine makes them (one address and one prefix per client).
func BenchmarkStore6Commit(b *testing.B) {
	s, err := Open6(Options{Path: filepath.Join(b.TempDir(), "l6.csv"), Persist: true, Sync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				na, pd := benchLease6(i), benchLease6(i)
				pd.Type, pd.PrefixLen = lease.TypePD, 56
				pd.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x80 | byte(i>>16), byte(i >> 8), byte(i)})
				if err := s.Commit(context.Background(), lease.Op6{Kind: lease.OpPut, Lease: na},
					lease.Op6{Kind: lease.OpPut, Lease: pd}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	b.ResetTimer()
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(s.Stats().Syncs)/float64(b.N), "syncs/op")
}

// BenchmarkLoad6: loading a lease file of 100,000 leases.
func BenchmarkLoad6(b *testing.B) {
	path := filepath.Join(b.TempDir(), "l6.csv")
	s, err := Open6(Options{Path: path, Persist: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100000
	ops := make([]lease.Op6, 0, 1000)
	for i := range n {
		ops = append(ops, lease.Op6{Kind: lease.OpPut, Lease: benchLease6(i * 7919 % (1 << 24))})
		if len(ops) == cap(ops) {
			if err := s.Commit(context.Background(), ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	s.Close()
	b.ResetTimer()
	for range b.N {
		s, err := Open6(Options{Path: path, Persist: true})
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != n {
			b.Fatal(fmt.Sprint("loaded ", s.Len()))
		}
		s.Close()
	}
}

// TestMemoryPerLease6 measures the DHCPv6 index's heap cost per lease
// (a 14-byte DUID-LLT each): about 200 bytes.
func TestMemoryPerLease6(t *testing.T) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := Open6(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]lease.Op6, 0, 4096)
	for i := range n {
		ops = append(ops, lease.Op6{Kind: lease.OpPut, Lease: benchLease6(i)})
		if len(ops) == cap(ops) || i == n-1 {
			if err := s.Commit(context.Background(), ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	ops = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d DHCPv6 leases: %.0f bytes/lease heap", n, per)
	if s.Len() != n {
		t.Fatalf("Len %d", s.Len())
	}
	if per > 300 {
		t.Errorf("%.0f bytes per lease, target 300", per)
	}
	runtime.KeepAlive(s)
}

// BenchmarkAppendRow6: encoding one DHCPv6 lease as a lease-file row, as
// the group commit does for every lease it writes.
func BenchmarkAppendRow6(b *testing.B) {
	l := benchLease6(123456)
	l.HWAddr, l.HWType, l.HWAddrSource = []byte{0x0a, 0, 0, 1, 0xe2, 0x40}, 1, 1
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRow6(buf[:0], &l)
	}
}
