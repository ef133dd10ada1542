package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/leasecmd"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath"
)

type memLeases struct{}

func (memLeases) Get(netip.Addr) (lease.Lease, bool) { return lease.Lease{}, false }

type nopApplier struct{}

func (nopApplier) ApplyPartnerLease(context.Context, lease.Lease) error { return nil }

// node is one xdhcp server for pair tests: the real slow path's lease and
// dhcp-disable/enable commands (control/leasecmd), an HA service, and the
// HA dedicated listener's HTTP handler on a loopback port.
type node struct {
	t     *testing.T
	name  string
	ln    net.Listener
	hs    *http.Server
	ctl   *control.Server
	store *memfile.Store
	srv   *slowpath.Server
	svc   *Service
	stop  context.CancelFunc
}

const dhcp4Doc = `{"Dhcp4": {
  "lease-database": {"type": "memfile", "persist": false},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.0.0.0/20", "pools": [{"pool": "10.0.0.10 - 10.0.15.250"}]}]
}}`

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// haParams renders a two-peer relationship for name.
func haParams(name, mode string, addr1, addr2 string, extra string) string {
	role2 := "standby"
	if mode == "load-balancing" {
		role2 = "secondary"
	}
	return fmt.Sprintf(`{"high-availability": [{"this-server-name": %q, "mode": %q,
  "heartbeat-delay": 50, "max-response-delay": 400, "max-ack-delay": 1000, "max-unacked-clients": 0 %s,
  "peers": [{"name": "server1", "url": "http://%s/", "role": "primary"},
            {"name": "server2", "url": "http://%s/", "role": %q}]}]}`, name, mode, extra, addr1, addr2, role2)
}

// tapFunc sees every request a node receives (its command name and the
// request) before it is served.
type tapFunc func(cmd string, r *http.Request)

func newNode(t *testing.T, name string, ln net.Listener, params string, leases []lease.Lease, taps ...tapFunc) *node {
	t.Helper()
	return newNodeOpts(t, name, ln, params, memfile.Options{}, leases, taps...)
}

// newNodeOpts is newNode with the lease store opened with opts.
func newNodeOpts(t *testing.T, name string, ln net.Listener, params string, opts memfile.Options, leases []lease.Lease, taps ...tapFunc) *node {
	t.Helper()
	return newNodeClock(t, name, ln, params, opts, nil, leases, taps...)
}

// newNodeClock is newNodeOpts with the HA service reading the clock now
// (time.Now when nil).
func newNodeClock(t *testing.T, name string, ln net.Listener, params string, opts memfile.Options, now func() time.Time, leases []lease.Lease, taps ...tapFunc) *node {
	t.Helper()
	cfg, err := config.Parse([]byte(dhcp4Doc))
	if err != nil {
		t.Fatal(err)
	}
	store, err := memfile.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) > 0 {
		ops := make([]lease.Op, len(leases))
		for i, l := range leases {
			ops[i] = lease.Op{Kind: lease.OpPut, Lease: l}
		}
		if err := store.Commit(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := slowpath.New(cfg, slowpath.Deps{Store: store, Stats: stats.New(20, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ctl := control.NewServer(nil)
	cmds := leasecmd.New(srv, store)
	cmds.Register(ctl)
	hc, err := Parse([]byte(params), 1)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(hc, Deps{Leases: store, Apply: cmds, Network: srv.Network,
		Log: testLogger(t).With("node", name), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	svc.RegisterCommands(ctl)
	n := &node{t: t, name: name, ln: ln, ctl: ctl, store: store, srv: srv, svc: svc}
	h := Handler(ctl, Access{})
	n.hs = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(taps) > 0 {
			body, _ := io.ReadAll(r.Body)
			var c struct {
				Command string `json:"command"`
			}
			_ = json.Unmarshal(body, &c)
			for _, tap := range taps {
				tap(c.Command, r)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = n.hs.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	svc.Start(ctx)
	t.Cleanup(n.close)
	return n
}

// close stops the node like a crash would: the listener goes away.
func (n *node) close() {
	n.stop()
	_ = n.hs.Close()
	_ = n.svc.Close()
	_ = n.store.Close()
	_ = n.ctl.Close()
}

func (n *node) rel() *Relationship { return n.svc.rels[0] }

// waitState waits until the node's relationship is in want.
func waitState(t *testing.T, n *node, want State, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if n.rel().State() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: state %s, want %s (partner %s)", n.name, n.rel().State(), want, n.rel().PartnerState())
}

func testLease(i int, cltt int64) lease.Lease {
	a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	return lease.Lease{Addr: a, HWAddr: []byte{0xaa, 0, 0, 0, byte(i >> 8), byte(i)}, ValidLft: 3600,
		CLTT: cltt, SubnetID: 1}
}

func TestHotStandbyPair(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	now := time.Now().Unix()
	n1 := newNode(t, "server1", ln1, haParams("server1", "hot-standby", a1, a2, ""), []lease.Lease{testLease(100, now-10)})
	n2 := newNode(t, "server2", ln2, haParams("server2", "hot-standby", a1, a2, ""), nil)

	// Cold start: both waiting → the primary syncs → ready → hot-standby.
	waitState(t, n1, StateHotStandby, 5*time.Second)
	waitState(t, n2, StateHotStandby, 5*time.Second)
	if _, ok := n2.store.Get(testLease(100, 0).Addr); !ok {
		t.Error("standby did not sync the primary's lease")
	}
	if !n1.srv.Network.Enabled() || !n2.srv.Network.Enabled() {
		t.Errorf("DHCP enabled: primary %v standby %v (the standby's service is on, only its scopes are empty)",
			n1.srv.Network.Enabled(), n2.srv.Network.Enabled())
	}
	if sc := n1.rel().Scopes(); len(sc) != 1 || sc[0] != "server1" {
		t.Errorf("primary scopes %v", sc)
	}
	if sc := n2.rel().Scopes(); len(sc) != 0 {
		t.Errorf("standby scopes %v", sc)
	}

	// A lease update and a delete reach the standby before Replicate returns.
	l := testLease(200, now)
	if err := n1.store.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
		t.Fatal(err)
	}
	if err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: l}}); err != nil {
		t.Fatal(err)
	}
	got, ok := n2.store.Get(l.Addr)
	if !ok || got.CLTT != l.CLTT || got.ValidLft != l.ValidLft || string(got.HWAddr) != string(l.HWAddr) {
		t.Fatalf("standby lease %+v %v, want %+v", got, ok, l)
	}
	if err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpDelete, Lease: l}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := n2.store.Get(l.Addr); ok {
		t.Fatal("delete not replicated")
	}
	// Deleting an absent lease answers 3, which is success.
	if err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpDelete, Lease: l}}); err != nil {
		t.Fatalf("result 3 treated as failure: %v", err)
	}
	// A lease the partner rejects (unknown subnet) fails the update: the
	// reply must be withheld.
	bad := testLease(300, now)
	bad.SubnetID = 7
	if err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: bad}}); !errors.Is(err, ErrUpdateFailed) {
		t.Fatalf("rejected update: err %v", err)
	}
	// Kea 2.2 marks the partner unavailable; the next heartbeat restores it.
	waitState(t, n1, StateHotStandby, 2*time.Second)

	// Heartbeat answers as Kea's.
	hb := n2.ctl.Dispatch(context.Background(), []byte(`{"command": "ha-heartbeat", "service": ["dhcp4"]}`), "127.0.0.1:1", "")
	args := hb.Arguments.(heartbeatArgs)
	if hb.Result != 0 || hb.Text != "HA peer status returned." || args.State != "hot-standby" || len(args.Scopes) != 0 {
		t.Errorf("heartbeat answer %+v", hb)
	}

	// The primary stops: the standby analyses traffic; with
	// max-unacked-clients 0 it goes partner-down once interrupted.
	n1.close()
	waitState(t, n2, StatePartnerDown, 3*time.Second)
	if sc := n2.rel().Scopes(); len(sc) != 1 || sc[0] != "server1" {
		t.Errorf("partner-down scopes %v", sc)
	}
	if !n2.srv.Network.Enabled() {
		t.Error("partner-down must serve")
	}
	// Updates in partner-down are counted, not sent.
	if err := n2.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: testLease(400, now)}}); err != nil {
		t.Fatal(err)
	}
	if got := n2.rel().unsent.Load(); got != 1 {
		t.Errorf("unsent %d", got)
	}
	st := n2.svc.Status()[0]["ha-servers"].(map[string]any)
	if st["local"].(map[string]any)["state"] != "partner-down" || st["remote"].(map[string]any)["last-state"] != "unavailable" {
		t.Errorf("status %v", st)
	}
	// While partner-down the survivor's new lease exists only there; the
	// returning primary must sync it.
	if err := n2.store.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(400, now)}); err != nil {
		t.Fatal(err)
	}
	ln1b, err := net.Listen("tcp", a1)
	if err != nil {
		t.Fatal(err)
	}
	n1b := newNode(t, "server1b", ln1b, haParams("server1", "hot-standby", a1, a2, ""), nil)
	waitState(t, n1b, StateHotStandby, 5*time.Second)
	waitState(t, n2, StateHotStandby, 5*time.Second)
	if _, ok := n1b.store.Get(testLease(400, 0).Addr); !ok {
		t.Error("returning primary did not sync the lease made while it was down")
	}
}

func TestSyncPaged(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	now := time.Now().Unix()
	var leases []lease.Lease
	for i := range 2500 {
		leases = append(leases, testLease(16+i, now-100))
	}
	// server2 has one lease newer than server1's copy: it must survive.
	newer := testLease(16, now-5)
	newer.Hostname = "newer"
	extra := `, "sync-page-limit": 1000`
	// Count the peer's commands to check the sequence of a synchronization.
	var mu sync.Mutex
	var seq, cmds []string
	tap := func(cmd string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seq = append(seq, r.Header.Get("Content-Length"))
		if cmd != "ha-heartbeat" {
			cmds = append(cmds, cmd)
		}
	}
	newNode(t, "server1", ln1, haParams("server1", "hot-standby", a1, a2, extra), leases, tap)
	n2 := newNode(t, "server2", ln2, haParams("server2", "hot-standby", a1, a2, extra), []lease.Lease{newer})
	waitState(t, n2, StateHotStandby, 10*time.Second)
	if got := n2.store.Len(); got != 2500 {
		t.Fatalf("standby has %d leases, want 2500", got)
	}
	if got, _ := n2.store.Get(newer.Addr); got.Hostname != "newer" {
		t.Error("a newer local lease was overwritten by an older partner lease")
	}
	p := n2.rel().syncProgress
	if p.Pages != 3 || p.Received != 2500 || p.Applied != 2499 || p.Skipped != 1 {
		t.Errorf("sync progress %+v", p)
	}
	mu.Lock()
	defer mu.Unlock()
	// n2's sync from n1: disable before every page, then the notify.
	want := "dhcp-disable lease4-get-page dhcp-disable lease4-get-page dhcp-disable lease4-get-page ha-sync-complete-notify"
	if got := strings.Join(cmds, " "); !strings.Contains(got, want) {
		t.Errorf("command sequence %q does not contain %q", got, want)
	}
	for _, cl := range seq {
		if cl == "" {
			t.Fatal("a request without Content-Length")
		}
	}
}

// cutHTTP takes the node's listener away (its partner sees it as down)
// and returns a function that brings it back on the same address.
func (n *node) cutHTTP() (restore func()) {
	addr := n.ln.Addr().String()
	h := n.hs.Handler
	_ = n.hs.Close()
	return func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			n.t.Fatal(err)
		}
		n.ln = ln
		n.hs = &http.Server{Handler: h}
		go func() { _ = n.hs.Serve(ln) }()
	}
}

func TestLoadBalancingCommunicationRecovery(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	extra := `, "max-unacked-clients": 5`
	n1 := newNode(t, "server1", ln1, haParams("server1", "load-balancing", a1, a2, extra), nil)
	n2 := newNode(t, "server2", ln2, haParams("server2", "load-balancing", a1, a2, extra), nil)
	waitState(t, n1, StateLoadBalancing, 5*time.Second)
	waitState(t, n2, StateLoadBalancing, 5*time.Second)
	if sc := n2.rel().Scopes(); len(sc) != 1 || sc[0] != "server2" {
		t.Fatalf("secondary scopes %v", sc)
	}

	// The link to server2 breaks: server1 goes communication-recovery at
	// the first failed heartbeat and queues its updates.
	restore := n2.cutHTTP()
	waitState(t, n1, StateCommunicationRecovery, 2*time.Second)
	now := time.Now().Unix()
	l := testLease(500, now)
	start := time.Now()
	if err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: l}}); err != nil {
		t.Fatalf("communication-recovery must queue, not fail: %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Error("a queued update must not wait")
	}
	if got := len(n1.rel().backlog); got != 1 {
		t.Fatalf("backlog %d", got)
	}
	// Interrupted: failure detection looks at server2's clients; under
	// the threshold server1 stays in communication-recovery.
	time.Sleep(500 * time.Millisecond)
	for i := range 3 {
		n1.svc.ObserveQuery(30, []byte{byte(i)}, msgDiscover)
	}
	time.Sleep(100 * time.Millisecond)
	if st := n1.rel().State(); st != StateCommunicationRecovery {
		t.Fatalf("state %s with 3 of 5 unacked clients", st)
	}
	// The link returns: the backlog is flushed and both are back.
	restore()
	waitState(t, n1, StateLoadBalancing, 3*time.Second)
	if _, ok := n2.store.Get(l.Addr); !ok {
		t.Fatal("delayed update not delivered on recovery")
	}
	if got := len(n1.rel().backlog); got != 0 {
		t.Errorf("backlog not cleared: %d", got)
	}

	// Now server2 is really gone and clients keep retrying: more than
	// max-unacked-clients unacked clients → partner-down, serving both.
	restore = n2.cutHTTP()
	defer restore()
	waitState(t, n1, StateCommunicationRecovery, 2*time.Second)
	time.Sleep(450 * time.Millisecond)
	for i := range 6 {
		n1.svc.ObserveQuery(0x0a00 /* little-endian 10 s */, []byte{byte(i)}, msgRequest)
	}
	waitState(t, n1, StatePartnerDown, 2*time.Second)
	if sc := n1.rel().Scopes(); len(sc) != 2 {
		t.Errorf("partner-down scopes %v", sc)
	}
}

func TestMaintenance(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	n1 := newNode(t, "server1", ln1, haParams("server1", "hot-standby", a1, a2, ""), nil)
	n2 := newNode(t, "server2", ln2, haParams("server2", "hot-standby", a1, a2, ""), nil)
	waitState(t, n1, StateHotStandby, 5*time.Second)
	waitState(t, n2, StateHotStandby, 5*time.Second)
	run := func(n *node, body string) control.Answer {
		return n.ctl.Dispatch(context.Background(), []byte(body), "127.0.0.1:1", "")
	}
	a := run(n2, `{"command": "ha-maintenance-start"}`)
	if a.Result != 0 || !strings.Contains(a.Text, "partner-in-maintenance state and its partner is in-maintenance") {
		t.Fatalf("maintenance-start: %+v", a)
	}
	if n1.rel().State() != StateInMaintenance || n2.rel().State() != StatePartnerInMaintenance {
		t.Fatalf("states %s / %s", n1.rel().State(), n2.rel().State())
	}
	if n1.srv.Network.Enabled() {
		t.Error("in-maintenance must not serve")
	}
	if sc := n2.rel().Scopes(); len(sc) != 1 || sc[0] != "server1" {
		t.Errorf("partner-in-maintenance scopes %v", sc)
	}
	// A second notify is refused with 1001 by the server in maintenance's
	// partner; and the one in maintenance cannot start one itself.
	if a := run(n2, `{"command": "ha-maintenance-notify", "arguments": {"cancel": false}}`); a.Result != ResultMaintenanceNotAllowed {
		t.Errorf("notify in partner-in-maintenance: %+v", a)
	}
	if a := run(n1, `{"command": "ha-maintenance-start"}`); a.Result != 1 {
		t.Errorf("start in in-maintenance: %+v", a)
	}
	time.Sleep(200 * time.Millisecond) // heartbeats must not move either
	if n1.rel().State() != StateInMaintenance || n2.rel().State() != StatePartnerInMaintenance {
		t.Fatalf("states moved: %s / %s", n1.rel().State(), n2.rel().State())
	}
	if a := run(n2, `{"command": "ha-maintenance-cancel"}`); a.Result != 0 {
		t.Fatalf("cancel: %+v", a)
	}
	waitState(t, n1, StateHotStandby, 2*time.Second)
	waitState(t, n2, StateHotStandby, 2*time.Second)
	if a := run(n1, `{"command": "ha-reset"}`); a.Result != 0 || a.Text != "HA state machine reset." {
		t.Errorf("ha-reset: %+v", a)
	}
	if a := run(n1, `{"command": "ha-scopes", "arguments": {"scopes": ["HA_server1"]}}`); a.Result != 1 {
		t.Errorf("ha-scopes with a class name must fail: %+v", a)
	}
	if a := run(n1, `{"command": "ha-continue"}`); a.Text != "HA state machine is not paused." {
		t.Errorf("ha-continue: %+v", a)
	}
	waitState(t, n1, StateHotStandby, 3*time.Second)
}
