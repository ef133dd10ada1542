package slowpath

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/hooks"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// eventLog records what the engine tells of lease events and formats a
// record per event as "point addr\n".
type eventLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *eventLog) LeaseEvent(e *hooks.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := e.Point.String()
	for _, x := range e.Leases {
		s += " +" + x.Addr.String()
	}
	for _, x := range e.Deleted {
		s += " -" + x.Addr.String()
	}
	if e.Response != nil {
		s += " reply"
	}
	if e.Reused {
		s += " reused"
	}
	l.seen = append(l.seen, s)
}

func (l *eventLog) AppendRecord(dst []byte, e *hooks.Event) []byte {
	return fmt.Appendf(dst, "%s %s\n", e.Point, e.Leases[0].Addr)
}

func (l *eventLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.seen, "; ")
	l.seen = nil
	return s
}

// recordStore keeps the records of the ops committed.
type recordStore struct {
	*memfile.Store
	mu   sync.Mutex
	recs []string
}

func (r *recordStore) CommitAsync(ops []lease.Op, done func(error)) {
	r.note(ops)
	r.Store.CommitAsync(ops, done)
}

func (r *recordStore) note(ops []lease.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range ops {
		if op.Record != nil {
			r.recs = append(r.recs, strings.TrimSpace(string(op.Record)))
		}
	}
}

func (r *recordStore) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.recs, "; ")
	r.recs = nil
	return s
}

func TestLeaseEvents(t *testing.T) {
	ev := &eventLog{}
	st := &recordStore{Store: openStore(t, memfile.Options{Persist: false})}
	h := &harness{t: t, reg: stats.New(20, 0), out: &capture{}, now: time.Unix(1_800_000_000, 0)}
	h.store = &countingStore{Store: st.Store}
	h.srv = newTestServer(t, testConfig, Deps{Store: st, Stats: h.reg, Now: func() time.Time { return h.now },
		Recorder: ev, Events: ev})

	ack := h.dora("00:11:22:33:44:55")
	ip := ack.YourIPAddr.String()
	if got, want := ev.take(), "lease4_offer +"+ip+" reply; leases4_committed +"+ip+" reply"; got != want {
		t.Errorf("DORA told\n %s\nwant\n %s", got, want)
	}
	if got, want := st.take(), "leases4_committed "+ip; got != want {
		t.Errorf("DORA records %q, want %q", got, want)
	}

	h.one(renew("00:11:22:33:44:55", netip.MustParseAddr(ip)))
	if got, want := ev.take(), "lease4_renew +"+ip+" reply; leases4_committed +"+ip+" reply"; got != want {
		t.Errorf("renewal told\n %s\nwant\n %s", got, want)
	}
	if got := st.take(); got != "leases4_committed "+ip {
		t.Errorf("renewal records %q", got)
	}

	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	h.exchange(rel)
	if got, want := ev.take(), "lease4_release +"+ip+"; leases4_committed -"+ip; got != want {
		t.Errorf("release told\n %s\nwant\n %s", got, want)
	}
	if got := st.take(); got != "lease4_release "+ip {
		t.Errorf("release records %q", got)
	}

	ack = h.dora("00:11:22:33:44:77")
	ip = ack.YourIPAddr.String()
	ev.take()
	st.take()
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:77")), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.1"))))
	h.exchange(dec)
	if got, want := ev.take(), "lease4_decline +"+ip+"; leases4_committed +"+ip; got != want {
		t.Errorf("decline told\n %s\nwant\n %s", got, want)
	}
	if got := st.take(); got != "lease4_decline "+ip {
		t.Errorf("decline records %q", got)
	}

	// Expiry: the first lease of the second client is gone (declined);
	// a third lease expires, the declined one comes back from probation.
	ack = h.dora("00:11:22:33:44:99")
	third := ack.YourIPAddr.String()
	ev.take()
	h.now = h.now.Add(100 * 24 * time.Hour)
	if _, err := h.srv.Reclaim(false); err != nil {
		t.Fatal(err)
	}
	got := ev.take()
	for _, want := range []string{"lease4_expire +" + third, "lease4_recover +" + ip} {
		if !strings.Contains(got, want) {
			t.Errorf("reclamation told %q, lacks %q", got, want)
		}
	}
}

// pickyLog is an eventLog that handles some points only (hooks.Interest).
type pickyLog struct {
	eventLog
	points []hooks.Point
}

func (l *pickyLog) Wants(p hooks.Point) bool { return slices.Contains(l.points, p) }

// The engine builds no event of a point no listener handles; the events
// it tells carry the server's clock.
func TestLeaseEventsOnlyWanted(t *testing.T) {
	ev := &pickyLog{points: []hooks.Point{hooks.Leases4Committed}}
	st := &recordStore{Store: openStore(t, memfile.Options{Persist: false})}
	h := &harness{t: t, reg: stats.New(20, 0), out: &capture{}, now: time.Unix(1_800_000_000, 0)}
	h.store = &countingStore{Store: st.Store}
	var times []time.Time
	h.srv = newTestServer(t, testConfig, Deps{Store: st, Stats: h.reg, Now: func() time.Time { return h.now },
		Events: hooks.Listeners{ev, listenerFunc(func(e *hooks.Event) { times = append(times, e.Time) })}})
	ack := h.dora("00:11:22:33:44:55")
	ip := ack.YourIPAddr.String()
	if got, want := ev.take(), "lease4_offer +"+ip+" reply; leases4_committed +"+ip+" reply"; got != want {
		t.Errorf("DORA told %q, want %q (another listener handles offers)", got, want)
	}
	if len(times) != 2 || !times[1].Equal(h.now) {
		t.Errorf("events at %v, want the offer's and the commit's, at %v", times, h.now)
	}

	// With no listener that handles offers, none is built at all.
	only := &pickyLog{points: []hooks.Point{hooks.Leases4Committed}}
	h.srv = newTestServer(t, testConfig, Deps{Store: st, Stats: h.reg, Now: func() time.Time { return h.now }, Events: only})
	if h.srv.tells(hooks.Lease4Offer) || !h.srv.tells(hooks.Leases4Committed) || h.srv.tells(hooks.Lease4Renew) {
		t.Errorf("told points %v", h.srv.wanted)
	}
	ack = h.dora("00:11:22:33:44:66")
	if got, want := only.take(), "leases4_committed +"+ack.YourIPAddr.String()+" reply"; got != want {
		t.Errorf("DORA told %q, want %q", got, want)
	}
}

// listenerFunc is a hooks.Listener of every point.
type listenerFunc func(e *hooks.Event)

func (f listenerFunc) LeaseEvent(e *hooks.Event) { f(e) }
