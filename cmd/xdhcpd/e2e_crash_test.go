package main

// Crash safety: an ACK leaves only after its lease is on disk, so killing
// the daemon with SIGKILL under load loses no lease a client was given.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// ackRecorder runs DORAs with fresh MACs one after another and records
// every address it was ACKed, with the MAC it was ACKed to.
type ackRecorder struct {
	e *e2eEnv

	mu     sync.Mutex
	acked  map[string]string // address -> MAC
	dup    []string          // addresses ACKed to two different MACs
	n      int               // ACKs so far
	tried  int
	failed int
}

func (r *ackRecorder) run(ctx context.Context, id int) {
	for i := 0; ctx.Err() == nil; i++ {
		m := mac(byte(0x70+id), i)
		var c *nclient4.Client
		err := r.e.cli.Do(func() error {
			var err error
			c, err = nclient4.New(e2eClientIf, nclient4.WithHWAddr(m),
				nclient4.WithTimeout(300*time.Millisecond), nclient4.WithRetry(2))
			return err
		})
		if err != nil {
			r.e.t.Errorf("recorder client: %v", err)
			return
		}
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := c.Request(dctx)
		cancel()
		c.Close()
		r.mu.Lock()
		r.tried++
		if err != nil {
			r.failed++ // the daemon was down, or killed mid-exchange
		} else {
			ip := l.ACK.YourIPAddr.String()
			if prev, ok := r.acked[ip]; ok && prev != m.String() {
				r.dup = append(r.dup, ip+" to "+prev+" and "+m.String())
			}
			r.acked[ip] = m.String()
			r.n++
		}
		r.mu.Unlock()
	}
}

func (r *ackRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// waitACKs waits until the recorder has n ACKs in total.
func (r *ackRecorder) waitACKs(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	if !poll(timeout, func() bool { return r.count() >= n }) {
		t.Fatalf("recorder: %d ACKs after %v, want %d", r.count(), timeout, n)
	}
}

func TestE2EKill9LosesNoAckedLease(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	e := newEnv(t)
	d := e.startDaemon(e.bigPoolConfig())

	// Background load from perfdhcp (as a relay); its own results are not
	// judged here since the server is down part of the time.
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	perf := e.cli.Command(pctx, pd, "-4", "-l", e2eClientIP, "-R", "100000", "-r", "150", "-p", "20", e2eServerIP)
	if err := e.cli.Start(perf); err != nil {
		t.Fatal(err)
	}
	perfDone := make(chan struct{})
	go func() { perf.Wait(); close(perfDone) }()
	defer func() {
		_ = perf.Process.Kill()
		<-perfDone
	}()

	rec := &ackRecorder{e: e, acked: map[string]string{}}
	rctx, rcancel := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	// Several recorders, so that some exchanges are always in flight when
	// the kill comes.
	var wg sync.WaitGroup
	for id := 0; id < 4; id++ {
		wg.Add(1)
		go func() { defer wg.Done(); rec.run(rctx, id) }()
	}
	go func() { wg.Wait(); close(recDone) }()
	stopRec := func() {
		rcancel()
		<-recDone
	}
	defer stopRec()

	const kills = 3
	for k := 0; k < kills; k++ {
		// Let both clients get leases from this incarnation, then kill it
		// in the middle of the traffic.
		rec.waitACKs(t, rec.count()+20, 10*time.Second)
		time.Sleep(time.Duration(100+k*70) * time.Millisecond)
		d.kill9()
		t.Logf("kill %d: %d ACKs recorded so far", k+1, rec.count())
		time.Sleep(200 * time.Millisecond)
		d.restart()
	}
	rec.waitACKs(t, rec.count()+10, 10*time.Second)
	stopRec()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	t.Logf("recorder: %d DORAs, %d ACKed, %d failed (daemon down)", rec.tried, rec.n, rec.failed)
	for _, s := range rec.dup {
		t.Errorf("address ACKed to two clients: %s", s)
	}
	lost := 0
	for ip, hw := range rec.acked {
		l, ok := d.lease(ip)
		if !ok || l.HWAddress != hw || l.State != 0 {
			lost++
			if lost <= 5 {
				t.Errorf("ACKed lease %s -> %s after %d kills: lease4-get found=%v %+v", ip, hw, kills, ok, l)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d ACKed leases lost or wrong", lost, len(rec.acked))
	}
	// The lease file agrees: every ACKed address is live in it with its MAC.
	live := liveCSV(readCSV(t, e.leasePath()))
	for ip, hw := range rec.acked {
		if r, ok := live[ip]; !ok || r.HWAddr != hw {
			t.Errorf("lease file: ACKed %s -> %s is %+v (present %v)", ip, hw, r, ok)
			break
		}
	}
}
