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
	// limited the run; Notes say which.
	Saturated bool     `json:"saturated"`
	Notes     []string `json:"notes,omitempty"`
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

	DORA   ExchangeStats `json:"dora"`
	Renew  ExchangeStats `json:"renew"`
	Rebind ExchangeStats `json:"rebind"`
	// DiscoverOffer and RequestAck split the DORA latency.
	DiscoverOffer Percentiles `json:"discover_offer"`
	RequestAck    Percentiles `json:"request_ack"`

	Sent     Packets `json:"sent"`
	Received uint64  `json:"received"`
	Offers   uint64  `json:"offers"`
	Acks     uint64  `json:"acks"`
	Naks     uint64  `json:"naks"`

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
