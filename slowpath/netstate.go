package slowpath

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// NetworkState is Kea's DHCP service state: dhcp-disable and dhcp-enable
// with origins. The service is on only when every origin that disabled it
// has enabled it again (or its max-period has run out).
type NetworkState struct {
	now     func() time.Time
	enabled atomic.Bool

	mu       sync.Mutex
	disabled map[string]*time.Timer // origin → auto-enable timer (nil: none)
}

// NewNetworkState returns an enabled service state.
func NewNetworkState(now func() time.Time) *NetworkState {
	n := &NetworkState{now: now, disabled: make(map[string]*time.Timer)}
	n.enabled.Store(true)
	return n
}

// Enabled reports whether DHCP service is on. It is one atomic load: the
// packet path calls it per packet.
func (n *NetworkState) Enabled() bool { return n.enabled.Load() }

// Disable turns the service off on behalf of origin. A positive maxPeriod
// re-enables it for that origin automatically; disabling again re-arms it.
func (n *NetworkState) Disable(origin string, maxPeriod time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t := n.disabled[origin]; t != nil {
		t.Stop()
	}
	var t *time.Timer
	if maxPeriod > 0 {
		t = time.AfterFunc(maxPeriod, func() { n.Enable(origin) })
	}
	n.disabled[origin] = t
	n.enabled.Store(false)
}

// Enable withdraws origin's disable. It reports whether the service is on
// afterwards.
func (n *NetworkState) Enable(origin string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t := n.disabled[origin]; t != nil {
		t.Stop()
	}
	delete(n.disabled, origin)
	on := len(n.disabled) == 0
	n.enabled.Store(on)
	return on
}

// EnableAll clears every origin's disable (Kea's user "dhcp-enable" when
// asked to, and shutdown).
func (n *NetworkState) EnableAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for o, t := range n.disabled {
		if t != nil {
			t.Stop()
		}
		delete(n.disabled, o)
	}
	n.enabled.Store(true)
}

// DisabledBy lists the origins that hold the service disabled.
func (n *NetworkState) DisabledBy() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.disabled))
	for o := range n.disabled {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}
