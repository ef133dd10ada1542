package loadgen

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Second is one point of a run's per-second time series. Counts are for
// that second only.
type Second struct {
	// T is the second's index from the start of the measured phase.
	T int `json:"t"`
	// Started counts exchanges started by the rate or the closed loop
	// (not scripted follow-ups).
	Started uint64 `json:"started"`
	// DORA, Renew and Rebind count exchanges completed.
	DORA   uint64 `json:"dora"`
	Renew  uint64 `json:"renew"`
	Rebind uint64 `json:"rebind"`
	// Lost counts exchanges given up after their last retransmission.
	Lost      uint64 `json:"lost"`
	Wrong     uint64 `json:"wrong"`
	Malformed uint64 `json:"malformed"`
	// P50Ms and P99Ms are the latencies of all exchanges completed in the
	// second (DORA from first DISCOVER to ACK; renew/rebind REQUEST→ACK).
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// ExchangeStats summarises one kind of exchange.
type ExchangeStats struct {
	Started   uint64 `json:"started"`
	Completed uint64 `json:"completed"`
	Lost      uint64 `json:"lost"`
	Naks      uint64 `json:"naks"`
	// Rate is Completed per second of the measured window.
	Rate    float64     `json:"rate"`
	Latency Percentiles `json:"latency"`
}

// Packets counts frames sent by message kind.
type Packets struct {
	Discover    uint64 `json:"discover"`
	Request     uint64 `json:"request"`
	Renew       uint64 `json:"renew"`
	Rebind      uint64 `json:"rebind"`
	Decline     uint64 `json:"decline"`
	Release     uint64 `json:"release"`
	Retransmits uint64 `json:"retransmits"`
	// TxErrors counts frames the kernel refused (device queue full).
	TxErrors uint64 `json:"tx_errors"`
}

// GeneratorStats tells whether the generator itself was the limit.
type GeneratorStats struct {
	CPUUserS float64 `json:"cpu_user_s"`
	CPUSysS  float64 `json:"cpu_sys_s"`
	// CPUPct is user+system time over wall time, in percent of one core.
	CPUPct float64 `json:"cpu_pct"`
	// SocketRx and SocketDrops are the PACKET_STATISTICS of the receive
	// socket: frames the filter passed, and frames lost for lack of
	// buffer space because the generator read too slowly.
	SocketRx    uint64 `json:"socket_rx"`
	SocketDrops uint64 `json:"socket_drops"`
	// Saturated is true when any sign says the generator, not the server,
	// limited the run; Notes say which: CPU at or above 90% of the cores
	// it may run on, an open-loop send rate under 95% of the asked rate,
	// replies dropped by its receive socket or ring, frames not sent.
	Saturated bool     `json:"saturated"`
	Notes     []string `json:"notes,omitempty"`
	// Transport is "af_packet" or "af_xdp (native/copy)" and the like.
	Transport string `json:"transport,omitempty"`
	// CPUCores is the number of cores the process may run on (its
	// affinity mask); CPUPct is relative to one of them.
	CPUCores int `json:"cpu_cores,omitempty"`
	// TxAttempted counts the frames the engine meant to send, TxSent
	// those the transport took, TxDropped the rest (TX ring or device
	// queue full, no free TX frame, sendmmsg partial).
	TxAttempted uint64 `json:"tx_attempted"`
	TxSent      uint64 `json:"tx_sent"`
	TxDropped   uint64 `json:"tx_dropped"`
	// RxDropped counts replies the kernel dropped before the generator
	// read them (AF_PACKET: PACKET_STATISTICS drops; AF_XDP: RX ring full
	// plus XDP_STATISTICS rx_dropped). Same as SocketDrops.
	RxDropped uint64 `json:"rx_dropped"`
	// XDP has the AF_XDP socket's counters over the window (nil on
	// AF_PACKET).
	XDP *XDPCounters `json:"xdp,omitempty"`
}

// XDPCounters are an AF_XDP socket's counters over the measured window.
type XDPCounters struct {
	RxRingFull      uint64 `json:"rx_ring_full"`
	RxDropped       uint64 `json:"rx_dropped"`
	RxFillRingEmpty uint64 `json:"rx_fill_ring_empty"`
	RxInvalidDescs  uint64 `json:"rx_invalid_descs"`
	TxInvalidDescs  uint64 `json:"tx_invalid_descs"`
	TxKicks         uint64 `json:"tx_kicks"`
	TxRetries       uint64 `json:"tx_retries"`
	TxStalls        uint64 `json:"tx_stalls"`
}

// Validation tells how replies were checked: every parsed reply in place
// (Cheap), and some also with insomniacslk/dhcp (Full): the first ones,
// a fixed sample, and all the Odd ones the in-place parser flagged.
type Validation struct {
	Cheap     uint64 `json:"cheap"`
	Full      uint64 `json:"full"`
	Odd       uint64 `json:"odd"`
	FullEvery int    `json:"full_every"`
	FullFirst int    `json:"full_first"`
}

// Report is the JSON-serialisable result of a run.
type Report struct {
	Settings Settings  `json:"settings"`
	Start    time.Time `json:"start"`
	// DurationS is the measured window: from the first start to the end
	// of the sending phase (the drain that waits for late replies is not
	// included).
	DurationS float64 `json:"duration_s"`
	// OfferedRate is the rate-driven exchanges started per second;
	// AchievedRate is the exchanges of all kinds completed per second.
	OfferedRate  float64 `json:"offered_rate"`
	AchievedRate float64 `json:"achieved_rate"`
	// ServerCPUSeconds is the CPU time (user and system, all threads)
	// the server process used during the run; the suite fills it in, the
	// generator does not know it.
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`
	// ChildCPUSeconds is the CPU time of the server's children that it
	// reaped during the run (run-script's scripts); ScriptsRun and
	// ScriptsDropped are xdhcpd's run-script counts over the run. The
	// suite fills them in.
	ChildCPUSeconds float64 `json:"child_cpu_s,omitempty"`
	ScriptsRun      float64 `json:"scripts_run,omitempty"`
	ScriptsDropped  float64 `json:"scripts_dropped,omitempty"`

	DORA   ExchangeStats `json:"dora"`
	Renew  ExchangeStats `json:"renew"`
	Rebind ExchangeStats `json:"rebind"`
	// DiscoverOffer and RequestAck split the DORA latency.
	DiscoverOffer Percentiles `json:"discover_offer"`
	RequestAck    Percentiles `json:"request_ack"`

	Sent     Packets `json:"sent"`
	Received uint64  `json:"received"`
	// Offers and Acks count OFFERs and ACKs (DHCPv6: Advertises and
	// Replies); StatusCodes counts the DHCPv6 Status Code options of the
	// replies (message and IA level) by name.
	StatusCodes map[string]uint64 `json:"status_codes,omitempty"`
	Offers      uint64            `json:"offers"`
	Acks        uint64            `json:"acks"`
	Naks        uint64            `json:"naks"`

	// Lost is the exchanges of all kinds given up; LossPct relates it to
	// the exchanges that ended (completed or lost).
	Lost    uint64  `json:"lost"`
	LossPct float64 `json:"loss_pct"`
	// Wrong counts replies that contradict the protocol or another reply
	// (reasons in WrongReasons); Malformed those that do not parse.
	Wrong        uint64            `json:"wrong"`
	WrongReasons map[string]uint64 `json:"wrong_reasons,omitempty"`
	Malformed    uint64            `json:"malformed"`
	// Late are replies to an exchange the client had given up on;
	// Duplicate are second replies to a retransmitted request.
	Late      uint64 `json:"late"`
	Duplicate uint64 `json:"duplicate"`
	// Skipped counts tokens of the rate that found no idle client.
	Skipped uint64 `json:"skipped"`

	Generator GeneratorStats `json:"generator"`
	Series    []Second       `json:"series"`
	// FloodFrames is the number of flood frames sent beside the run
	// (xdhcp-bench run -flood-mac), 0 without a flood.
	FloodFrames uint64 `json:"flood_frames,omitempty"`
	// Validation counts the replies checked in place and in full.
	Validation Validation `json:"validation"`
	// Warmup summarises the unmeasured binding phase, if any.
	Warmup *ExchangeStats `json:"warmup,omitempty"`
}

// Settings is the part of Config recorded in the report.
type Settings struct {
	Mode          string  `json:"mode"`
	Rate          float64 `json:"rate,omitempty"`
	Outstanding   int     `json:"outstanding,omitempty"`
	Clients       int     `json:"clients"`
	Count         int     `json:"count"`
	DurationS     float64 `json:"duration_s"`
	WarmupClients int     `json:"warmup_clients,omitempty"`
	RenewFraction float64 `json:"renew_fraction,omitempty"`
	Renewals      int     `json:"renewals,omitempty"`
	Rebind        bool    `json:"rebind,omitempty"`
	Release       bool    `json:"release,omitempty"`
	DeclineEvery  int     `json:"decline_every,omitempty"`
	Relay         bool    `json:"relay"`
	ClientID      bool    `json:"client_id,omitempty"`
	TimeoutS      float64 `json:"timeout_s"`
	Retries       int     `json:"retries"`
	Transport     string  `json:"transport"`
	V6            bool    `json:"v6,omitempty"`
}

// cpuTimes returns this process's user and system CPU time.
func cpuTimes() (user, sys time.Duration, err error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// Failed reports whether the run shows a correctness failure: a wrong or
// malformed reply, or nothing served at all.
func (r *Report) Failed() error {
	switch {
	case r.Wrong > 0:
		return fmt.Errorf("%d wrong replies: %v", r.Wrong, r.WrongReasons)
	case r.Malformed > 0:
		return fmt.Errorf("%d malformed replies", r.Malformed)
	case r.DORA.Completed+r.Renew.Completed+r.Rebind.Completed == 0:
		return fmt.Errorf("no exchange completed (%d lost)", r.Lost)
	}
	return nil
}

// cpusAllowed is the number of CPUs in this process's affinity mask (1 if
// it cannot be read).
func cpusAllowed() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	return max(set.Count(), 1)
}

// transportStats is a snapshot of a transport's counters.
type transportStats struct {
	rx, rxDropped uint64
	xdp           *XDPCounters
}

// readTransportStats reads tr's counters (and an XDPSocket's ring
// counters).
func readTransportStats(tr Transport) (transportStats, error) {
	var ts transportStats
	if xs, ok := tr.(*XDPSocket); ok {
		st, err := xs.stats()
		if err != nil {
			return ts, fmt.Errorf("loadgen af_xdp %s: %w", xs.iface, err)
		}
		k := st.sock
		ts.rx, ts.rxDropped = k.Rx, k.RxRingFull+k.RxDropped
		ts.xdp = &XDPCounters{RxRingFull: k.RxRingFull, RxDropped: k.RxDropped, RxFillRingEmpty: k.RxFillRingEmptyDescs,
			RxInvalidDescs: k.RxInvalidDescs, TxInvalidDescs: k.TxInvalidDescs, TxKicks: k.TxKicks, TxRetries: k.TxRetries, TxStalls: k.TxStalls}
		return ts, nil
	}
	var err error
	ts.rx, ts.rxDropped, err = tr.Stats()
	return ts, err
}

// sub returns the counters from o to t.
func (t transportStats) sub(o transportStats) transportStats {
	r := transportStats{rx: t.rx - o.rx, rxDropped: t.rxDropped - o.rxDropped}
	if t.xdp != nil && o.xdp != nil {
		a, b := *t.xdp, *o.xdp
		r.xdp = &XDPCounters{RxRingFull: a.RxRingFull - b.RxRingFull, RxDropped: a.RxDropped - b.RxDropped,
			RxFillRingEmpty: a.RxFillRingEmpty - b.RxFillRingEmpty, RxInvalidDescs: a.RxInvalidDescs - b.RxInvalidDescs,
			TxInvalidDescs: a.TxInvalidDescs - b.TxInvalidDescs, TxKicks: a.TxKicks - b.TxKicks,
			TxRetries: a.TxRetries - b.TxRetries, TxStalls: a.TxStalls - b.TxStalls}
	}
	return r
}
