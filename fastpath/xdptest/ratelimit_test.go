package xdptest

import (
	"context"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
)

// TestRateLimit: with rate-limit {rate 5, burst 5}, a broken client that
// renews 50 times a second for 2 s (100 REQUESTs) gets about burst + 2 s x
// rate through; the rest is dropped in XDP and counted in
// xdp-drop-rate-limited. A well-behaved client renewing meanwhile is served
// every time: the buckets are per client.
func TestRateLimit(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		cfg := e.config()
		cfg["xdhcp"].(map[string]any)["rate-limit"] = map[string]any{"rate": 5, "burst": 5}
		d := e.serve(cfg)

		broken := testMAC(3, 1)
		bl := dora(t, e.nclient(broken))
		good := e.nclient(testMAC(3, 2))
		gl := dora(t, good)
		// Let both buckets fill up again.
		time.Sleep(1100 * time.Millisecond)

		w := e.wire()
		rc := countReplies(w)
		before := d.stats()

		const rate, dur = 50, 2 * time.Second
		total := int(rate * dur / time.Second)
		goodErr := make(chan error, 1)
		goodRenewals := 0
		go func() {
			// The good client renews every 300 ms during the storm:
			// under its own rate of 5/s.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 6 {
				if _, err := good.Renew(ctx, gl, daemontest.FreshXID()); err != nil {
					goodErr <- err
					return
				}
				goodRenewals++
				time.Sleep(300 * time.Millisecond)
			}
			goodErr <- nil
		}()
		tick := time.NewTicker(time.Second / rate)
		for range total {
			<-tick.C
			req, err := dhcpv4.NewRenewFromAck(bl.ACK)
			if err != nil {
				t.Fatal(err)
			}
			send(t, w, ethFrame(t, req, e.pair.ServerMAC))
		}
		tick.Stop()
		if err := <-goodErr; err != nil {
			t.Errorf("well-behaved client: renewal %d failed during the storm: %v", goodRenewals+1, err)
		}
		time.Sleep(300 * time.Millisecond)
		rc.close()
		after := d.stats()

		limited := delta(t, before, after, "xdp-drop-rate-limited")
		acks := rc.get(broken, dhcpv4.MessageTypeAck)
		// Allowed through: the burst plus the rate over the storm,
		// with one token of slack for timing at either end.
		maxPass := 5 + int(5*dur/time.Second) + 2
		if limited < int64(total-maxPass) || limited > int64(total-5) {
			t.Errorf("xdp-drop-rate-limited grew by %d of %d renewals, want %d..%d", limited, total, total-maxPass, total-5)
		}
		if acks < 5 || acks > maxPass {
			t.Errorf("broken client got %d ACKs for %d renewals, want 5..%d (burst + rate)", acks, total, maxPass)
		}
		if got := limited + int64(acks); got > int64(total) {
			t.Errorf("rate-limited %d + answered %d > sent %d", limited, acks, total)
		}
		t.Logf("%s: broken client sent %d renewals at %d/s: %d cut in XDP, %d answered; well-behaved client: %d/6 renewals answered",
			e.mode, total, rate, limited, acks, goodRenewals)
	})
}
