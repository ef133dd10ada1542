package legallog

import (
	"fmt"
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
