// Package loadgen emulates DHCPv4 clients for benchmarks and end-to-end
// tests: each emulated client has its own MAC (and optionally a client-id),
// its own state machine (INIT → SELECTING → REQUESTING → BOUND → RENEWING →
// REBINDING → release, with an optional DECLINE), and its own transaction
// IDs. Clients talk either directly (broadcast DISCOVER from port 68) or
// through an emulated relay (giaddr, option 82 circuit-id per client,
// unicast from port 67 to the server's port 67).
//
// With Config.V6 the same engine runs DHCPv6 clients instead (gen6.go):
// Solicit, Advertise, Request, Reply for one address and one delegated
// prefix each, then Renew and Rebind of both, over AF_XDP.
//
// # Transports
//
// OpenTransport picks AF_XDP (XDPSocket: an AF_XDP socket per receive
// queue, fed by the asm XDP program of xdp_rx.go) or AF_PACKET (Socket,
// recvmmsg/sendmmsg); "auto" tries AF_XDP first and logs why it fell back.
//
// # Concurrency
//
// One engine goroutine owns all client state: it handles replies, advances
// state machines, expires timeouts, paces new exchanges and transmits in
// batches, reaching the transport through a pipe (pipe.go). Over an
// XDPSocket it reads replies in place in the UMEM and builds requests in TX
// frames, and waits in poll(2) only when idle. Over any other Transport a
// receiver goroutine blocks in ReadBatch and hands batches over through a
// bounded pool of buffers; when the engine falls behind the pool runs dry,
// the socket drops, and the report shows that the generator was the limit.
// Nothing is locked on the engine's side.
//
// Requests are built from per-shape templates (template.go) with patched
// fields and checksums; replies are read by an allocation-free parser
// (reply.go), and the odd ones plus a deterministic sample are also decoded
// with insomniacslk/dhcp and must agree (Report.Validation counts both).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// Mode selects how new exchanges are paced.
type Mode string

// Modes.
const (
	// Open starts exchanges at Config.Rate per second whatever the server
	// does (open loop): losses show as timeouts.
	Open Mode = "open"
	// Closed keeps Config.Outstanding exchanges in flight (closed loop):
	// it finds the server's saturation throughput.
	Closed Mode = "closed"
)

// Config describes a run. Zero values take the defaults noted.
type Config struct {
	Mode Mode
	// Rate is the open-loop rate of exchanges started per second.
	Rate float64
	// Outstanding is the closed-loop number of exchanges in flight
	// (default 64); it also paces the warm-up.
	Outstanding int
	// Clients is the number of distinct clients (MACs); required.
	Clients int
	// Count bounds the exchanges started by the rate or the loop (scripted
	// follow-ups are not counted); Duration bounds the sending phase. Both
	// are required: a run always ends by itself.
	Count    int
	Duration time.Duration
	// WarmupClients are bound (closed loop, unmeasured) before the
	// measured phase, so that it can renew them.
	WarmupClients int
	// RenewFraction is the share of started exchanges that renew a bound,
	// idle client instead of binding a new one (0: only new clients).
	RenewFraction float64
	// Renewals is how many times each client renews after binding, each
	// after RenewAfter (0: at T1 from the ACK). Rebind adds a rebinding
	// REQUEST after the renewals, Release a RELEASE at the end.
	Renewals   int
	RenewAfter time.Duration
	Rebind     bool
	Release    bool
	// DeclineEvery makes every n-th client DECLINE its first address and
	// start over; the server must then give it another one.
	DeclineEvery int
	// Timeout is the wait for a reply (default 1 s); Retries is the
	// number of retransmissions before the exchange is counted lost.
	Timeout time.Duration
	Retries int
	// Subnet, when valid, is where every offered address must lie.
	Subnet netip.Prefix
	// Relay mode: the generator is a relay agent at RelayAddr (giaddr and
	// source address) sending to ServerAddr:67 at ServerMAC from port 67.
	Relay      bool
	RelayAddr  netip.Addr
	ServerAddr netip.Addr
	ServerMAC  [6]byte
	// ClientID adds option 61 (type 1 + MAC). Broadcast sets the BOOTP
	// broadcast flag.
	ClientID  bool
	Broadcast bool
	// MACPrefix is the first two bytes of every client MAC (default
	// 02:58, a locally administered prefix); the other four are the
	// client's index. Give concurrent generators different prefixes.
	MACPrefix [2]byte
	// Batch is the number of frames per transmit batch (sendmmsg or
	// TX ring; default 64).
	Batch int
	// FullCheckEvery and FullCheckFirst choose the replies that are also
	// decoded and compared with insomniacslk/dhcp besides the cheap
	// in-place check: the first FullCheckFirst replies (default 256;
	// negative: none), every FullCheckEvery-th after them (default 64; 1:
	// all), and every reply the cheap check finds odd or malformed.
	FullCheckEvery int
	FullCheckFirst int
	// V6 makes the clients DHCPv6 clients (gen6.go): Solicit, Advertise,
	// Request, Reply for one address (IA_NA) and one prefix (IA_PD), and
	// Renew or Rebind of both. Subnet then bounds the addresses and
	// Delegated the prefixes; LinkLocal is the source address (default:
	// the EUI-64 link-local address of the interface's MAC). Relay,
	// ClientID, Broadcast, DeclineEvery and Release are DHCPv4 only.
	V6        bool
	Delegated netip.Prefix
	LinkLocal netip.Addr
	// Seed seeds the transaction IDs (default: random).
	Seed uint64
	// Progress, if set, is called by the engine once a second.
	Progress func(Second)
	// Logger receives start and end messages (default: discard).
	Logger *slog.Logger
}

// client states.
const (
	stFree       uint8 = iota // never used, or released/failed: may start over
	stSelecting               // DISCOVER sent
	stRequesting              // REQUEST (selecting) sent
	stBound                   // idle, holds addr
	stScheduled               // holds addr, a follow-up is scheduled
	stRenewing                // unicast REQUEST with ciaddr sent
	stRebinding               // broadcast REQUEST with ciaddr sent
)

// exchange kinds.
const (
	kDORA uint8 = iota
	kRenew
	kRebind
	nKinds
)

// client is one emulated client; kept small so millions fit.
type client struct {
	xid, prevXid uint32
	gen          uint32 // bumped on every send and reply: invalidates timeouts
	state        uint8
	tries        uint8
	declined     bool
	rebound      bool
	renews       uint16
	addr         [4]byte // bound address
	offered      [4]byte // offered address while requesting
	server       [4]byte // server identifier
	start        int64   // exchange start, ns since run start
	sent         int64   // last transmission, ns since run start
	t1           uint32  // seconds, from the ACK
	// DHCPv6: the address and the prefix (its first 64 bits and length)
	// advertised, then bound.
	plen uint8
	a6   [16]byte
	p6   [8]byte
}

// timeout and scheduled entries refer to a client by index and generation.
type timerEntry struct {
	at  int64
	idx uint32
	gen uint32
}

// Wrong-reply reasons, counted without formatting.
const (
	wrNotReply = iota
	wrForeignClient
	wrUnknownXid
	wrUnexpectedType
	wrOutsideSubnet
	wrNoServerID
	wrAckMismatch
	wrDoubleAssign
	wrDeclinedReassigned
	wrRelay
	wrDecoderMismatch
	wrServerIDDiffers
	wrNoIA
	wrLifetimes
	wrOutsideDelegated
	nWrong
)

var wrongNames = [nWrong]string{
	"not a BOOTREPLY", "unknown client hardware address", "unknown transaction id",
	"message type does not fit the client state", "address outside the subnet",
	"no server identifier", "ACK for another address than requested",
	"address given to two clients", "declined address given again", "relay fields not echoed",
	"in-place parser and insomniacslk/dhcp disagree", "server identifier differs from the first reply's",
	"no address or no prefix in the IAs", "lifetime zero, or preferred above valid", "prefix outside the delegated range",
}

// stats are the counters of one phase.
type stats struct {
	started      uint64
	kStarted     [nKinds]uint64
	kDone        [nKinds]uint64
	kLost        [nKinds]uint64
	kNak         [nKinds]uint64
	lat          [nKinds]Histogram
	do, ra       Histogram
	sent         Packets
	txAttempted  uint64 // frames built or meant to be built
	txSent       uint64 // frames the transport took
	cheap        uint64 // replies validated by the in-place parser
	full         uint64 // replies also decoded with insomniacslk/dhcp
	odd          uint64 // replies the in-place parser found unusual
	received     uint64
	offers, acks uint64
	naks         uint64
	status6      [v6Status + 1]uint64 // DHCPv6 Status Codes seen, by code
	wrong        [nWrong]uint64
	malformed    uint64
	late, dup    uint64
	skipped      uint64
	windowDone   [nKinds]uint64 // kDone at the end of the sending phase
	// phaseStart and lastStart (g.now() clock) bound the time exchanges
	// were being started: the offered rate's window, which ends with the
	// last start even when the phase waits on for replies or follow-ups.
	phaseStart, lastStart int64
	series                []Second
	sec                   Second
	secHist               Histogram
	secLostBase           uint64
	secWrongBase          uint64
	secMalformBase        uint64
}

func (s *stats) lost() uint64 {
	var n uint64
	for _, v := range s.kLost {
		n += v
	}
	return n
}

func (s *stats) wrongTotal() uint64 {
	var n uint64
	for _, v := range s.wrong {
		n += v
	}
	return n
}

// rxBatch is a batch of received frames with their arrival time.
type rxBatch struct {
	bufs [][]byte
	lens []int
	n    int
	at   int64
}

// Generator runs emulated clients over a Transport.
type Generator struct {
	cfg Config
	tr  Transport
	log *slog.Logger
	rng *rand.Rand

	clients   []client
	fresh     int  // next never-used client
	free      ring // released or failed clients
	bound     ring // bound, idle clients (renewable)
	owner     map[uint32]uint32
	serverMAC [6]byte // learned from replies in direct mode
	macKnown  bool

	t0       time.Time
	timeouts []timerEntry // FIFO: every attempt waits the same Timeout
	toHead   int
	sched    timerHeap
	inflight int

	st   *stats
	ph   phase
	pipe pipe
	// trName names the transport in the report.
	trName string
	// onFrame is g.handleFrame, bound once so that receiving allocates
	// nothing; rxAt is the arrival time of the frames it is given.
	onFrame func(b []byte)
	rxAt    int64
	// txBufs are buffers lent by the pipe (txAvail of them), the first
	// txN holding built frames of txLens bytes.
	txBufs  [][]byte
	txLens  []int
	txAvail int
	txN     int
	tmpl    templates
	view    replyView
	circ    [12]byte

	// DHCPv6 (gen6.go): the server's DUID (from the first reply), the
	// source address, the maps of bound addresses and prefixes, and
	// scratch space for building and reading messages.
	sid      [130]byte
	sidLen   int
	ll6      [16]byte
	owner6a  map[uint64]uint32
	owner6p  map[uint64]uint32
	duid     [10]byte
	b6       dhcp6.Builder
	scratch6 [512]byte
	view6    view6
}

// ownerDeclined marks a declined address in Generator.owner.
const ownerDeclined = ^uint32(0)

// New checks cfg and returns a generator that sends and receives through
// tr. The generator does not close tr.
func New(cfg Config, tr Transport) (*Generator, error) {
	var errs []error
	if cfg.Mode == "" {
		cfg.Mode = Open
	}
	switch cfg.Mode {
	case Open:
		if cfg.Rate <= 0 {
			errs = append(errs, errors.New("open loop needs a positive rate"))
		}
	case Closed:
	default:
		errs = append(errs, fmt.Errorf("mode %q: want open or closed", cfg.Mode))
	}
	if cfg.Outstanding <= 0 {
		cfg.Outstanding = 64
	}
	if cfg.Clients <= 0 || cfg.Clients > 1<<32-2 {
		errs = append(errs, fmt.Errorf("clients %d: want 1..2^32-2", cfg.Clients))
	}
	if cfg.Count <= 0 {
		errs = append(errs, errors.New("count must be positive"))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	if cfg.WarmupClients < 0 || cfg.WarmupClients > cfg.Clients {
		errs = append(errs, fmt.Errorf("warm-up clients %d: want 0..clients", cfg.WarmupClients))
	}
	if cfg.RenewFraction < 0 || cfg.RenewFraction > 1 {
		errs = append(errs, fmt.Errorf("renew fraction %v: want 0..1", cfg.RenewFraction))
	}
	if cfg.Renewals < 0 || cfg.Renewals > 1<<15 {
		errs = append(errs, fmt.Errorf("renewals %d: want 0..32768", cfg.Renewals))
	}
	if cfg.Retries < 0 || cfg.Retries > 100 {
		errs = append(errs, fmt.Errorf("retries %d: want 0..100", cfg.Retries))
	}
	if cfg.DeclineEvery < 0 {
		errs = append(errs, errors.New("decline-every must not be negative"))
	}
	if cfg.Relay {
		if !cfg.RelayAddr.Is4() || !cfg.ServerAddr.Is4() {
			errs = append(errs, errors.New("relay mode needs IPv4 relay and server addresses"))
		}
		if cfg.ServerMAC == [6]byte{} {
			errs = append(errs, errors.New("relay mode needs the server's MAC"))
		}
	}
	if cfg.V6 && (cfg.Relay || cfg.ClientID || cfg.Broadcast || cfg.DeclineEvery > 0 || cfg.Release) {
		errs = append(errs, errors.New("DHCPv6 clients: relay, client-id, broadcast, decline and release are DHCPv4 settings"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("loadgen config: %w", errors.Join(errs...))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.FullCheckEvery <= 0 {
		cfg.FullCheckEvery = 64
	}
	if cfg.FullCheckFirst < 0 {
		cfg.FullCheckFirst = 0
	} else if cfg.FullCheckFirst == 0 {
		cfg.FullCheckFirst = 256
	}
	if cfg.MACPrefix == [2]byte{} {
		cfg.MACPrefix = [2]byte{0x02, 0x58}
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Generator{
		cfg:     cfg,
		tr:      tr,
		log:     log,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		clients: make([]client, cfg.Clients),
		free:    newRing(cfg.Clients),
		bound:   newRing(cfg.Clients),
		owner:   make(map[uint32]uint32, min(cfg.Clients, 1<<20)),
		txBufs:  make([][]byte, cfg.Batch),
		txLens:  make([]int, cfg.Batch),
	}
	g.onFrame = g.handleFrame
	if cfg.V6 {
		g.owner6a = make(map[uint64]uint32, min(cfg.Clients, 1<<20))
		g.owner6p = make(map[uint64]uint32, min(cfg.Clients, 1<<20))
		ll := cfg.LinkLocal
		if !ll.Is6() {
			ll = LinkLocal6(tr.MAC())
		}
		g.ll6 = ll.As16()
	}
	return g, nil
}

// MAC returns the hardware address of client i.
func (g *Generator) MAC(i int) [6]byte {
	p := g.cfg.MACPrefix
	return [6]byte{p[0], p[1], byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// Leases returns the addresses currently bound, by client MAC (DHCPv4
// clients; DHCPv6 ones have no DHCPv4 address).
func (g *Generator) Leases() map[[6]byte]netip.Addr {
	m := make(map[[6]byte]netip.Addr)
	for i := range g.clients {
		c := &g.clients[i]
		switch c.state {
		case stBound, stScheduled, stRenewing, stRebinding:
			m[g.MAC(i)] = netip.AddrFrom4(c.addr)
		}
	}
	return m
}

func (g *Generator) now() int64 { return int64(time.Since(g.t0)) }

// Run runs the warm-up (if any) and the measured phase, and returns the
// report. It returns early, with the report so far, when ctx ends.
func (g *Generator) Run(ctx context.Context) (*Report, error) {
	if g.t0.IsZero() {
		g.t0 = time.Now()
	}
	u0, s0, err := cpuTimes()
	if err != nil {
		return nil, err
	}
	tx0, err := readTransportStats(g.tr)
	if err != nil {
		return nil, err
	}
	var p pipe
	if xs, ok := g.tr.(*XDPSocket); ok {
		p = &xdpPipe{s: xs, g: g}
		g.trName = "af_xdp (" + xs.Mode() + ")"
	} else {
		p = newChanPipe(ctx, g, g.tr, g.cfg.Batch)
		g.trName = "af_packet"
		if _, ok := g.tr.(*Socket); !ok {
			g.trName = fmt.Sprintf("%T", g.tr)
		}
	}
	g.pipe = p
	defer p.stop()

	var warm *ExchangeStats
	if g.cfg.WarmupClients > 0 {
		wcfg := phase{mode: Closed, count: g.cfg.WarmupClients, dur: g.cfg.Duration + 30*time.Second, warm: true}
		st, _, err := g.runPhase(ctx, wcfg)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		ws := st.exchange(kDORA, 0)
		warm = &ws
		g.log.Info("warm-up done", "bound", g.bound.len(), "lost", st.lost())
	}
	u1, s1, _ := cpuTimes()
	tx1, _ := readTransportStats(g.tr)
	start := time.Now()
	st, window, err := g.runPhase(ctx, phase{mode: g.cfg.Mode, count: g.cfg.Count, dur: g.cfg.Duration})
	u2, s2, _ := cpuTimes()
	tx2, _ := readTransportStats(g.tr)
	if warm == nil {
		u1, s1, tx1 = u0, s0, tx0
	}
	wall := time.Since(start)
	rep := g.report(st, window, start)
	rep.Warmup = warm
	g.selfReport(rep, st, wall, u2-u1, s2-s1, tx2.sub(tx1))
	return rep, err
}

// selfReport fills rep.Generator: CPU, transport counters, and whether the
// generator (not the server) limited the run.
func (g *Generator) selfReport(rep *Report, st *stats, wall, user, sys time.Duration, tx transportStats) {
	gs := &rep.Generator
	gs.Transport = g.trName
	gs.CPUUserS = user.Seconds()
	gs.CPUSysS = sys.Seconds()
	gs.CPUCores = cpusAllowed()
	if wall > 0 {
		gs.CPUPct = 100 * (gs.CPUUserS + gs.CPUSysS) / wall.Seconds()
	}
	gs.SocketRx, gs.SocketDrops = tx.rx, tx.rxDropped
	gs.RxDropped = tx.rxDropped
	gs.TxAttempted = st.txAttempted
	gs.TxSent = st.txSent
	gs.TxDropped = st.txAttempted - min(st.txSent, st.txAttempted)
	gs.XDP = tx.xdp
	if gs.SocketDrops > 0 {
		gs.Notes = append(gs.Notes, fmt.Sprintf("the generator's socket dropped %d replies: it read too slowly", gs.SocketDrops))
	}
	if cores := max(gs.CPUCores, 1); gs.CPUPct >= 90*float64(cores) {
		gs.Notes = append(gs.Notes, fmt.Sprintf("the generator used %.0f%% of a core on %d allowed core(s)", gs.CPUPct, cores))
	}
	if g.cfg.Mode == Open && rep.OfferedRate < 0.95*g.cfg.Rate && rep.Skipped == 0 && g.cfg.Count > int(g.cfg.Rate*g.cfg.Duration.Seconds()) {
		gs.Notes = append(gs.Notes, fmt.Sprintf("offered %.0f/s of the %.0f/s asked", rep.OfferedRate, g.cfg.Rate))
	}
	if gs.TxDropped > 0 {
		gs.Notes = append(gs.Notes, fmt.Sprintf("%d of %d frames not sent (transmit queue or ring full)", gs.TxDropped, gs.TxAttempted))
	}
	gs.Saturated = len(gs.Notes) > 0
}

// phase is one pass of the engine.
type phase struct {
	mode  Mode
	count int
	dur   time.Duration
	warm  bool // warm-up: new clients only, no script
}

// maxWait bounds an idle wait, so that pacing, timeouts and the
// per-second series run at least once a millisecond.
const maxWait = time.Millisecond

// runPhase runs the engine until the phase's count is done (and every
// exchange and follow-up ended) or its duration has passed, then drains
// outstanding replies for one timeout period.
func (g *Generator) runPhase(ctx context.Context, ph phase) (*stats, time.Duration, error) {
	st := &stats{}
	g.st = st
	g.ph = ph
	g.timeouts, g.toHead, g.sched = g.timeouts[:0], 0, g.sched[:0]
	g.inflight = 0
	start := g.now()
	st.phaseStart = start
	end := start + int64(ph.dur)
	var bucket *TokenBucket
	if ph.mode == Open {
		// 20 ms of credit absorbs a late tick without bursting the server.
		bucket = NewTokenBucket(g.cfg.Rate, max(g.cfg.Rate*0.02, 1))
		bucket.Take(time.Duration(start))
	}
	nextSec := start + int64(time.Second)
	sending := true
	var window time.Duration
	drainEnd := int64(0)
	var runErr error
	lastPace := int64(-1)
	for {
		n, err := g.pipe.recv(g.onFrame)
		if err == nil {
			err = ctx.Err()
		}
		now := g.now()
		if err != nil {
			runErr = err
			if window == 0 {
				window = time.Duration(now - start)
				st.windowDone = st.kDone
			}
			break
		}
		// Pacing, timeouts and the series need a millisecond clock at
		// most; skipping them between replies keeps the loop cheap.
		if n == 0 || now-lastPace >= int64(50*time.Microsecond) {
			lastPace = now
			g.expire(now, ph, sending)
			if sending {
				g.runScheduled(now, ph)
				g.startNew(now, ph, bucket)
			}
			for now >= nextSec {
				g.closeSecond()
				nextSec += int64(time.Second)
			}
		}
		sent := g.txN
		g.flush()
		if sending {
			done := st.started >= uint64(ph.count) && g.inflight == 0 && len(g.sched) == 0
			if done || now >= end {
				sending = false
				window = time.Duration(now - start)
				st.windowDone = st.kDone
				drainEnd = now + int64(g.cfg.Timeout)
				if done {
					break
				}
			}
		} else if g.inflight == 0 || now >= drainEnd {
			break
		}
		if n == 0 && sent == 0 {
			if err := g.pipe.wait(maxWait); err != nil {
				runErr = err
			}
		}
	}
	// Exchanges still waiting at the end are lost.
	for i := g.toHead; i < len(g.timeouts); i++ {
		e := g.timeouts[i]
		c := &g.clients[e.idx]
		if e.gen == c.gen {
			g.giveUp(e.idx, g.now())
		}
	}
	g.timeouts, g.toHead = g.timeouts[:0], 0
	// Scheduled follow-ups that never ran leave their clients bound.
	for _, e := range g.sched {
		c := &g.clients[e.idx]
		if e.gen == c.gen && c.state == stScheduled {
			c.state = stBound
			g.bound.push(e.idx)
		}
	}
	g.sched = g.sched[:0]
	if st.sec.Started+st.sec.DORA+st.sec.Renew+st.sec.Rebind+st.sec.Lost > 0 || len(st.series) == 0 {
		g.closeSecond()
	}
	return st, window, runErr
}

// closeSecond appends the current second to the series; the last, partial
// second of a phase is appended too.
func (g *Generator) closeSecond() {
	st := g.st
	s := st.sec
	s.T = len(st.series)
	lost, wrong := st.lost(), st.wrongTotal()
	s.Lost = lost - st.secLostBase
	s.Wrong = wrong - st.secWrongBase
	s.Malformed = st.malformed - st.secMalformBase
	st.secLostBase, st.secWrongBase, st.secMalformBase = lost, wrong, st.malformed
	s.P50Ms = float64(st.secHist.Quantile(0.5)) / 1e6
	s.P99Ms = float64(st.secHist.Quantile(0.99)) / 1e6
	st.series = append(st.series, s)
	st.sec = Second{}
	st.secHist.Reset()
	if g.cfg.Progress != nil {
		g.cfg.Progress(s)
	}
}

// startNew starts the exchanges the pacing allows.
func (g *Generator) startNew(now int64, ph phase, bucket *TokenBucket) {
	st := g.st
	left := uint64(ph.count) - min(st.started, uint64(ph.count))
	var n int
	if ph.mode == Open {
		n = bucket.Take(time.Duration(now))
	} else {
		n = g.cfg.Outstanding - g.inflight
	}
	for ; n > 0 && left > 0; n-- {
		renew := !ph.warm && g.cfg.RenewFraction > 0 && (g.cfg.RenewFraction >= 1 || g.rng.Float64() < g.cfg.RenewFraction)
		if renew {
			idx, ok := g.bound.pop()
			if !ok {
				st.skipped++
				continue
			}
			g.startRenew(idx, kRenew, now)
		} else {
			idx, ok := g.newClient()
			if !ok {
				st.skipped++
				if ph.mode == Closed {
					return // nothing to start until a client comes free
				}
				continue
			}
			g.startDORA(idx, now)
		}
		st.started++
		st.lastStart = now
		st.sec.Started++
		left--
	}
}

// newClient returns a client that may start a DORA.
func (g *Generator) newClient() (uint32, bool) {
	if g.fresh < len(g.clients) {
		g.fresh++
		return uint32(g.fresh - 1), true
	}
	return g.free.pop()
}

func (g *Generator) newXid(c *client) {
	c.prevXid = c.xid
	c.xid = g.rng.Uint32()
	if c.xid == c.prevXid {
		c.xid++
	}
	if g.cfg.V6 {
		// DHCPv6 transaction ids are 24 bits.
		if c.xid &= 0xffffff; c.xid == c.prevXid {
			c.xid = (c.xid + 1) & 0xffffff
		}
	}
}

func (g *Generator) arm(idx uint32, now int64) {
	c := &g.clients[idx]
	c.gen++
	c.sent = now
	g.timeouts = append(g.timeouts, timerEntry{at: now + int64(g.cfg.Timeout), idx: idx, gen: c.gen})
}

func (g *Generator) startDORA(idx uint32, now int64) {
	c := &g.clients[idx]
	g.newXid(c)
	c.state, c.tries, c.start = stSelecting, 0, now
	c.offered, c.server = [4]byte{}, [4]byte{}
	g.st.kStarted[kDORA]++
	g.inflight++
	g.sendDiscover(idx, now)
}

func (g *Generator) startRenew(idx uint32, kind uint8, now int64) {
	c := &g.clients[idx]
	g.newXid(c)
	c.tries, c.start = 0, now
	if kind == kRenew {
		c.state = stRenewing
	} else {
		c.state = stRebinding
	}
	g.st.kStarted[kind]++
	g.inflight++
	g.sendRenew(idx, now)
}

// secs is the BOOTP secs field: seconds since the exchange began.
func secs(c *client, now int64) uint16 {
	return uint16(min((now-c.start)/int64(time.Second), 0xffff))
}

// send queues a message of client idx: the fields every message shares,
// with reqIP, serverID and ciaddr taken from addrs. A unicast message goes
// to the server from ciaddr; the others are broadcast (or relayed).
func (g *Generator) send(idx uint32, now int64, msgType byte, addrs request, unicast bool) {
	c := &g.clients[idx]
	r := request{msgType: msgType, xid: c.xid, secs: secs(c, now), mac: g.MAC(int(idx)), clientID: g.cfg.ClientID,
		reqIP: addrs.reqIP, serverID: addrs.serverID, ciaddr: addrs.ciaddr}
	if g.cfg.Broadcast {
		r.flags = 0x8000
	}
	if g.cfg.Relay {
		r.giaddr = g.cfg.RelayAddr.As4()
		r.hops = 1
		r.circuit = g.circuitID(idx)
	}
	m := g.meta(idx, unicast, r.ciaddr)
	g.queue(&m, &r)
}

// circuitID is the option 82 circuit-id of client idx: "c" and the index
// in hex, in a scratch buffer reused per message.
func (g *Generator) circuitID(idx uint32) []byte {
	const hexd = "0123456789abcdef"
	b := g.circ[:9]
	b[0] = 'c'
	for i := range 8 {
		b[8-i] = hexd[(idx>>(4*i))&0xf]
	}
	return b
}

// meta returns the headers for a message of client idx: broadcast from
// 0.0.0.0 (or from ciaddr), or unicast to the server, or through the relay.
func (g *Generator) meta(idx uint32, unicast bool, src [4]byte) handoff.Meta {
	mac := g.MAC(int(idx))
	if g.cfg.Relay {
		return handoff.Meta{SrcMAC: g.tr.MAC(), DstMAC: g.cfg.ServerMAC, SrcIP: g.cfg.RelayAddr.As4(), DstIP: g.cfg.ServerAddr.As4(), SrcPort: 67, DstPort: 67}
	}
	m := handoff.Meta{SrcMAC: mac, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, SrcIP: src, DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67}
	if unicast && g.macKnown {
		m.DstMAC = g.serverMAC
		m.DstIP = g.clients[idx].server
	}
	return m
}

func (g *Generator) sendDiscover(idx uint32, now int64) {
	if g.cfg.V6 {
		g.send6(idx, now, dhcp6.Solicit)
	} else {
		g.send(idx, now, dhcpview.MsgDiscover, request{}, false)
	}
	g.st.sent.Discover++
	g.arm(idx, now)
}

func (g *Generator) sendRequest(idx uint32, now int64) {
	c := &g.clients[idx]
	if g.cfg.V6 {
		g.send6(idx, now, dhcp6.Request)
	} else {
		g.send(idx, now, dhcpview.MsgRequest, request{reqIP: c.offered, serverID: c.server}, false)
	}
	g.st.sent.Request++
	g.arm(idx, now)
}

// sendRenew sends a renewing (unicast) or rebinding (broadcast) REQUEST
// with ciaddr and without options 50 and 54 (RFC 2131 4.3.2).
func (g *Generator) sendRenew(idx uint32, now int64) {
	c := &g.clients[idx]
	renewing := c.state == stRenewing
	switch {
	case g.cfg.V6 && renewing:
		g.send6(idx, now, dhcp6.Renew)
	case g.cfg.V6:
		g.send6(idx, now, dhcp6.Rebind)
	default:
		g.send(idx, now, dhcpview.MsgRequest, request{ciaddr: c.addr}, renewing)
	}
	if renewing {
		g.st.sent.Renew++
	} else {
		g.st.sent.Rebind++
	}
	g.arm(idx, now)
}

func (g *Generator) sendDecline(idx uint32, now int64) {
	c := &g.clients[idx]
	g.send(idx, now, dhcpview.MsgDecline, request{reqIP: c.addr, serverID: c.server}, false)
	g.st.sent.Decline++
}

func (g *Generator) sendRelease(idx uint32, now int64) {
	c := &g.clients[idx]
	g.send(idx, now, dhcpview.MsgRelease, request{ciaddr: c.addr, serverID: c.server}, true)
	g.st.sent.Release++
}

// queue builds the frame into the next lent TX buffer from its template,
// flushing a full batch. When the transport lends no buffer (every TX
// frame in flight), the frame is counted attempted and not sent.
func (g *Generator) queue(m *handoff.Meta, r *request) {
	slot, ok := g.txSlot()
	if !ok {
		return
	}
	g.txQueued(slot, g.tmpl.get(r).build(g.txBufs[slot], m, r))
}

// txSlot counts a frame attempted and returns the index of the lent TX
// buffer to build it in, borrowing more after flushing when all are used.
// It reports false (and counts the frame not sent) when the transport
// lends none.
func (g *Generator) txSlot() (int, bool) {
	st := g.st
	st.txAttempted++
	if g.txN == g.txAvail {
		g.flush()
		g.txAvail = g.pipe.txFrames(g.txBufs)
		if g.txAvail == 0 {
			st.sent.TxErrors++
			return 0, false
		}
	}
	return g.txN, true
}

// txQueued records the frame of n bytes built in slot, flushing a full
// batch.
func (g *Generator) txQueued(slot, n int) {
	g.txLens[slot] = n
	g.txN++
	if g.txN == len(g.txBufs) {
		g.flush()
	}
}

// flush sends the queued frames and gives the unused lent buffers back.
func (g *Generator) flush() {
	if g.txAvail == 0 {
		return
	}
	for i := g.txN; i < g.txAvail; i++ {
		g.txLens[i] = 0
	}
	sent, err := g.pipe.sendFrames(g.txLens[:g.txAvail])
	g.st.txSent += uint64(sent)
	if err != nil || sent < g.txN {
		g.st.sent.TxErrors += uint64(g.txN - min(sent, g.txN))
	}
	g.txN, g.txAvail = 0, 0
}

// expire handles the attempts whose timeout has passed: retransmit, or
// give the exchange up.
func (g *Generator) expire(now int64, ph phase, sending bool) {
	for g.toHead < len(g.timeouts) {
		e := g.timeouts[g.toHead]
		if e.at > now {
			break
		}
		g.toHead++
		c := &g.clients[e.idx]
		if e.gen != c.gen {
			continue // answered, or superseded
		}
		if int(c.tries) < g.cfg.Retries && sending {
			c.tries++
			g.st.sent.Retransmits++
			switch c.state {
			case stSelecting:
				g.sendDiscover(e.idx, now)
			case stRequesting:
				g.sendRequest(e.idx, now)
			case stRenewing, stRebinding:
				g.sendRenew(e.idx, now)
			}
			continue
		}
		g.giveUp(e.idx, now)
	}
	// Compact the FIFO once its consumed head dominates.
	if g.toHead > 4096 && g.toHead*2 > len(g.timeouts) {
		n := copy(g.timeouts, g.timeouts[g.toHead:])
		g.timeouts, g.toHead = g.timeouts[:n], 0
	}
}

// giveUp counts the exchange of client idx as lost.
func (g *Generator) giveUp(idx uint32, now int64) {
	c := &g.clients[idx]
	c.gen++
	g.inflight--
	switch c.state {
	case stSelecting, stRequesting:
		g.st.kLost[kDORA]++
		g.newXid(c) // a late reply is then recognised as late
		c.state = stFree
		g.free.push(idx)
	case stRenewing, stRebinding:
		kind := kRenew
		if c.state == stRebinding {
			kind = kRebind
		}
		g.st.kLost[kind]++
		g.newXid(c)
		// The lease is still valid: the client stays bound.
		c.state = stBound
		g.bound.push(idx)
	}
}

// runScheduled starts the follow-ups that are due.
func (g *Generator) runScheduled(now int64, ph phase) {
	for len(g.sched) > 0 && g.sched[0].at <= now {
		e := g.sched.pop()
		c := &g.clients[e.idx]
		if e.gen != c.gen || c.state != stScheduled {
			continue
		}
		if int(c.renews) < g.cfg.Renewals {
			c.renews++
			g.startRenew(e.idx, kRenew, now)
		} else {
			c.rebound = true
			g.startRenew(e.idx, kRebind, now)
		}
	}
}

// afterBound runs the client's script once it holds a lease.
func (g *Generator) afterBound(idx uint32, kind uint8, now int64, ph phase) {
	c := &g.clients[idx]
	if ph.warm {
		c.state = stBound
		g.bound.push(idx)
		return
	}
	if kind == kDORA && g.cfg.DeclineEvery > 0 && idx%uint32(g.cfg.DeclineEvery) == 0 && !c.declined {
		c.declined = true
		g.sendDecline(idx, now)
		// A declined address must never be handed out again in this run.
		g.owner[be32(c.addr)] = ownerDeclined
		c.addr = [4]byte{}
		// Starting over is a new DORA exchange, a scripted follow-up.
		g.startDORA(idx, now)
		return
	}
	if int(c.renews) < g.cfg.Renewals || (g.cfg.Rebind && !c.rebound) {
		delay := int64(g.cfg.RenewAfter)
		if delay == 0 {
			delay = int64(c.t1) * int64(time.Second)
		}
		c.state = stScheduled
		c.gen++
		g.sched.push(timerEntry{at: now + delay, idx: idx, gen: c.gen})
		return
	}
	if g.cfg.Release {
		g.sendRelease(idx, now)
		delete(g.owner, be32(c.addr))
		c.addr = [4]byte{}
		c.state = stFree
		c.renews, c.rebound, c.declined = 0, false, false
		g.free.push(idx)
		return
	}
	c.state = stBound
	g.bound.push(idx)
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

// complete ends the exchange of client idx successfully at arrival time at.
func (g *Generator) complete(idx uint32, kind uint8, at int64) {
	c := &g.clients[idx]
	st := g.st
	c.gen++
	g.inflight--
	st.kDone[kind]++
	d := time.Duration(at - c.start)
	st.lat[kind].Record(d)
	st.secHist.Record(d)
	switch kind {
	case kDORA:
		st.sec.DORA++
		st.ra.Record(time.Duration(at - c.sent))
	case kRenew:
		st.sec.Renew++
	case kRebind:
		st.sec.Rebind++
	}
}

func (g *Generator) wrong(reason int) { g.st.wrong[reason]++ }

// handleFrame is the pipe's callback: one frame, arrived at g.rxAt.
func (g *Generator) handleFrame(b []byte) { g.handle(b, g.rxAt, g.ph) }

// handle validates one received frame and advances its client. The reply
// is read in place by parseReply; the replies that parser finds odd, and
// a deterministic sample of the others, are also decoded with
// insomniacslk/dhcp and must agree with it (fullCheck).
func (g *Generator) handle(b []byte, at int64, ph phase) {
	if g.cfg.V6 {
		g.handle6(b, at, ph)
		return
	}
	st := g.st
	st.received++
	var m handoff.Meta
	payload, err := frame.Parse(b, &m)
	if err != nil {
		st.malformed++
		return
	}
	v := &g.view
	switch parseReply(payload, v) {
	case parseOK:
	case parseNoType:
		v.odd = true // maybe in an overloaded field: the full decoder decides
	default:
		st.malformed++
		return
	}
	st.cheap++
	if v.odd {
		st.odd++
	}
	if v.odd || st.cheap <= uint64(g.cfg.FullCheckFirst) || st.cheap%uint64(g.cfg.FullCheckEvery) == 0 {
		if !g.fullCheck(payload, v) {
			return
		}
	}
	if v.op != 2 {
		g.wrong(wrNotReply)
		return
	}
	mac := v.chaddr
	if mac[0] != g.cfg.MACPrefix[0] || mac[1] != g.cfg.MACPrefix[1] {
		g.wrong(wrForeignClient)
		return
	}
	idx := uint32(mac[2])<<24 | uint32(mac[3])<<16 | uint32(mac[4])<<8 | uint32(mac[5])
	if int64(idx) >= int64(len(g.clients)) {
		g.wrong(wrForeignClient)
		return
	}
	c := &g.clients[idx]
	if v.xid != c.xid {
		if v.xid == c.prevXid {
			st.late++
		} else {
			g.wrong(wrUnknownXid)
		}
		return
	}
	if g.cfg.Relay && !g.relayEchoed(v, idx, &m) {
		g.wrong(wrRelay)
		return
	}
	mt := v.msgType
	switch mt {
	case dhcpview.MsgOffer:
		st.offers++
	case dhcpview.MsgAck:
		st.acks++
	case dhcpview.MsgNak:
		st.naks++
	}
	switch c.state {
	case stSelecting:
		if mt != dhcpview.MsgOffer {
			g.wrong(wrUnexpectedType)
			return
		}
		yi, ok := g.checkAddr(v.yiaddr)
		if !ok {
			return
		}
		if !v.hasServerID || v.serverID == ([4]byte{}) {
			g.wrong(wrNoServerID)
			return
		}
		g.learnServer(&m)
		st.do.Record(time.Duration(at - c.sent))
		c.offered, c.server = yi, v.serverID
		c.state, c.tries = stRequesting, 0
		g.sendRequest(idx, g.now())
		// REQUEST→ACK latency runs from the REQUEST's send time, which
		// sendRequest stored in c.sent.
	case stRequesting:
		switch mt {
		case dhcpview.MsgOffer:
			st.dup++ // a retransmitted DISCOVER answered twice
		case dhcpview.MsgAck:
			yi, ok := g.checkAddr(v.yiaddr)
			if !ok {
				return
			}
			if yi != c.offered {
				g.wrong(wrAckMismatch)
				return
			}
			if !g.claim(idx, yi) {
				return
			}
			g.learnServer(&m)
			c.addr = yi
			c.t1 = v.t1Seconds()
			g.complete(idx, kDORA, at)
			g.afterBound(idx, kDORA, g.now(), ph)
		case dhcpview.MsgNak:
			st.kNak[kDORA]++
			c.gen++
			g.inflight--
			g.newXid(c)
			c.state = stFree
			g.free.push(idx)
		default:
			g.wrong(wrUnexpectedType)
		}
	case stRenewing, stRebinding:
		kind := kRenew
		if c.state == stRebinding {
			kind = kRebind
		}
		switch mt {
		case dhcpview.MsgAck:
			yi, ok := g.checkAddr(v.yiaddr)
			if !ok {
				return
			}
			if yi != c.addr {
				g.wrong(wrAckMismatch)
				return
			}
			c.t1 = v.t1Seconds()
			g.complete(idx, kind, at)
			g.afterBound(idx, kind, g.now(), ph)
		case dhcpview.MsgNak:
			st.kNak[kind]++
			c.gen++
			g.inflight--
			delete(g.owner, be32(c.addr))
			c.addr = [4]byte{}
			g.newXid(c)
			c.state = stFree
			g.free.push(idx)
		default:
			g.wrong(wrUnexpectedType)
		}
	default:
		// The exchange is over: a second answer to a retransmission.
		st.dup++
	}
}

// fullCheck decodes payload with insomniacslk/dhcp and compares it with
// the in-place reading v. For an odd reply the full decoder's reading of
// the options replaces v's (it handles overload and repeated options); for
// the others any disagreement is a wrong reply, since one of the two
// parsers misread it. It reports whether handling may go on.
func (g *Generator) fullCheck(payload []byte, v *replyView) bool {
	st := g.st
	st.full++
	d, err := dhcpv4.FromBytes(payload)
	if err != nil {
		st.malformed++
		return false
	}
	yi, _ := netip.AddrFromSlice(d.YourIPAddr.To4())
	gi, _ := netip.AddrFromSlice(d.GatewayIPAddr.To4())
	if !v.inPlace && len(d.ClientHWAddr) >= 6 {
		// The in-place view could not read this reply at all: the full
		// decoder's reading is the only one.
		v.op, v.xid, v.chaddr = byte(d.OpCode), be32([4]byte(d.TransactionID)), [6]byte(d.ClientHWAddr[:6])
		v.yiaddr, v.giaddr = yi.Unmap().As4(), gi.Unmap().As4()
	}
	if byte(d.OpCode) != v.op || [4]byte(d.TransactionID) != be32b(v.xid) || yi.Unmap().As4() != v.yiaddr ||
		len(d.ClientHWAddr) < 6 || [6]byte(d.ClientHWAddr[:6]) != v.chaddr {
		g.wrong(wrDecoderMismatch)
		return false
	}
	var sid [4]byte
	hasSID := false
	if a, ok := netip.AddrFromSlice(d.ServerIdentifier().To4()); ok {
		sid, hasSID = a.As4(), true
	}
	t1 := uint32(d.IPAddressRenewalTime(d.IPAddressLeaseTime(0)/2) / time.Second)
	if v.odd {
		v.msgType = byte(d.MessageType())
		v.serverID, v.hasServerID = sid, hasSID
		v.t1, v.hasT1, v.hasLease = t1, true, false
		v.circuit, v.hasRAI = nil, false
		if rai := d.RelayAgentInfo(); rai != nil {
			v.circuit, v.hasRAI = rai.Get(dhcpv4.GenericOptionCode(1)), true
		}
		return true
	}
	if byte(d.MessageType()) != v.msgType || hasSID != v.hasServerID || sid != v.serverID || t1 != v.t1Seconds() {
		g.wrong(wrDecoderMismatch)
		return false
	}
	return true
}

func be32b(v uint32) [4]byte { return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// checkAddr checks that yiaddr is a unicast address inside the subnet.
func (g *Generator) checkAddr(a [4]byte) ([4]byte, bool) {
	ip := netip.AddrFrom4(a)
	if ip.IsUnspecified() || (g.cfg.Subnet.IsValid() && !g.cfg.Subnet.Contains(ip)) {
		g.wrong(wrOutsideSubnet)
		return [4]byte{}, false
	}
	return a, true
}

// claim records that client idx holds a; it fails (wrong) if another
// client holds it, or if it was declined.
func (g *Generator) claim(idx uint32, a [4]byte) bool {
	k := be32(a)
	if o, ok := g.owner[k]; ok {
		if o == ownerDeclined {
			g.wrong(wrDeclinedReassigned)
			return false
		}
		if o != idx {
			other := &g.clients[o]
			switch other.state {
			case stBound, stScheduled, stRenewing, stRebinding:
				if other.addr == a {
					g.wrong(wrDoubleAssign)
					return false
				}
			}
		}
	}
	c := &g.clients[idx]
	if c.addr != ([4]byte{}) && c.addr != a {
		if o, ok := g.owner[be32(c.addr)]; ok && o == idx {
			delete(g.owner, be32(c.addr))
		}
	}
	g.owner[k] = idx
	return true
}

// relayEchoed checks that a relayed reply came back to the relay: giaddr
// unchanged, to port 67, and option 82 (if echoed) with our circuit-id.
func (g *Generator) relayEchoed(v *replyView, idx uint32, m *handoff.Meta) bool {
	if netip.AddrFrom4(v.giaddr) != g.cfg.RelayAddr || m.DstPort != 67 {
		return false
	}
	return v.circuit == nil || string(v.circuit) == string(g.circuitID(idx))
}

// learnServer remembers the server's MAC for unicast renewals in direct mode.
func (g *Generator) learnServer(m *handoff.Meta) {
	if !g.macKnown && !g.cfg.Relay {
		g.serverMAC, g.macKnown = m.SrcMAC, true
	}
}

// offerWindow is the time over which exchanges were started: from the
// phase's start to its last start plus one interval of the asked rate
// (the n-th start of an open loop at rate r happens at (n-1)/r), at most
// the measured window. A run whose count ran out early, or that waited
// for scheduled renewals, offered its exchanges at the asked rate, not
// at count/window.
func offerWindow(st *stats, window time.Duration, c Config) time.Duration {
	if c.Mode != Open || c.Rate <= 0 || st.started == 0 {
		return window
	}
	span := time.Duration(st.lastStart-st.phaseStart) + time.Duration(float64(time.Second)/c.Rate)
	return min(max(span, time.Microsecond), window)
}

// exchange summarises kind for the report; window is the measured window.
func (s *stats) exchange(kind uint8, window time.Duration) ExchangeStats {
	e := ExchangeStats{
		Started:   s.kStarted[kind],
		Completed: s.kDone[kind],
		Lost:      s.kLost[kind],
		Naks:      s.kNak[kind],
		Latency:   s.lat[kind].Summary(),
	}
	if window > 0 {
		e.Rate = float64(s.windowDone[kind]) / window.Seconds()
	}
	return e
}

// report builds the Report of the measured phase.
func (g *Generator) report(st *stats, window time.Duration, start time.Time) *Report {
	c := g.cfg
	r := &Report{
		Settings: Settings{
			Mode: string(c.Mode), Clients: c.Clients, Count: c.Count, DurationS: c.Duration.Seconds(),
			WarmupClients: c.WarmupClients, RenewFraction: c.RenewFraction, Renewals: c.Renewals,
			Rebind: c.Rebind, Release: c.Release, DeclineEvery: c.DeclineEvery, Relay: c.Relay,
			ClientID: c.ClientID, TimeoutS: c.Timeout.Seconds(), Retries: c.Retries, Transport: g.trName,
		},
		Start:         start,
		DurationS:     window.Seconds(),
		DORA:          st.exchange(kDORA, window),
		Renew:         st.exchange(kRenew, window),
		Rebind:        st.exchange(kRebind, window),
		DiscoverOffer: st.do.Summary(),
		RequestAck:    st.ra.Summary(),
		Sent:          st.sent,
		Received:      st.received,
		Offers:        st.offers,
		Acks:          st.acks,
		Naks:          st.naks,
		Lost:          st.lost(),
		Wrong:         st.wrongTotal(),
		Malformed:     st.malformed,
		Late:          st.late,
		Duplicate:     st.dup,
		Skipped:       st.skipped,
		Series:        st.series,
		Validation: Validation{Cheap: st.cheap, Full: st.full, Odd: st.odd,
			FullEvery: c.FullCheckEvery, FullFirst: c.FullCheckFirst},
	}
	if c.Mode == Open {
		r.Settings.Rate = c.Rate
	} else {
		r.Settings.Outstanding = c.Outstanding
	}
	if window > 0 {
		r.OfferedRate = float64(st.started) / offerWindow(st, window, c).Seconds()
		r.AchievedRate = r.DORA.Rate + r.Renew.Rate + r.Rebind.Rate
	}
	ended := r.Lost
	for _, v := range st.kDone {
		ended += v
	}
	if ended > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(ended)
	}
	for i, v := range st.status6 {
		if v > 0 {
			if r.StatusCodes == nil {
				r.StatusCodes = map[string]uint64{}
			}
			r.StatusCodes[statusNames[i]] = v
		}
	}
	r.Settings.V6 = c.V6
	if r.Wrong > 0 {
		r.WrongReasons = map[string]uint64{}
		for i, v := range st.wrong {
			if v > 0 {
				r.WrongReasons[wrongNames[i]] = v
			}
		}
	}
	return r
}
