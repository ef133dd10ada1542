package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	w6 "xdhcp/dhcp6"
)

// TestE2EKill9KeepsEveryAckedForensicRecord6 is the DHCPv6 kill -9 loop:
// clients get an address and a /56 while xdhcpd is SIGKILLed and restarted
// again and again; every Reply that gave a client its address and prefix
// has both forensic records in the log afterwards (the records share the
// lease's group commit, so none of an answered Request can be lost).
func TestE2EKill9KeepsEveryAckedForensicRecord6(t *testing.T) {
	e := newV6Env(t)
	logDir := filepath.Join(e.dir, "legal")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.baseConfig()
	s6 := e.dhcp6Section()
	s6["subnet6"].([]any)[0].(map[string]any)["pools"] = []any{map[string]any{"pool": "2001:db8:1::1:0-2001:db8:1::1:ffff"}}
	s6["hooks-libraries"] = []any{map[string]any{
		"library":    "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_legal_log.so",
		"parameters": map[string]any{"path": logDir, "base-name": "kea-legal6"},
	}}
	cfg["Dhcp6"] = s6
	d := e.startDaemon(cfg)
	c := newClient6(t, e)

	// acks counts the Replies that bound each "address duid" and
	// "prefix/len duid".
	acks := map[string]int{}
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			duid := []byte{0, 3, 0, 1, 2, 0, 0x64, byte(i >> 16), byte(i >> 8), byte(i)}
			adv, err := tryExchange6(c, c.msg6(w6.Solicit, byte(2*i), duid, nil))
			if err != nil {
				continue
			}
			c.serverID, _ = adv.Msg.Options.Get(w6.OptServerID)
			rep, err := tryExchange6(c, c.msg6(w6.Request, byte(2*i+1), duid, nil))
			if err != nil || rep.Msg.Type != w6.Reply {
				continue
			}
			addr, prefix := boundIn(rep)
			dev := hexColons(duid)
			if addr != "" {
				acks["Address: "+addr+" "+dev]++
			}
			if prefix != "" {
				acks["Prefix: "+prefix+" "+dev]++
			}
		}
	}()
	killLoop(d)
	close(stop)
	<-done
	d.Kill9()
	// Records that were staged, not yet in the file, at the kill are
	// appended to it when xdhcpd starts again.
	d.Restart()
	d.Stop()

	recs := forensicRecords6(t, logDir)
	total := 0
	for key, n := range acks {
		total += n
		if recs[key] < n {
			t.Errorf("%s: %d Replies, %d forensic records", key, n, recs[key])
		}
	}
	t.Logf("%d kills: %d bindings acknowledged, all with their forensic records", forensicKills, total)
	if total < 40 {
		t.Errorf("only %d bindings acknowledged: the test did not load the server", total)
	}
}

// tryExchange6 is client6.exchange for a server that may be down: a
// direct message, its answer awaited briefly, an error when none came.
func tryExchange6(c *client6, msg []byte) (*w6.Packet, error) {
	if _, err := c.direct.WriteToUDP(msg, &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: e2eClientIf}); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	c.direct.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, _, err := c.direct.ReadFromUDP(buf)
		if err != nil {
			return nil, err
		}
		var p w6.Packet
		if p.Parse(append([]byte(nil), buf[:n]...)) == nil && bytes.Equal(p.Msg.TxID[:], msg[1:4]) {
			return &p, nil
		}
	}
}

// boundIn returns the address and the prefix ("p/len") a Reply binds,
// each empty when its IA carries none (or a status instead).
func boundIn(p *w6.Packet) (addr, prefix string) {
	for it := p.Msg.Options.Iter(); it.Next(); {
		if it.Code != w6.OptIANA && it.Code != w6.OptIAPD {
			continue
		}
		ia, err := w6.ParseIA(it.Code, it.Data)
		if err != nil {
			continue
		}
		for in := ia.Options.Iter(); in.Next(); {
			switch in.Code {
			case w6.OptIAAddr:
				if a, err := w6.ParseIAAddr(in.Data); err == nil && a.Valid > 0 {
					addr = netip.AddrFrom16(a.Addr).String()
				}
			case w6.OptIAPrefix:
				if pf, err := w6.ParseIAPrefix(in.Data); err == nil && pf.Valid > 0 {
					prefix = netip.PrefixFrom(netip.AddrFrom16(pf.Prefix), int(pf.Len)).String()
				}
			}
		}
	}
	return addr, prefix
}

// hexColons is b as Kea prints a DUID: hex bytes joined by colons.
func hexColons(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// assigned6 matches Kea's default DHCPv6 assignment line: what was
// assigned (address, or prefix/len) and the client's DUID.
var assigned6 = regexp.MustCompile(`^\S+ \S+ \S+ ((?:Address|Prefix): \S+) has been assigned for .* to a device with DUID: (\S+)`)

// forensicRecords6 counts the assignment records of the DHCPv6 forensic
// log files in dir by "what duid".
func forensicRecords6(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "kea-legal6.*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no forensic log files in %s (%v)", dir, err)
	}
	n := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := assigned6.FindStringSubmatch(line); m != nil {
				n[m[1]+" "+m[2]]++
			}
		}
	}
	return n
}
