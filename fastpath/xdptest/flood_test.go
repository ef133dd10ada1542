package xdptest

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"xdhcp/bench/loadgen"
)

// TestDiscoverFlood: new clients flood DISCOVERs (through an emulated
// relay, 20,000 a second from up to 200,000 MACs) at several times what a
// deliberately small slow path can take (thread-pool-size 1, a parking lot
// of 16 packets), while 100 bound clients renew 200 times a second in all.
// The parking lot fills, the worker raises the XDP overload level, XDP
// sheds DISCOVERs (xdp-drop-shed-discover), and the renewals, answered from
// the lease cache by the fast path, keep being answered: at least 90% of
// them. The daemon's resident memory stays bounded.
func TestDiscoverFlood(t *testing.T) {
	forModes(t, discoverFlood)
}

func discoverFlood(t *testing.T, e *env) {
	cfg := e.config()
	cfg["cache-threshold"] = 0.5
	cfg["parked-packet-limit"] = 16
	cfg["multi-threading"] = map[string]any{"enable-multi-threading": true, "thread-pool-size": 1, "packet-queue-size": 16}
	cfg["loggers"] = []any{map[string]any{
		"name": "kea-dhcp4", "severity": "WARN",
		"output_options": []any{map[string]any{"output": "stderr"}},
	}}
	x := cfg["xdhcp"].(map[string]any)
	x["overload-high"] = 0.5
	x["overload-low"] = 0.1
	d := e.serve(cfg, quiet)

	const (
		floodRate  = 60000 // well above the slow path's capacity (about 19,000 OFFERs/s under the flood on this 2-core VM)
		renewRate  = 200
		bound      = 100
		runFor     = 3 * time.Second
		rssLimitKB = 256 << 10 // 256 MiB
	)
	subnet := netip.MustParsePrefix(subnetStr)

	// The renewing clients: bound first (unmeasured warm-up), then
	// renewing at renewRate in all, each renewal waited for 500 ms.
	rsock := e.wire()
	warm := &warmupSignal{done: make(chan struct{})}
	renew, err := loadgen.New(loadgen.Config{
		// Outstanding 2 keeps the warm-up well below the overload
		// watermark (8 of the lot's 16 packets), so no DISCOVER is shed.
		Mode: loadgen.Open, Rate: renewRate, Clients: bound, WarmupClients: bound, Outstanding: 2,
		RenewFraction: 1, Count: renewRate * int(runFor/time.Second), Duration: runFor,
		Timeout: 500 * time.Millisecond, Subnet: subnet, MACPrefix: [2]byte{0x02, 0x79},
		Logger: slog.New(warm),
	}, rsock)
	if err != nil {
		t.Fatal(err)
	}
	// The flood: new clients through a relay, whose replies go to port 67
	// and so never reach the renewing clients' socket.
	fsock := e.clientSocket(true)
	flood, err := loadgen.New(loadgen.Config{
		Mode: loadgen.Open, Rate: floodRate, Clients: 200000, Count: floodRate * int(runFor/time.Second),
		Duration: runFor, Timeout: 500 * time.Millisecond, Subnet: subnet,
		Relay: true, RelayAddr: clientAddr.Addr(), ServerAddr: serverAddr.Addr(), ServerMAC: e.pair.ServerMAC,
		MACPrefix: [2]byte{0x02, 0x7a},
	}, fsock)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		wg                 sync.WaitGroup
		renewRep, floodRep *loadgen.Report
		renewErr, floodErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		renewRep, renewErr = renew.Run(ctx)
	}()
	select {
	case <-warm.done:
	case <-ctx.Done():
		t.Fatal("the renewing clients' warm-up did not finish")
	}
	rss0, err := d.RSSKiB()
	if err != nil {
		t.Fatal(err)
	}
	before := d.stats()
	// Sample the RSS while the flood runs: the peak is what must be bounded.
	peak := rss0
	stopRSS := tick(100*time.Millisecond, func() {
		if v, err := d.RSSKiB(); err == nil {
			peak = max(peak, v)
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		floodRep, floodErr = flood.Run(ctx)
	}()
	wg.Wait()
	stopRSS()
	after := d.stats()
	rss1, err := d.RSSKiB()
	if err != nil {
		t.Fatal(err)
	}
	if renewErr != nil || floodErr != nil {
		t.Fatalf("load generators: renew %v, flood %v", renewErr, floodErr)
	}
	if renewRep.Warmup == nil || renewRep.Warmup.Completed < bound {
		t.Fatalf("warm-up bound %+v of %d clients", renewRep.Warmup, bound)
	}

	r := renewRep.Renew
	ended := r.Completed + r.Lost
	share := 0.0
	if ended > 0 {
		share = float64(r.Completed) / float64(ended)
	}
	shed := delta(t, before, after, "xdp-drop-shed-discover")
	discovers := floodRep.Sent.Discover
	pps := float64(discovers) / floodRep.DurationS
	offers := floodRep.Offers
	t.Logf("%s: flood %d DISCOVERs in %.1f s (%.0f/s offered), %d OFFERs (%.0f/s: the slow path's capacity under the flood), %d DORA completed; "+
		"xdp-drop-shed-discover +%d, fastpath-handoffs +%d, xdhcp-pkt4-queue-full-drop +%d, overload level at the end %d",
		e.mode, discovers, floodRep.DurationS, pps, offers, float64(offers)/floodRep.DurationS, floodRep.DORA.Completed,
		shed, delta(t, before, after, "fastpath-handoffs"), delta(t, before, after, "xdhcp-pkt4-queue-full-drop"), after["fastpath-overload-level"])
	t.Logf("%s: renewals during the flood: %d answered of %d ended (%.1f%%), %d lost, p50 %.2f ms p99 %.2f ms, fastpath-cache-hits +%d",
		e.mode, r.Completed, ended, 100*share, r.Lost, r.Latency.P50Ms, r.Latency.P99Ms, delta(t, before, after, "fastpath-cache-hits"))
	t.Logf("%s: xdhcpd RSS %d KiB before, peak %d KiB, %d KiB after", e.mode, rss0, peak, rss1)

	if ended < uint64(renewRate*runFor/time.Second)/2 {
		t.Errorf("only %d renewals ended: the renewing clients did not run (report %+v)", ended, r)
	}
	if share < 0.9 {
		t.Errorf("renewals answered during the flood: %.1f%%, want >= 90%%", 100*share)
	}
	if renewRep.Wrong > 0 {
		t.Errorf("renewing clients got %d wrong replies: %v", renewRep.Wrong, renewRep.WrongReasons)
	}
	if shed == 0 {
		t.Errorf("xdp-drop-shed-discover did not grow: the overload level never engaged (offered %.0f/s, %d OFFERs)", pps, offers)
	}
	if float64(offers) > float64(discovers)/2 {
		t.Errorf("the flood was not above capacity: %d OFFERs for %d DISCOVERs", offers, discovers)
	}
	if peak > rssLimitKB {
		t.Errorf("xdhcpd peak RSS %d KiB, want < %d KiB", peak, rssLimitKB)
	}
}

// warmupSignal is a slog.Handler that closes done when the generator logs
// the end of its warm-up, so the flood starts on bound clients.
type warmupSignal struct {
	once sync.Once
	done chan struct{}
}

func (w *warmupSignal) Enabled(context.Context, slog.Level) bool { return true }

func (w *warmupSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "warm-up done" {
		w.once.Do(func() { close(w.done) })
	}
	return nil
}

func (w *warmupSignal) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warmupSignal) WithGroup(string) slog.Handler      { return w }
