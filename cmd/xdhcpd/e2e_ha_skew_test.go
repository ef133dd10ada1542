package main

// Clock skew towards a Kea 2.2 partner: Kea runs with its wall clock moved
// by a preloaded library (testdata/clockshift.c), and xdhcpd must do what
// Kea does on each side: warn above 30 s and keep the pair working, end the
// HA service (terminated) above 60 s.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
)

// clockShiftLib compiles testdata/clockshift.c with clang-14 into a
// temporary directory and returns the library's path.
func clockShiftLib(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("clang-14")
	if err != nil {
		t.Skipf("clang-14 not installed (it builds the clock-shifting library): %v", err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "clockshift.c"))
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(t.TempDir(), "libclockshift.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", lib, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("clang-14 clockshift.c: %v\n%s", err, out)
	}
	return lib
}

// skewCase is one run: Kea as server kea ("server1" the primary or
// "server2" the standby), its clock off by skew (positive: ahead).
type skewCase struct {
	kea  string
	skew time.Duration
}

func (c skewCase) String() string {
	return fmt.Sprintf("kea-%s-%+ds", c.kea, int(c.skew.Seconds()))
}

// TestE2EHAKeaClockSkew pairs xdhcpd with Kea 2.2 in hot-standby, Kea's
// clock off. By default: Kea as the standby 45 s ahead (both warn, the
// pair keeps working) and Kea as the primary 70 s behind (both end HA:
// terminated). XDHCP_HA_FAULTS_ALL=1 runs ±45 s and ±70 s in both roles.
func TestE2EHAKeaClockSkew(t *testing.T) {
	t.Parallel()
	needKeaHooks(t)
	for _, b := range faultKeaBinDeps {
		needBinary(t, b)
	}
	lib := clockShiftLib(t)
	cases := []skewCase{{"server2", 45 * time.Second}, {"server1", -70 * time.Second}}
	if os.Getenv("XDHCP_HA_FAULTS_ALL") != "" {
		cases = nil
		for _, kea := range []string{"server1", "server2"} {
			for _, s := range []int{45, -45, 70, -70} {
				cases = append(cases, skewCase{kea, time.Duration(s) * time.Second})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) { clockSkew(t, lib, c) })
	}
}

func clockSkew(t *testing.T, lib string, c skewCase) {
	_, seg, n1, n2 := haPair(t)
	pr := keaPeering{mode: "hot-standby", keaEnv: []string{"LD_PRELOAD=" + lib,
		"CLOCKSHIFT_SECONDS=" + strconv.Itoa(int(c.skew.Seconds()))}}
	var kea *keaProc
	var keaNode, usNode *haNode
	for _, n := range []*haNode{n1, n2} {
		ifc := map[*haNode]string{n1: "s1", n2: "s2"}[n]
		rel := pr.rel(n.name, "10.99.0.1", "10.99.0.2")
		if n.name == c.kea {
			kea, keaNode = n.startKeaHA(needBinary(t, "kea-dhcp4"), ifc, rel, pr), n
			continue
		}
		n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, subnets: []any{pr.subnet()}, rels: []any{rel}}))
		usNode = n
	}
	us := usNode.d
	keaLog := func() string {
		b, _ := os.ReadFile(filepath.Join(keaNode.env.dir, "kea.log"))
		return string(b)
	}

	// Kea's clock is off as set: the time its HA hook reports in a
	// heartbeat (what xdhcpd computes the skew from) is skew away from ours.
	got := keaClockOffset(t, kea.ctl)
	if d := got - c.skew; d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("Kea's heartbeat date-time is %v off our clock, want %v: the preloaded library did not move Kea's clock", got, c.skew)
	}
	t.Logf("Kea's heartbeat date-time is %v off our clock", got)

	start := time.Now()
	if c.skew.Abs() <= 60*time.Second {
		// Both warn, and the pair works as without skew.
		waitPair(t, us, kea.ctl, "hot-standby", 30*time.Second)
		if !poll(10*time.Second, func() bool { return us.LogCount("clock skew with partner") > 0 }) {
			t.Error("xdhcpd logged no clock skew warning")
		}
		if !poll(10*time.Second, func() bool { return strings.Contains(keaLog(), "HA_HIGH_CLOCK_SKEW ") }) {
			t.Error("Kea logged no HA_HIGH_CLOCK_SKEW")
		}
		w := seg.wire()
		cs := haClients(1, 2)
		acks := newAckLog()
		acks.add(w.probe(t, cs, 6*time.Second), cs)
		if len(acks.mac) != len(cs) {
			t.Fatalf("%d of %d clients got a lease from the pair", len(acks.mac), len(cs))
		}
		for ip, mac := range acks.mac {
			for _, s := range []daemontest.Commander{us, kea.ctl} {
				if !pollLease(s, ip, mac, 5*time.Second) {
					t.Errorf("lease %s of %s (acknowledged by %s) is not on both servers", ip, mac, acks.by[ip])
				}
			}
		}
		// Three more heartbeats later both are still in hot-standby.
		time.Sleep(3 * time.Second)
		if !pollPair(us, kea.ctl, "hot-standby", time.Second) {
			t.Errorf("the pair left hot-standby with a %v skew: %s", c.skew, skewStates(us, kea.ctl))
		}
		for who, log := range map[string]string{"Kea": keaLog(), "xdhcpd": us.Log()} {
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "HA_HIGH_CLOCK_SKEW") || strings.Contains(l, "clock skew with partner") {
					t.Logf("%s: %s", who, l)
					break
				}
			}
		}
		t.Logf("FIGURE HA clock skew | Kea %s, clock %+ds | warnings on both, pair in hot-standby, leases on both | %s",
			c.kea, int(c.skew.Seconds()), skewStates(us, kea.ctl))
		return
	}
	// Above 60 s both end the HA service, as Kea does.
	waitState(t, us, 0, "terminated", 20*time.Second)
	usTook := time.Since(start)
	waitState(t, kea.ctl, 0, "terminated", 20*time.Second)
	if !strings.Contains(keaLog(), "HA_HIGH_CLOCK_SKEW_CAUSES_TERMINATION") {
		t.Error("Kea logged no HA_HIGH_CLOCK_SKEW_CAUSES_TERMINATION")
	}
	if us.LogCount(`"to":"terminated"`)+us.LogCount("to=terminated") == 0 {
		t.Error("xdhcpd logged no transition to terminated")
	}
	// Terminated servers still serve their own clients (in hot-standby the
	// primary), without lease updates.
	w := seg.wire()
	cs := haClients(2, 1)
	res := w.probe(t, cs, 6*time.Second)
	served := "nobody"
	if r, ok := res[0]; ok {
		served = r.server
		if c.kea == "server2" {
			// xdhcpd is the primary: it answers and sends no update.
			time.Sleep(time.Second)
			noLease(t, kea.ctl, "Kea (terminated partner)", r.addr)
		}
	} else if c.kea == "server2" {
		t.Error("terminated xdhcpd primary answered no client")
	}
	t.Logf("FIGURE HA clock skew | Kea %s, clock %+ds | xdhcpd terminated %.1f s after start, Kea terminated | client served by %s | %s",
		c.kea, int(c.skew.Seconds()), usTook.Seconds(), served, skewStates(us, kea.ctl))
}

// keaClockOffset asks Kea for a heartbeat and returns how far the time it
// reports is from ours.
func keaClockOffset(t *testing.T, kea daemontest.Commander) time.Duration {
	t.Helper()
	var a daemontest.Answer
	if !poll(15*time.Second, func() bool {
		var err error
		a, err = kea.Try("ha-heartbeat", nil)
		return err == nil && a.Result == 0
	}) {
		t.Fatalf("ha-heartbeat to Kea: %d %s", a.Result, a.Text)
	}
	var hb struct {
		DateTime string `json:"date-time"`
	}
	if err := json.Unmarshal(a.Arguments, &hb); err != nil {
		t.Fatalf("ha-heartbeat answer %s: %v", a.Arguments, err)
	}
	at, err := http.ParseTime(hb.DateTime)
	if err != nil {
		t.Fatalf("Kea's date-time %q: %v", hb.DateTime, err)
	}
	return at.Sub(time.Now().Truncate(time.Second)).Round(time.Second)
}

// skewStates is both servers' states as status-get reports them.
func skewStates(us, kea daemontest.Commander) string {
	return "xdhcpd " + localState(us) + ", Kea " + localState(kea)
}
