package slowpath

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/lease"
)

// faultStore refuses every commit with a storage fault while failing is
// set, as lease.Store does during a fault episode.
type faultStore struct {
	*countingStore
	mu      sync.Mutex
	failing bool
}

func (f *faultStore) Commit(ctx context.Context, ops ...lease.Op) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.countingStore.Commit(ctx, ops...)
}

func (f *faultStore) CommitAsync(ops []lease.Op, done func(error)) {
	if err := f.fault(); err != nil {
		done(err)
		return
	}
	f.countingStore.CommitAsync(ops, done)
}

// fault is the error of a commit now: a FaultError while failing.
func (f *faultStore) fault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return &lease.FaultError{Path: "/var/lib/kea/kea-leases4.csv", Err: syscall.ENOSPC, Since: time.Now()}
	}
	return nil
}

func (f *faultStore) set(v bool) {
	f.mu.Lock()
	f.failing = v
	f.mu.Unlock()
}

// policyHarness is a server whose store can fail, with a StoragePolicy
// that records exit calls.
type policyHarness struct {
	*harness
	fs     *faultStore
	policy *StoragePolicy
	mu     sync.Mutex
	exits  []error
}

func newPolicyHarness(t *testing.T, onFail string) *policyHarness {
	h := newHarness(t, testConfig)
	p := &policyHarness{harness: h, fs: &faultStore{countingStore: h.store}}
	h.srv.store = p.fs
	var err error
	p.policy, err = NewStoragePolicy(onFail, h.srv.Network, h.reg, nil, func(err error) {
		p.mu.Lock()
		p.exits = append(p.exits, err)
		p.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fail starts a fault episode as the lease store reports it.
func (p *policyHarness) fail() {
	p.fs.set(true)
	p.policy.Observe(lease.FaultEvent{Kind: lease.FaultFailed, Path: "/l.csv", Err: syscall.ENOSPC, Since: time.Now()})
}

func (p *policyHarness) recover() {
	p.fs.set(false)
	p.policy.Observe(lease.FaultEvent{Kind: lease.FaultRecovered, Path: "/l.csv", Since: time.Now(), Attempts: 3})
}

func (p *policyHarness) exhaust() {
	p.policy.Observe(lease.FaultEvent{Kind: lease.FaultExhausted, Path: "/l.csv", Err: syscall.ENOSPC,
		Since: time.Now().Add(-time.Minute), Attempts: 30})
}

func (p *policyHarness) exitErrs() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.exits...)
}

func inform(hw string, ip string) *dhcpv4.DHCPv4 {
	m, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(hw)), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithClientIP(net.ParseIP(ip)))
	return m
}

// TestServeRetryKeepsServingWithoutWrites: while the lease file fails, a
// serve-retry policy answers everything that needs no write (OFFER,
// cached renewal, INFORM, NAK) and acknowledges nothing that does; after
// recovery new clients get their ACK.
func TestServeRetryKeepsServingWithoutWrites(t *testing.T) {
	for _, policy := range []string{OnFailServeRetryContinue, OnFailServeRetryExit} {
		t.Run(policy, func(t *testing.T) {
			p := newPolicyHarness(t, policy)
			relay := dhcpv4.WithGatewayIP(net.ParseIP("10.9.9.9"))
			ack := p.dora("00:11:22:33:44:55", relay) // subnet 3: cache-threshold 0.5
			cached := netip.MustParseAddr(ack.YourIPAddr.String())

			p.fail()
			if !p.srv.Network.Enabled() {
				t.Fatal("serve-retry disabled the service")
			}
			if p.stat(statLeaseFileFailed) != 1 || p.stat(statLeaseFileFaults) != 1 {
				t.Errorf("failed gauge %d, faults %d", p.stat(statLeaseFileFailed), p.stat(statLeaseFileFaults))
			}
			offer := p.one(discover("00:11:22:33:44:66"))
			if offer.msg.MessageType() != dhcpv4.MessageTypeOffer {
				t.Fatalf("DISCOVER while failed: %s", offer.msg.MessageType())
			}
			if out := p.exchange(requestFor(offer.msg)); len(out) != 0 {
				t.Fatalf("REQUEST while the lease file fails answered %s", out[0].msg.MessageType())
			}
			if _, ok := p.store.Get(netip.MustParseAddr(offer.msg.YourIPAddr.String())); ok {
				t.Error("refused lease is in the store")
			}
			if p.stat("xdhcp-lease-commit-fail") != 1 || p.stat("pkt4-ack-sent") != 1 {
				t.Errorf("commit-fail %d ack-sent %d", p.stat("xdhcp-lease-commit-fail"), p.stat("pkt4-ack-sent"))
			}
			p.now = p.now.Add(10 * time.Minute)
			if r := p.one(renew("00:11:22:33:44:55", cached, relay)); r.msg.MessageType() != dhcpv4.MessageTypeAck {
				t.Errorf("cached renewal while failed: %s", r.msg.MessageType())
			}
			if r := p.one(inform("00:11:22:33:44:77", "192.0.2.50")); r.msg.MessageType() != dhcpv4.MessageTypeAck {
				t.Errorf("INFORM while failed: %s", r.msg.MessageType())
			}
			wrong, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:88")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("198.18.0.1"))))
			if r := p.one(wrong); r.msg.MessageType() != dhcpv4.MessageTypeNak {
				t.Errorf("REQUEST off-network while failed: %s", r.msg.MessageType())
			}

			p.exhaust()
			exits := p.exitErrs()
			if policy == OnFailServeRetryContinue && len(exits) != 0 {
				t.Errorf("serve-retry-continue asked to exit: %v", exits)
			}
			if policy == OnFailServeRetryExit && (len(exits) != 1 || !errors.Is(exits[0], syscall.ENOSPC) ||
				!strings.Contains(exits[0].Error(), "/l.csv") || !strings.Contains(exits[0].Error(), policy)) {
				t.Errorf("serve-retry-exit exit errors %v", exits)
			}

			p.recover()
			if p.stat(statLeaseFileFailed) != 0 || p.stat(statLeaseFileRecover) != 1 {
				t.Errorf("after recovery: failed gauge %d, recoveries %d", p.stat(statLeaseFileFailed), p.stat(statLeaseFileRecover))
			}
			p.dora("00:11:22:33:44:99")
		})
	}
}

// TestStopRetryExitDisablesService: stop-retry-exit holds the service off
// under its own origin (an operator's dhcp-enable does not lift it), exits
// once when attempts run out, and resumes on recovery.
func TestStopRetryExitDisablesService(t *testing.T) {
	p := newPolicyHarness(t, "")
	if p.policy.Policy() != OnFailStopRetryExit {
		t.Fatalf("default policy %q", p.policy.Policy())
	}
	p.fail()
	if p.srv.Network.Enabled() {
		t.Fatal("service enabled while the lease file fails")
	}
	if by := p.srv.Network.DisabledBy(); len(by) != 1 || by[0] != OriginLeaseDatabase {
		t.Errorf("disabled by %v", by)
	}
	p.srv.Network.Enable("user") // what dhcp-enable does
	if p.srv.Network.Enabled() {
		t.Error("dhcp-enable lifted the lease-database disable")
	}
	if out := p.exchange(discover("00:11:22:33:44:66")); len(out) != 0 {
		t.Errorf("DISCOVER answered while disabled")
	}
	p.exhaust()
	p.exhaust() // reported once per episode, but exit must be once anyway
	if exits := p.exitErrs(); len(exits) != 1 || !strings.Contains(exits[0].Error(), "stop-retry-exit") ||
		!strings.Contains(exits[0].Error(), "30 recovery attempts") {
		t.Errorf("exit errors %v", exits)
	}
	p.recover()
	if !p.srv.Network.Enabled() {
		t.Error("service still disabled after recovery")
	}
	p.dora("00:11:22:33:44:99")
}

func TestStoragePolicyRejectsUnknown(t *testing.T) {
	h := newHarness(t, testConfig)
	if _, err := NewStoragePolicy("retry-forever", h.srv.Network, h.reg, nil, func(error) {}); err == nil {
		t.Error("unknown policy accepted")
	}
}
