package xdp

import (
	"xdhcp/bpf"
	"xdhcp/fastpath"
	"xdhcp/fastpath/xsk"
	"xdhcp/internal/stats"
)

// verdictCounters name the XDP program's verdict counters as statistics.
var verdictCounters = map[string]func(bpf.Counters) uint64{
	"xdp-pass-not-dhcp":        func(c bpf.Counters) uint64 { return c.NotDHCP },
	"xdp-pass-fragment":        func(c bpf.Counters) uint64 { return c.Fragment },
	"xdp-pass-not-request":     func(c bpf.Counters) uint64 { return c.NotRequest },
	"xdp-pass-xsk-missing":     func(c bpf.Counters) uint64 { return c.XSKMissing },
	"xdp-drop-malformed":       func(c bpf.Counters) uint64 { return c.Malformed },
	"xdp-drop-mac":             func(c bpf.Counters) uint64 { return c.DropMAC },
	"xdp-drop-client-id":       func(c bpf.Counters) uint64 { return c.DropClientID },
	"xdp-drop-rate-limited":    func(c bpf.Counters) uint64 { return c.RateLimited },
	"xdp-drop-ha-out-of-scope": func(c bpf.Counters) uint64 { return c.HAOutOfScope },
	"xdp-drop-shed-discover":   func(c bpf.Counters) uint64 { return c.ShedDiscover },
	"xdp-drop-shed-other":      func(c bpf.Counters) uint64 { return c.ShedOther },
	// Options the program could not judge (see bpf.Counters).
	"xdp-drop-irregular-out-of-scope": func(c bpf.Counters) uint64 { return c.IrregularOutOfScope },
	"xdp-drop-irregular-shed":         func(c bpf.Counters) uint64 { return c.IrregularShed },
	"xdp-redirected":                  func(c bpf.Counters) uint64 { return c.Redirected },
	// DHCPv6.
	"xdp-pass-fragment6":               func(c bpf.Counters) uint64 { return c.Fragment6 },
	"xdp-pass-ext-unparsed6":           func(c bpf.Counters) uint64 { return c.ExtUnparsed6 },
	"xdp-pass-not-request6":            func(c bpf.Counters) uint64 { return c.NotRequest6 },
	"xdp-pass-xsk-missing6":            func(c bpf.Counters) uint64 { return c.XSKMissing6 },
	"xdp-drop-malformed6":              func(c bpf.Counters) uint64 { return c.Malformed6 },
	"xdp-drop-duid":                    func(c bpf.Counters) uint64 { return c.DropDUID },
	"xdp-drop-rate-limited6":           func(c bpf.Counters) uint64 { return c.RateLimited6 },
	"xdp-drop-ha-out-of-scope6":        func(c bpf.Counters) uint64 { return c.HAOutOfScope6 },
	"xdp-drop-shed-solicit":            func(c bpf.Counters) uint64 { return c.ShedSolicit },
	"xdp-drop-shed-other6":             func(c bpf.Counters) uint64 { return c.ShedOther6 },
	"xdp-drop-irregular-out-of-scope6": func(c bpf.Counters) uint64 { return c.IrregularOutOfScope6 },
	"xdp-drop-irregular-shed6":         func(c bpf.Counters) uint64 { return c.IrregularShed6 },
	"xdp-redirected6":                  func(c bpf.Counters) uint64 { return c.Redirected6 },
}

// workerCounters name the fast-path workers' counters as statistics.
var workerCounters = map[string]func(*fastpath.WorkerStats) uint64{
	"fastpath-rx-frames":            func(s *fastpath.WorkerStats) uint64 { return s.RxFrames.Load() },
	"fastpath-rx-malformed":         func(s *fastpath.WorkerStats) uint64 { return s.RxMalformed.Load() },
	"fastpath-cache-hits":           func(s *fastpath.WorkerStats) uint64 { return s.CacheHits.Load() },
	"fastpath-cache-misses":         func(s *fastpath.WorkerStats) uint64 { return s.CacheMisses.Load() },
	"fastpath-handoffs":             func(s *fastpath.WorkerStats) uint64 { return s.Handoffs.Load() },
	"fastpath-tx-frames":            func(s *fastpath.WorkerStats) uint64 { return s.TxFrames.Load() },
	"fastpath-tx-errors":            func(s *fastpath.WorkerStats) uint64 { return s.TxErrors.Load() },
	"fastpath-slow-replies":         func(s *fastpath.WorkerStats) uint64 { return s.SlowReplies.Load() },
	"fastpath-slow-replies-dropped": func(s *fastpath.WorkerStats) uint64 { return s.SlowDropped.Load() },
	"fastpath-kernel-replies":       func(s *fastpath.WorkerStats) uint64 { return s.KernelReplies.Load() },
	"fastpath-rx-frames6":           func(s *fastpath.WorkerStats) uint64 { return s.RxFrames6.Load() },
	"fastpath-rx-malformed6":        func(s *fastpath.WorkerStats) uint64 { return s.RxMalformed6.Load() },
	"fastpath-cache-hits6":          func(s *fastpath.WorkerStats) uint64 { return s.CacheHits6.Load() },
	"fastpath-cache-misses6":        func(s *fastpath.WorkerStats) uint64 { return s.CacheMisses6.Load() },
	"fastpath-handoffs6":            func(s *fastpath.WorkerStats) uint64 { return s.Handoffs6.Load() },
	"fastpath-slow-replies6":        func(s *fastpath.WorkerStats) uint64 { return s.SlowReplies6.Load() },
}

// ringCounters name the AF_XDP sockets' kernel counters as statistics.
var ringCounters = map[string]func(xsk.Statistics) uint64{
	"xsk-rx-dropped":         func(s xsk.Statistics) uint64 { return s.RxDropped },
	"xsk-rx-ring-full":       func(s xsk.Statistics) uint64 { return s.RxRingFull },
	"xsk-rx-fill-ring-empty": func(s xsk.Statistics) uint64 { return s.RxFillRingEmptyDescs },
	"xsk-tx-ring-empty":      func(s xsk.Statistics) uint64 { return s.TxRingEmptyDescs },
	"xsk-invalid-descs":      func(s xsk.Statistics) uint64 { return s.RxInvalidDescs + s.TxInvalidDescs },
}

// registerStats exports the XDP verdict counters, the workers' counters
// and the sockets' ring counters as statistics, summed at read time. A
// later Start registers its own in their place.
func (x *attachment) registerStats(reg *stats.Registry) {
	for name, f := range verdictCounters {
		reg.Func(name, stats.KindCounter, func() int64 {
			var n uint64
			for _, o := range x.instances() {
				if c, err := o.Counters(); err == nil {
					n += f(c)
				}
			}
			return int64(n)
		})
	}
	for name, f := range workerCounters {
		reg.Func(name, stats.KindCounter, func() int64 {
			var n uint64
			for _, w := range x.workers {
				n += f(&w.Stats)
			}
			return int64(n)
		})
		perQueue := make([]stats.LabeledFunc, len(x.workers))
		for i, w := range x.workers {
			perQueue[i] = stats.LabeledFunc{Labels: w.Labels(), Fn: func() int64 { return int64(f(&w.Stats)) }}
		}
		reg.SetLabeled(name, stats.KindCounter, perQueue)
	}
	reg.Func("fastpath-packets-outstanding", stats.KindGauge, func() int64 {
		var n int64
		for _, w := range x.workers {
			n += w.PacketsOutstanding()
		}
		return n
	})
	reg.Func("fastpath-overload-level", stats.KindGauge, func() int64 {
		var lvl int64
		for _, w := range x.workers {
			lvl = max(lvl, int64(w.Stats.OverloadLevel.Load()))
		}
		return lvl
	})
	for name, f := range ringCounters {
		reg.Func(name, stats.KindCounter, func() int64 {
			var n uint64
			for _, xi := range x.ifaces {
				for _, s := range xi.socks {
					if st, err := s.Stats(); err == nil {
						n += f(st)
					}
				}
			}
			return int64(n)
		})
		var perQueue []stats.LabeledFunc
		for _, xi := range x.ifaces {
			for i, s := range xi.socks {
				perQueue = append(perQueue, stats.LabeledFunc{Labels: xi.labels(i), Fn: func() int64 {
					st, err := s.Stats()
					if err != nil {
						return 0
					}
					return int64(f(st))
				}})
			}
		}
		reg.SetLabeled(name, stats.KindCounter, perQueue)
	}
}
