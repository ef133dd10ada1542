package legallog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// BenchmarkClosedLoopRenewals is the fast path's closed loop of cached
// renewals over the forensic log alone, on the disk of the test's
// temporary folder: renewals outstanding, taken in receive batches of up
// to 64, each batch's records flushed and its replies held until their
// ticket is synced (none by default: Flush writes them), each reply
// answered at once by a new renewal. It reports renewals/s, the median
// hold and the process's CPU per renewal, for 256 and 2,048 outstanding,
// by default and with durable-before-reply (one sync in flight against
// SyncSlots) (go test -run '^$' -bench ClosedLoop ./hooks/legallog).
func BenchmarkClosedLoopRenewals(b *testing.B) {
	for _, outstanding := range []int{256, 2048} {
		for _, mode := range []struct {
			name    string
			durable bool
			slots   int
		}{{"written", false, SyncSlots}, {"durable/syncs=1", true, 1}, {"durable/syncs=2", true, SyncSlots}} {
			b.Run(fmt.Sprintf("outstanding=%d/%s", outstanding, mode.name), func(b *testing.B) {
				l, err := open(Params{Path: b.TempDir(), BaseName: DefaultBaseName, Count: 1,
					TimestampFormat: DefaultTimestampFormat, DurableBeforeReply: mode.durable}, nil, nil, mode.slots)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				cpu0 := processCPU()
				rate, hold := closedLoop(l, outstanding, b.N)
				b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/renewal")
				b.ReportMetric(rate, "renewals/s")
				b.ReportMetric(float64(hold.Microseconds()), "µs-hold-p50")
			})
		}
	}
}

// processCPU is the process's CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closedLoop runs n renewals through l with outstanding in flight and
// returns the rate and the median time a batch's replies were held.
func closedLoop(l *Log, outstanding, n int) (float64, time.Duration) {
	inbox := make(chan struct{}, outstanding)
	for range outstanding {
		inbox <- struct{}{}
	}
	wake := make(chan struct{}, 1)
	defer l.OnSynced(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})()
	e := &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(),
		Leases: []lease.Lease{testLease()}, Cached: true}
	type held struct {
		ticket uint64
		n      int
		at     time.Time
	}
	var hold []held
	var holds []time.Duration
	done := 0
	start := time.Now()
	for done < n {
		batch := 0
		if len(hold) == 0 {
			<-inbox
			batch++
		} else {
			select {
			case <-inbox:
				batch++
			case <-wake:
			}
		}
		for batch > 0 && batch < 64 && len(inbox) > 0 {
			<-inbox
			batch++
		}
		if batch > 0 {
			for range batch {
				l.LeaseEvent(e)
			}
			hold = append(hold, held{ticket: l.Flush(), n: batch, at: time.Now()})
		}
		synced, k := l.Synced(), 0
		for ; k < len(hold) && hold[k].ticket <= synced; k++ {
			holds = append(holds, time.Since(hold[k].at))
			for range hold[k].n {
				inbox <- struct{}{} // the client renews again at once
			}
			done += hold[k].n
		}
		hold = hold[k:]
	}
	elapsed := time.Since(start)
	if len(holds) == 0 {
		return 0, 0
	}
	slices.Sort(holds)
	return float64(done) / elapsed.Seconds(), holds[len(holds)/2]
}

// BenchmarkCachedRenewalRecords is the forensic log's share of a cached
// renewal on the fast path, by default: each renewal's record formatted
// (LeaseEvent), and one Flush per receive batch of 32, which writes them.
// cpu-ns/renewal is the process's CPU, the log's syncer and ticker
// included (go test -run '^$' -bench CachedRenewalRecords ./hooks/legallog).
func BenchmarkCachedRenewalRecords(b *testing.B) {
	l, e := cachedRenewalLog(b)
	const batch = 32
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for i := range b.N {
		l.LeaseEvent(e)
		if i%batch == batch-1 {
			if l.Flush() != 0 {
				b.Fatal("a flush's replies would wait")
			}
		}
	}
	l.Flush()
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/renewal")
}

// BenchmarkCachedRenewalFormat is the formatting alone of a cached
// renewal's record (Kea's default entry of a relayed client with option
// 82), without the write.
func BenchmarkCachedRenewalFormat(b *testing.B) {
	l, e := cachedRenewalLog(b)
	buf := l.appendEntries(nil, e)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.appendEntries(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

// cachedRenewalLog opens a log with the default parameters in a temporary
// folder (closed when b ends), and gives a cached renewal's event.
func cachedRenewalLog(b *testing.B) (*Log, *hooks.Event) {
	l, err := Open(Params{Path: b.TempDir(), BaseName: DefaultBaseName, Count: 1, TimestampFormat: DefaultTimestampFormat}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l, &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(),
		Leases: []lease.Lease{testLease()}, Cached: true}
}

// BenchmarkPageCacheWrite is what appending to a file costs the kernel
// per byte, whatever writes the bytes: writes of one size to a file in the
// test's temporary folder, with an fdatasync every 16 MiB as the log's
// checkpoints do. It reports the process's CPU per byte written, of the
// writes alone and with the syncs' write-back (go test -run '^$' -bench
// PageCacheWrite ./hooks/legallog). The sizes that are multiples of 16 KiB
// start every write on a 16 KiB boundary, where the kernel can cache the
// new bytes in pages of 16 KiB or more; 15,000 and 10 KiB start most
// writes inside a page, as the log's do, and get single pages.
func BenchmarkPageCacheWrite(b *testing.B) {
	for _, size := range []int{10 << 10, 15000, 16 << 10, 20 << 10, 64 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("write=%dB", size), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "append"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			var writes, syncs time.Duration
			written := 0
			for range b.N {
				c := processCPU()
				if _, err := writeRaw(f, buf); err != nil {
					b.Fatal(err)
				}
				writes += processCPU() - c
				if written += len(buf); written >= 16<<20 {
					c = processCPU()
					if err := fdatasync(f.Fd()); err != nil {
						b.Fatal(err)
					}
					syncs += processCPU() - c
					written = 0
				}
			}
			bytes := float64(b.N) * float64(size)
			b.ReportMetric(float64(writes.Nanoseconds())/bytes, "write-cpu-ns/B")
			b.ReportMetric(float64((writes+syncs).Nanoseconds())/bytes, "cpu-ns/B")
			b.SetBytes(int64(size))
		})
	}
}
