package slowpath

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/internal/stats"
	"xdhcp/lease"
)

// Kea's lease-database on-fail policies, applied to lease file faults.
const (
	// OnFailStopRetryExit disables DHCP service while the lease file fails
	// and exits when recovery attempts run out (Kea's default).
	OnFailStopRetryExit = "stop-retry-exit"
	// OnFailServeRetryExit keeps answering what needs no write (OFFERs,
	// cached renewals, INFORM, NAKs) and exits when attempts run out.
	OnFailServeRetryExit = "serve-retry-exit"
	// OnFailServeRetryContinue serves as serve-retry-exit does and never
	// exits: recovery attempts go on until the file works again.
	OnFailServeRetryContinue = "serve-retry-continue"
)

// OriginLeaseDatabase is the NetworkState origin that holds DHCP service
// disabled while the lease file fails under stop-retry-exit. An operator's
// dhcp-enable (origin "user") cannot lift it.
const OriginLeaseDatabase = "lease-database"

// Statistics of lease file faults (xdhcp's own; Kea's memfile has none).
// The DHCPv6 file's are named "xdhcp-lease6-file-…".
const (
	statLeaseFileFailed  = "xdhcp-lease-file-failed"          // gauge: 1 while the lease file fails
	statLeaseFileFaults  = "xdhcp-lease-file-faults"          // fault episodes begun
	statLeaseFileRefused = "xdhcp-lease-file-refused-commits" // commits refused: leases not acknowledged
	statLeaseFileRetries = "xdhcp-lease-file-failed-retries"  // failed recovery attempts
	statLeaseFileRecover = "xdhcp-lease-file-recoveries"      // episodes ended by a successful attempt
)

// StoragePolicy applies the lease-database on-fail policy to the lease
// store's fault events: it is the store's Options.OnFault.
type StoragePolicy struct {
	policy  string
	network *NetworkState
	log     *slog.Logger
	exit    func(error)

	// what names the store in log lines: "lease file", or "lease
	// database" (Describe).
	what string

	failed                            atomic.Bool
	faults, refused, retries, recover *stats.Stat
	exitOnce                          sync.Once
}

// NewStoragePolicy returns the policy onFail ("" means stop-retry-exit)
// acting on network, counting into reg. exit is called once, with an error
// naming the lease file and its fault, when the policy says the daemon
// must stop; it must not block (the store's writer goroutine calls it).
func NewStoragePolicy(onFail string, network *NetworkState, reg *stats.Registry, log *slog.Logger, exit func(error)) (*StoragePolicy, error) {
	return newStoragePolicy(false, onFail, network, reg, log, exit)
}

// NewStoragePolicy6 is NewStoragePolicy for the DHCPv6 lease file: network
// is the DHCPv6 service's state, and its statistics are named
// "xdhcp-lease6-file-…" so they do not mix with the DHCPv4 file's.
func NewStoragePolicy6(onFail string, network *NetworkState, reg *stats.Registry, log *slog.Logger, exit func(error)) (*StoragePolicy, error) {
	return newStoragePolicy(true, onFail, network, reg, log, exit)
}

func newStoragePolicy(v6 bool, onFail string, network *NetworkState, reg *stats.Registry, log *slog.Logger, exit func(error)) (*StoragePolicy, error) {
	switch onFail {
	case "":
		onFail = OnFailStopRetryExit
	case OnFailStopRetryExit, OnFailServeRetryExit, OnFailServeRetryContinue:
	default:
		return nil, fmt.Errorf("unknown lease-database on-fail policy %q", onFail)
	}
	if network == nil || reg == nil || exit == nil {
		return nil, errors.New("storage policy: network, statistics and exit are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := func(stat string) string {
		if v6 {
			return strings.Replace(stat, "xdhcp-lease-file", "xdhcp-lease6-file", 1)
		}
		return stat
	}
	p := &StoragePolicy{
		policy:  onFail,
		what:    "lease file",
		network: network,
		log:     log,
		exit:    exit,
		faults:  reg.Counter(name(statLeaseFileFaults)),
		refused: reg.Counter(name(statLeaseFileRefused)),
		retries: reg.Counter(name(statLeaseFileRetries)),
		recover: reg.Counter(name(statLeaseFileRecover)),
	}
	reg.Func(name(statLeaseFileFailed), stats.KindGauge, func() int64 {
		if p.failed.Load() {
			return 1
		}
		return 0
	})
	return p, nil
}

// Describe names the store in the policy's log lines ("lease database"
// for a SQL lease backend); call it before the store reports faults.
func (p *StoragePolicy) Describe(what string) { p.what = what }

// Policy is the on-fail policy in force.
func (p *StoragePolicy) Policy() string { return p.policy }

// Failed reports whether the lease file is failing now.
func (p *StoragePolicy) Failed() bool { return p.failed.Load() }

// Observe handles one fault event (the store's OnFault option).
func (p *StoragePolicy) Observe(ev lease.FaultEvent) {
	switch ev.Kind {
	case lease.FaultFailed:
		p.failed.Store(true)
		p.faults.Inc()
		if p.policy == OnFailStopRetryExit {
			p.network.Disable(OriginLeaseDatabase, 0)
			p.log.Error("DHCP service disabled until the "+p.what+" can be written", "path", ev.Path,
				"on_fail", p.policy)
			return
		}
		p.log.Warn("serving without lease writes until the "+p.what+" can be written: no new lease is acknowledged",
			"path", ev.Path, "on_fail", p.policy)
	case lease.FaultRefused:
		p.refused.Add(int64(ev.Refused))
	case lease.FaultRetry:
		p.retries.Inc()
	case lease.FaultExhausted:
		if p.policy == OnFailServeRetryContinue {
			p.log.Warn(p.what+" recovery attempts exhausted: serving on and still retrying", "path", ev.Path,
				"on_fail", p.policy, "attempts", ev.Attempts)
			return
		}
		err := fmt.Errorf("lease database %s cannot be written (on-fail %s): %d recovery attempts over %.0f s failed: %w",
			ev.Path, p.policy, ev.Attempts, time.Since(ev.Since).Seconds(), ev.Err)
		p.exitOnce.Do(func() { p.exit(err) })
	case lease.FaultRecovered:
		p.failed.Store(false)
		p.recover.Inc()
		if p.policy == OnFailStopRetryExit {
			p.network.Enable(OriginLeaseDatabase)
		}
		p.log.Info(p.what+" writable again: DHCP service resumed", "path", ev.Path, "on_fail", p.policy,
			"attempts", ev.Attempts, "down_s", time.Since(ev.Since).Seconds())
	}
}

// commitFailed counts a lease commit the store refused for a packet and
// logs it. A storage fault is logged once per episode by the store and the
// policy, and a conflict with a server sharing the lease database is part
// of sharing it, so these go to debug only; anything else is an error.
func (s *Server) commitFailed(msg string, addr netip.Addr, hw []byte, err error) {
	s.st.commitFail.Inc()
	if errors.Is(err, lease.ErrStorage) || errors.Is(err, lease.ErrConflict) {
		s.log.Debug(msg, "addr", addr, "mac", macString(hw), "err", err)
		return
	}
	s.log.Error(msg, "addr", addr, "mac", macString(hw), "err", err)
}
