package main

// Crash safety: an ACK leaves only after its lease is on disk, so killing
// the daemon with SIGKILL under load loses no lease a client was given —
// not at a random moment, not in the middle of a lease file cleanup, not
// right after a restart, and not when the lease file ends in a torn line.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/internal/daemontest"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// crashKills is the number of SIGKILLs per packet path.
const crashKills = 24

// ackedLease is what a client was promised by its last ACK for an address.
type ackedLease struct {
	mac      string
	clientID string // colon hex as in the lease file, "" without option 61
	// expiry is the latest time the client may rely on: the moment it
	// sent the REQUEST plus the lease time of the ACK (RFC 2131 4.4.1).
	expiry int64
}

// ackRecorder runs DORAs with fresh MACs one after another, renews some of
// the leases at once, and records every address it was ACKed, with the
// client it was ACKed to and the expiry the ACK promised.
type ackRecorder struct {
	e *e2eEnv

	mu      sync.Mutex
	acked   map[string]ackedLease // address -> last ACK
	dup     []string              // addresses ACKed to two different clients
	n       int                   // ACKs so far (DORAs and renewals)
	renewed int
	tried   int
	failed  int
}

func (r *ackRecorder) run(ctx context.Context, id int) {
	for i := 0; ctx.Err() == nil; i++ {
		m := mac(byte(0x70+id), i)
		var c *nclient4.Client
		err := r.e.cli.Do(func() error {
			var err error
			c, err = nclient4.New(e2eClientIf, nclient4.WithHWAddr(m),
				nclient4.WithTimeout(300*time.Millisecond), nclient4.WithRetry(2))
			return err
		})
		if err != nil {
			r.e.t.Errorf("recorder client: %v", err)
			return
		}
		// Odd recorders identify by a client-id that is not the MAC, so
		// that the lease file must keep both.
		var mods []dhcpv4.Modifier
		cid := ""
		if id%2 == 1 {
			raw := []byte{0, 's', 'k', byte(id), byte(i >> 8), byte(i)}
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(raw)))
			cid = colonHex(raw)
		}
		sent := time.Now()
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := c.Request(dctx, mods...)
		cancel()
		r.record(m.String(), cid, sent, l, err, false)
		if err == nil && i%3 == 0 {
			// A renewal right away: in XDP mode the fast path answers it
			// from its lease cache without a write; its promise must hold
			// across a kill as well.
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			nl, err := c.Renew(rctx, l, mods...)
			cancel()
			if err == nil {
				r.record(m.String(), cid, sent, nl, nil, true)
			}
		}
		c.Close()
	}
}

// record notes the outcome of one exchange begun at sent.
func (r *ackRecorder) record(hw, cid string, sent time.Time, l *nclient4.Lease, err error, renewal bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !renewal {
		r.tried++
	}
	if err != nil {
		r.failed++ // the daemon was down, or killed mid-exchange
		return
	}
	ip := l.ACK.YourIPAddr.String()
	lt := l.ACK.IPAddressLeaseTime(0)
	if lt <= 0 {
		r.e.t.Errorf("ACK for %s to %s has no lease time", ip, hw)
		return
	}
	if prev, ok := r.acked[ip]; ok && prev.mac != hw {
		r.dup = append(r.dup, ip+" to "+prev.mac+" and "+hw)
	}
	r.acked[ip] = ackedLease{mac: hw, clientID: cid, expiry: sent.Add(lt).Unix()}
	r.n++
	if renewal {
		r.renewed++
	}
}

func (r *ackRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// waitACKs waits until the recorder has n ACKs in total.
func (r *ackRecorder) waitACKs(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if !poll(timeout, func() bool { return r.count() >= n }) {
		t.Fatalf("recorder: %d ACKs after %v, want %d", r.count(), timeout, n)
	}
}

// colonHex formats b as the lease file and the lease commands do.
func colonHex(b []byte) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = fmt.Sprintf("%02x", v)
	}
	return strings.Join(s, ":")
}

// crashSlack is the clock slack of the expiry check: the server stamps a
// lease in whole seconds at some moment after the client sent its REQUEST.
const crashSlack = 2

func TestE2EKill9LosesNoAckedLease(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("XDHCP_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("XDHCP_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("kill timing seed %d (rerun with XDHCP_CRASH_SEED=%d)", seed, seed)
	forModes(t, func(t *testing.T, e *e2eEnv) {
		testKill9(t, e, pd, seed)
	})
}

// unpinAtEnd removes, once the test is over, the bpffs pins the daemon
// keeps for the lab's server namespace (a daemon that stops, is killed or
// restarts leaves them on purpose: the pinned program keeps the drop list).
// newEnv calls it before any daemon starts, so that its cleanup runs after
// the daemons'; otherwise each test's pins stayed until the next daemon
// start removed them as stale, and the suite left the last test's behind.
func unpinAtEnd(t testing.TB, e *e2eEnv) {
	t.Helper()
	daemontest.UnpinAtEnd(t, e.srv)
}

func testKill9(t *testing.T, e *e2eEnv, pd string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(len(e.mode))))
	cfg := e.bigPoolConfig()
	// Lease file cleanup every second, so that kills land in the middle of
	// one (rotation, compaction, the renames that finish it).
	dhcp4(cfg)["lease-database"].(map[string]any)["lfc-interval"] = 1
	d := e.startDaemon(cfg)

	// Background load from perfdhcp (as a relay); its own results are not
	// judged here since the server is down part of the time.
	pctx, pcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer pcancel()
	perf := e.cli.Command(pctx, pd, "-4", "-l", e2eClientIP, "-R", "100000", "-r", "150", "-p", "170", e2eServerIP)
	if err := e.cli.Start(perf); err != nil {
		t.Fatal(err)
	}
	perfDone := make(chan struct{})
	go func() { perf.Wait(); close(perfDone) }()
	stopPerf := func() {
		_ = perf.Process.Kill()
		<-perfDone
	}
	defer stopPerf()

	rec := &ackRecorder{e: e, acked: map[string]ackedLease{}}
	rctx, rcancel := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	// Several recorders, so that some exchanges are always in flight when
	// the kill comes.
	var wg sync.WaitGroup
	for id := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); rec.run(rctx, id) }()
	}
	go func() { wg.Wait(); close(recDone) }()
	var stopOnce sync.Once
	stopRec := func() { stopOnce.Do(func() { rcancel(); <-recDone }) }
	defer stopRec()

	start := time.Now()
	midLFC, torn := 0, 0
	for k := range crashKills {
		var how string
		switch k % 3 {
		case 0:
			// Some ACKs from this incarnation, then a random moment.
			rec.waitACKs(t, rec.count()+3+rng.IntN(40), 20*time.Second)
			time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond)
			how = "random"
		case 1:
			// As soon as a lease file cleanup starts (its pid file
			// appears), plus up to a few milliseconds into it.
			if crashWaitLFC(e.leasePath()+".pid", d.PID(), 4*time.Second) {
				crashSpin(time.Duration(rng.IntN(3000)) * time.Microsecond)
				how = "lfc"
			} else {
				how = "lfc-missed"
			}
		case 2:
			// Right after the restart, while the clients' retries of the
			// previous incarnation's exchanges come in.
			time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
			how = "early"
		}
		inLFC := crashLFCFiles(e.leasePath())
		d.Kill9()
		if how == "lfc" {
			midLFC++
		}
		// Every fourth kill leaves a torn last line, as a kill in the
		// middle of an append would (rarely, since a row is one write).
		tore := k%4 == 3 && crashTear(t, e.leasePath(), k)
		if tore {
			torn++
		}
		t.Logf("kill %2d (%s%s): %d ACKs recorded so far", k+1, how, inLFC, rec.count())
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		d.Restart()
		if tore && !strings.Contains(d.LogSince(), "torn last line") {
			t.Errorf("restart after kill %d with a torn last line: the log does not mention it", k+1)
		}
	}
	rec.waitACKs(t, rec.count()+10, 20*time.Second)
	stopRec()
	stopPerf()
	t.Logf("%d kills in %v: %d during lease file cleanup, %d with a torn last line",
		crashKills, time.Since(start).Round(time.Millisecond), midLFC, torn)

	if all, err := os.ReadFile(d.LogPath()); err == nil {
		t.Logf("daemon log: %d lease file cleanups done, %d failed, %d skipped",
			bytes.Count(all, []byte("lease file cleanup done")), bytes.Count(all, []byte("lease file cleanup failed")),
			bytes.Count(all, []byte("lease file cleanup skipped")))
		for _, l := range strings.Split(string(all), "\n") {
			if strings.Contains(l, "cleanup failed") || strings.Contains(l, "cleanup skipped") {
				t.Log(l)
				break
			}
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	t.Logf("recorder: %d DORAs, %d ACKs (%d renewals), %d exchanges failed (daemon down), %d addresses",
		rec.tried, rec.n, rec.renewed, rec.failed, len(rec.acked))
	if len(rec.acked) < 100 {
		t.Errorf("only %d addresses ACKed: the test did not load the server", len(rec.acked))
	}
	for _, s := range rec.dup {
		t.Errorf("address ACKed to two clients: %s", s)
	}

	// The daemon's view after the last restart.
	byIP := map[string]leaseJSON{}
	for _, l := range d.leases() {
		byIP[l.IPAddress] = l
	}
	lost := 0
	for ip, a := range rec.acked {
		l, ok := byIP[ip]
		if !ok || l.HWAddress != a.mac || l.ClientID != a.clientID || l.State != 0 || l.CLTT+int64(l.ValidLft) < a.expiry-crashSlack {
			lost++
			if lost <= 5 {
				t.Errorf("ACKed lease %s -> %s (client-id %q, expiry %d) after %d kills: lease4-get-all found=%v %+v (expiry %d)",
					ip, a.mac, a.clientID, a.expiry, crashKills, ok, l, l.CLTT+int64(l.ValidLft))
			}
		}
	}
	if lost > 0 {
		t.Errorf("lease4-get-all: %d of %d ACKed leases lost or wrong", lost, len(rec.acked))
	}

	// The lease files agree, read as Kea would load them, once the daemon
	// has stopped cleanly (SIGTERM: exit status 0).
	if err := d.Stop(); err != nil {
		t.Errorf("SIGTERM after the kill loop: %v", err)
	}
	live := crashLoadLeaseFiles(t, e.leasePath())
	lost = 0
	for ip, a := range rec.acked {
		r, ok := live[ip]
		if !ok || r.HWAddr != a.mac || r.ClientID != a.clientID || r.State != 0 || r.Expire < a.expiry-crashSlack {
			lost++
			if lost <= 5 {
				t.Errorf("lease file: ACKed %s -> %s (client-id %q, expiry %d) is %+v (present %v)",
					ip, a.mac, a.clientID, a.expiry, r, ok)
			}
		}
	}
	if lost > 0 {
		t.Errorf("lease files: %d of %d ACKed leases lost or wrong", lost, len(rec.acked))
	}
	// And no address is held by two clients, nor one client (MAC) by two
	// addresses among the recorded ones.
	holder := map[string]string{}
	for ip, r := range live {
		if _, ok := rec.acked[ip]; !ok || r.HWAddr == "" {
			continue
		}
		if prev, ok := holder[r.HWAddr]; ok {
			t.Errorf("lease file: %s holds both %s and %s", r.HWAddr, prev, ip)
		}
		holder[r.HWAddr] = ip
	}
}

// crashWaitLFC spins until the lease file cleanup's pid file names pid
// (a run of that process has begun: a killed one leaves its pid file
// behind) or timeout passes.
func crashWaitLFC(pidPath string, pid int, timeout time.Duration) bool {
	want := strconv.Itoa(pid)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidPath); err == nil && strings.TrimSpace(string(b)) == want {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// crashSpin waits d without giving the scheduler a chance to oversleep
// much (the window of a lease file cleanup is milliseconds).
func crashSpin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// crashLFCFiles names the lease file cleanup's files that exist now (a
// cleanup in progress), as " +.1 +.pid" etc.; "" when none.
func crashLFCFiles(path string) string {
	var b strings.Builder
	for _, s := range []string{".pid", ".1", ".output", ".completed"} {
		if _, err := os.Stat(path + s); err == nil {
			b.WriteString(" +" + s)
		}
	}
	return b.String()
}

// crashTear appends half a lease row without its newline to the live lease
// file, if it ends in a complete line (not in the instant of a rotation,
// when it may be empty), and reports whether it did.
func crashTear(t testing.TB, path string, k int) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 || b[len(b)-1] != '\n' || !bytes.Contains(b, []byte("\n")) {
		return false
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("tear lease file: %v", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "10.88.250.%d,02:78:65:ff:00:%02x,,36", k%250, k%256); err != nil {
		t.Fatalf("tear lease file: %v", err)
	}
	return true
}

// crashLoadLeaseFiles loads the lease files at path as Kea's memfile
// backend does at start-up: <path>.completed if it exists, else <path>.2
// then <path>.1, then <path> itself; the last row per address wins, a row
// with valid lifetime 0 deletes, and a torn last line is ignored.
func crashLoadLeaseFiles(t testing.TB, path string) map[string]csvRow {
	t.Helper()
	files := []string{path + ".2", path + ".1"}
	if _, err := os.Stat(path + ".completed"); err == nil {
		files = []string{path + ".completed"}
	}
	files = append(files, path)
	live := map[string]csvRow{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) && p != path {
			continue
		}
		if err != nil {
			t.Fatalf("read lease file: %v", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
			b = b[:i+1] // a torn last line
		}
		for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if n == 0 {
				if line != keaCSVHeader {
					t.Fatalf("lease file %s header %q", p, line)
				}
				continue
			}
			if line == "" {
				continue
			}
			r, err := crashParseRow(line)
			if err != nil {
				t.Fatalf("lease file %s line %d %q: %v", p, n+1, line, err)
			}
			if r.ValidLft == 0 {
				delete(live, r.Address)
				continue
			}
			live[r.Address] = r
		}
	}
	return live
}

// crashParseRow parses one row of a Kea v4 lease file (schema 2.1).
func crashParseRow(line string) (csvRow, error) {
	c := strings.Split(line, ",")
	if len(c) != 11 {
		return csvRow{}, fmt.Errorf("%d columns, want 11", len(c))
	}
	var nums [4]int64
	for i, col := range []int{3, 4, 5, 9} {
		v, err := strconv.ParseInt(c[col], 10, 64)
		if err != nil {
			return csvRow{}, fmt.Errorf("column %d: %w", col+1, err)
		}
		nums[i] = v
	}
	if net.ParseIP(c[0]) == nil {
		return csvRow{}, fmt.Errorf("address %q", c[0])
	}
	return csvRow{
		Address: c[0], HWAddr: c[1], ClientID: c[2],
		ValidLft: uint32(nums[0]), Expire: nums[1], SubnetID: uint32(nums[2]),
		FqdnFwd: c[6] == "1", FqdnRev: c[7] == "1",
		Hostname: keaUnescape(c[8]), State: int(nums[3]), UserContext: keaUnescape(c[10]),
	}, nil
}
