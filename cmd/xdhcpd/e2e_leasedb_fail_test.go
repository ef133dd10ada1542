package main

// The lease database lost under a running server: its network path
// silently dropping packets (a hung connection), and the database server
// stopped and started again under load, for each on-fail policy.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
	"xdhcp/internal/lab"
)

// daemonOnDatabaseWith starts xdhcpd in a new lab (socket mode) on a
// fresh database of server with the on-fail policy onFail and the extra
// lease-database parameters, reconnect attempts 200 ms apart, and
// renewals within half the lifetime answered from the cached lease.
func daemonOnDatabaseWith(t *testing.T, server *dbtest.Server, onFail string, tries int,
	extra map[string]any) (*e2eEnv, dbtest.DB, *dbtest.Forwarder, *e2eDaemon) {
	t.Helper()
	db := server.NewDB(t)
	e := newEnv(t)
	e.mode = "off"
	dbcfg, fw := e.databaseIn(server, db)
	dbcfg["on-fail"], dbcfg["max-reconnect-tries"], dbcfg["reconnect-wait-time"] = onFail, tries, 200
	for k, v := range extra {
		dbcfg[k] = v
	}
	cfg := e.bigPoolConfig()
	dhcp4(cfg)["lease-database"] = dbcfg
	subnet(cfg, 0)["cache-threshold"] = 0.5
	return e, db, fw, e.startDaemon(cfg)
}

// checkACKedInDatabase fails t for every ACKed lease (address → MAC) the
// database does not hold for its client.
func checkACKedInDatabase(t *testing.T, db dbtest.DB, acked map[string]string) {
	t.Helper()
	held := dbHolders(t, db)
	lost := 0
	for ip, m := range acked {
		if held[ip] != m {
			if lost++; lost <= 5 {
				t.Errorf("ACK of %s to %s, but the database holds %q for it", ip, m, held[ip])
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged leases are not in the database", lost, len(acked))
	}
}

// TestE2ELeaseDatabaseHang: the network path to the database drops every
// packet (nftables in the server's namespace), so the connections hang
// rather than fail. The configured timeouts (tcp-user-timeout on
// PostgreSQL, read-timeout and write-timeout on MariaDB, connect-timeout
// for the reconnection attempts) must end the wait: the lease write that
// meets the hung connection gets no ACK, the fault is declared within the
// bound (the default bound of one operation is 30 s), the on-fail policy
// acts (stop-retry-exit: DHCP disabled under the lease-database origin;
// serve-retry-continue: cached renewals, INFORM and NAKs still answered),
// reconnection attempts fail and repeat, and once the path is back the
// service resumes with every ACKed lease in the database.
func TestE2ELeaseDatabaseHang(t *testing.T) {
	for _, c := range []struct {
		kind   dbKind
		policy string
		extra  map[string]any
	}{
		{dbKinds[0], "stop-retry-exit", map[string]any{"tcp-user-timeout": 1, "connect-timeout": 1}},
		{dbKinds[1], "serve-retry-continue", map[string]any{"read-timeout": 1, "write-timeout": 1, "connect-timeout": 1}},
	} {
		t.Run(c.kind.typ+"/"+c.policy, func(t *testing.T) {
			t.Parallel()
			e, db, fw, d := daemonOnDatabaseWith(t, c.kind.server.Get(t), c.policy, 1000, c.extra)
			acked := map[string]string{}
			ma := mac(0xd4, 1)
			ca := e.nclient(ma)
			la := dora(t, ca)
			acked[la.ACK.YourIPAddr.String()] = ma.String()
			mustACK(t, e, mac(0xd4, 2), acked, "before the path was cut")

			if err := e.srv.InjectFault(lab.Fault{Peer: netip.MustParseAddr("127.0.0.1"), Port: uint16(fw.Port), Dir: lab.Both}); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			got := make(chan bool, 1)
			go func() { _, ok := tryDORA(e, mac(0xd4, 3)); got <- ok }()
			const bound = 12 * time.Second
			if !poll(bound, func() bool { return d.stat("xdhcp-lease-file-faults") >= 1 }) {
				t.Fatalf("no fault declared within %v of the cut: the hung connection held the write; log:\n%s", bound, d.LogSince())
			}
			t.Logf("fault declared %.1f s after the cut", time.Since(cut).Seconds())
			if <-got {
				t.Error("a lease was ACKed over a hung database connection")
			}
			switch c.policy {
			case "stop-retry-exit":
				if by := disabledBy(d); !strings.Contains(fmt.Sprint(by), "lease-database") {
					t.Errorf("status-get disabled-by %v, want lease-database", by)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
				_, err := e.nclient(mac(0xd4, 4), nclient4.WithTimeout(700*time.Millisecond), nclient4.WithRetry(1)).DiscoverOffer(ctx)
				cancel()
				if err == nil {
					t.Error("an OFFER while DHCP is disabled by the lost database")
				}
			case "serve-retry-continue":
				answeredWithoutDatabase(t, e, d, ca, la, acked)
			}
			// Attempts to reconnect end within connect-timeout and repeat.
			if !poll(10*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed-retries") >= 2 }) {
				t.Errorf("reconnection attempts do not fail and repeat: %d failed", d.stat("xdhcp-lease-file-failed-retries"))
			}
			if d.LogCount("lease database reconnection attempt failed") == 0 {
				t.Error("no log line for a failed reconnection attempt")
			}

			if err := e.srv.ClearFaults(); err != nil {
				t.Fatal(err)
			}
			if !poll(20*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 0 }) {
				t.Fatalf("no recovery after the path came back; log:\n%s", d.LogSince())
			}
			if by := disabledBy(d); strings.Contains(fmt.Sprint(by), "lease-database") {
				t.Errorf("still disabled by %v after the recovery", by)
			}
			if d.stat("xdhcp-lease-file-recoveries") != 1 || d.LogCount("lease database connection back") != 1 {
				t.Error("the recovery is not counted or logged once")
			}
			mustACK(t, e, mac(0xd4, 5), acked, "after the path came back")
			checkACKedInDatabase(t, db, acked)
		})
	}
}

// answeredWithoutDatabase checks what a serving policy answers while the
// database is away: client ca's renewal of la from the cached lease,
// an INFORM, and a NAK to the client asking for another client's address;
// a new client gets no ACK.
func answeredWithoutDatabase(t *testing.T, e *e2eEnv, d *e2eDaemon, ca *nclient4.Client, la *nclient4.Lease, acked map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ca.Renew(ctx, la, daemontest.FreshXID()); err != nil {
		t.Errorf("cached renewal with the database away: %v", err)
	}
	r, err := e.nclient(mac(0xd4, 6)).Inform(ctx, net.ParseIP(e2eClientIP), dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter))
	if err != nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("INFORM with the database away: %v", err)
	}
	var other string
	for ip, m := range acked {
		if m != la.ACK.ClientHWAddr.String() {
			other = ip
		}
	}
	// Client ca, rebooted, asks for the other client's address (a client
	// the server knows nothing of would get silence, not being
	// authoritative): the cache says no without a write.
	req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(la.ACK.ClientHWAddr),
		dhcpv4.WithBroadcast(true), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(other))))
	if err != nil {
		t.Fatal(err)
	}
	nak, err := ca.SendAndRead(ctx, e2eBcastUDP, req, nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("INIT-REBOOT for another client's %s with the database away: %v %v, want a NAK", other, err, nak)
	}
	if _, ok := tryDORA(e, mac(0xd4, 8)); ok {
		t.Error("a new client was ACKed with the database away")
	}
}

// onFailRestart stops the database server for a few seconds while
// perfdhcp runs, and starts it again; server is the test's own (stopping
// it must not disturb other tests). What the policy says is checked: the
// serving policies keep answering and survive (their attempts outlast the
// outage), stop-retry-exit disables DHCP under the lease-database origin
// and enables it on reconnection; every ACK a client captured is in the
// database afterwards.
func onFailRestart(t *testing.T, server *dbtest.Server, policy string) {
	pd := needBinary(t, "perfdhcp")
	tries := 100 // 20 s of attempts: the restart fits in them
	e, db, _, d := daemonOnDatabaseWith(t, server, policy, tries, nil)
	capt := e.captureACKs()
	done := make(chan string, 1)
	go func() {
		out, _ := e.runClient(60*time.Second, pd, "-4", "-l", e2eClientIP, "-R", "100000", "-r", "60", "-p", "9",
			"-b", "mac=02:ab:00:00:00:00", e2eServerIP)
		done <- out
	}()
	time.Sleep(2500 * time.Millisecond)
	server.Halt()
	if !poll(5*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 1 }) {
		t.Errorf("the stopped database went unnoticed under load")
	}
	disabled := fmt.Sprint(disabledBy(d))
	if want := policy == "stop-retry-exit"; strings.Contains(disabled, "lease-database") != want {
		t.Errorf("%s with the database stopped: disabled-by %s", policy, disabled)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	if !poll(15*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 0 }) {
		t.Errorf("no recovery after the database came back")
	}
	if by := disabledBy(d); len(by) > 0 {
		t.Errorf("still disabled by %v after the database came back", by)
	}
	out := <-done
	st := parsePerfdhcp(t, out)
	acks := capt.stop(t)
	t.Logf("perfdhcp: DISCOVER-OFFER %+v REQUEST-ACK %+v; %d ACKs captured; %d refused commits, %d failed attempts",
		st["DISCOVER-OFFER"], st["REQUEST-ACK"], len(acks), d.stat("xdhcp-lease-file-refused-commits"),
		d.stat("xdhcp-lease-file-failed-retries"))
	if !d.Running() {
		t.Fatalf("xdhcpd exited under %s within its reconnect attempts: %v", policy, d.Err())
	}
	acked := map[string]string{}
	for _, a := range acks {
		acked[a[1]] = strings.Split(a[0], ",")[0]
	}
	if len(acked) == 0 {
		t.Fatal("no ACK captured: nothing shows what was served")
	}
	if faults, rec := d.stat("xdhcp-lease-file-faults"), d.stat("xdhcp-lease-file-recoveries"); faults < 1 || rec != faults {
		t.Errorf("faults %d, recoveries %d", faults, rec)
	}
	// Serving resumed: a new client gets a lease the database holds.
	mustACK(t, e, mac(0xd2, 1), acked, "after the restart")
	checkACKedInDatabase(t, db, acked)
}

// TestE2ELeaseDatabaseRestartMatrix runs onFailRestart for every policy
// on both databases, each on a server of its own (XDHCP_DB_LONG=1; the
// default run covers serve-retry-continue on PostgreSQL in
// TestE2ELeaseDatabaseOnFail).
func TestE2ELeaseDatabaseRestartMatrix(t *testing.T) {
	if os.Getenv("XDHCP_DB_LONG") == "" {
		t.Skip("XDHCP_DB_LONG=1 runs the policy × database restart matrix")
	}
	for _, k := range dbKinds {
		for _, policy := range []string{"stop-retry-exit", "serve-retry-exit", "serve-retry-continue"} {
			t.Run(k.typ+"/"+policy, func(t *testing.T) {
				server, err := dbtest.Start(dbtest.Kind(k.typ), dbtest.Options{})
				if err != nil {
					t.Skipf("no %s: %v", k.typ, err)
				}
				defer server.Stop()
				onFailRestart(t, server, policy)
			})
		}
	}
}

// outcome says what a client's exchange got: "ACK <address>", "NAK",
// or which message went unanswered.
func outcome(ctx context.Context, c *nclient4.Client, send func(context.Context, *nclient4.Client) (*dhcpv4.DHCPv4, error)) string {
	r, err := send(ctx, c)
	var nak *nclient4.ErrNak
	switch {
	case errors.As(err, &nak):
		return "NAK"
	case err != nil:
		return "no answer"
	case r.MessageType() == dhcpv4.MessageTypeAck:
		return "ACK " + r.YourIPAddr.String()
	}
	return r.MessageType().String()
}

// databaseAwayOutcomes runs, with the database away, what a serving
// policy should still answer or refuse, and returns each outcome: a new
// client's DORA, client a's renewal of la (within cache-threshold), an
// INFORM, and client a rebooting into client b's address ipB.
func databaseAwayOutcomes(e *e2eEnv, ca *nclient4.Client, la *nclient4.Lease, ipB string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	short := func(m net.HardwareAddr) *nclient4.Client {
		return e.nclient(m, nclient4.WithTimeout(700*time.Millisecond), nclient4.WithRetry(2))
	}
	out := map[string]string{}
	out["new client DORA"] = outcome(ctx, short(mac(0xd5, 9)), func(ctx context.Context, c *nclient4.Client) (*dhcpv4.DHCPv4, error) {
		l, err := c.Request(ctx)
		if err != nil {
			return nil, err
		}
		return l.ACK, nil
	})
	out["cached renewal"] = outcome(ctx, ca, func(ctx context.Context, c *nclient4.Client) (*dhcpv4.DHCPv4, error) {
		l, err := c.Renew(ctx, la, daemontest.FreshXID())
		if err != nil {
			return nil, err
		}
		return l.ACK, nil
	})
	out["INFORM"] = outcome(ctx, short(mac(0xd5, 10)), func(ctx context.Context, c *nclient4.Client) (*dhcpv4.DHCPv4, error) {
		return c.Inform(ctx, net.ParseIP(e2eClientIP))
	})
	out["INIT-REBOOT into another client's address"] = outcome(ctx, ca, func(ctx context.Context, c *nclient4.Client) (*dhcpv4.DHCPv4, error) {
		req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(la.ACK.ClientHWAddr),
			dhcpv4.WithBroadcast(true), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(ipB))))
		if err != nil {
			return nil, err
		}
		return c.SendAndRead(ctx, e2eBcastUDP, req, nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	})
	return out
}

// TestE2ELeaseDatabaseKeaOnFail stops the database under Kea 2.2 and
// under xdhcpd, each serving with serve-retry-continue on a PostgreSQL
// server of its own, and sets what each answers while the database is
// away side by side (XDHCP_DB_LONG=1). xdhcpd must answer the renewal
// from its cache, the INFORM, and the NAK, and acknowledge no new lease;
// for both, every ACK is in the database once it is back.
func TestE2ELeaseDatabaseKeaOnFail(t *testing.T) {
	if os.Getenv("XDHCP_DB_LONG") == "" {
		t.Skip("XDHCP_DB_LONG=1 compares Kea 2.2 and xdhcpd with the database stopped")
	}
	results := map[string]map[string]string{}
	var mu sync.Mutex
	t.Run("servers", func(t *testing.T) {
		for _, who := range []string{"xdhcpd", "kea"} {
			t.Run(who, func(t *testing.T) {
				t.Parallel()
				server, err := dbtest.Start(dbtest.Postgres, dbtest.Options{})
				if err != nil {
					t.Skipf("no PostgreSQL: %v", err)
				}
				defer server.Stop()
				db := server.NewDB(t)
				e := newEnv(t)
				e.mode = "off"
				dbcfg, _ := e.databaseIn(server, db)
				dbcfg["on-fail"], dbcfg["max-reconnect-tries"], dbcfg["reconnect-wait-time"] = "serve-retry-continue", 100, 200
				var alive func() bool
				if who == "kea" {
					cfg := keaLeaseCmdsConfig([]any{e2eServerIf}, dbcfg, filepath.Join(e.dir, "kea.sock"))
					subnet(cfg, 0)["cache-threshold"] = 0.5
					k := e.startKeaFrom("kea-dhcp4", cfg)
					alive = k.Running
				} else {
					cfg := e.bigPoolConfig()
					dhcp4(cfg)["lease-database"] = dbcfg
					subnet(cfg, 0)["cache-threshold"] = 0.5
					alive = e.startDaemon(cfg).Running
				}
				acked := map[string]string{}
				ma := mac(0xd5, 1)
				ca := e.nclient(ma)
				la := dora(t, ca)
				acked[la.ACK.YourIPAddr.String()] = ma.String()
				ipB := daemontest.DORA(t, e.nclient(mac(0xd5, 2))).ACK.YourIPAddr.String()
				acked[ipB] = mac(0xd5, 2).String()
				server.Halt()
				out := databaseAwayOutcomes(e, ca, la, ipB)
				if ip, ok := strings.CutPrefix(out["new client DORA"], "ACK "); ok {
					acked[ip] = mac(0xd5, 9).String()
				}
				if err := server.Restart(); err != nil {
					t.Fatal(err)
				}
				var ip string
				if !poll(20*time.Second, func() bool { var ok bool; ip, ok = tryDORA(e, mac(0xd5, 3)); return ok }) {
					t.Errorf("%s gives no lease after the database came back", who)
				} else {
					acked[ip] = mac(0xd5, 3).String()
				}
				out["running afterwards"] = fmt.Sprint(alive())
				checkACKedInDatabase(t, db, acked)
				mu.Lock()
				results[who] = out
				mu.Unlock()
			})
		}
	})
	x, k := results["xdhcpd"], results["kea"]
	for _, q := range []string{"new client DORA", "cached renewal", "INFORM", "INIT-REBOOT into another client's address", "running afterwards"} {
		t.Logf("database away, %-45s xdhcpd: %-22s Kea 2.2: %s", q+":", x[q], k[q])
	}
	if x == nil {
		return
	}
	if strings.HasPrefix(x["new client DORA"], "ACK") {
		t.Errorf("xdhcpd acknowledged a new lease with the database away")
	}
	for q, want := range map[string]string{"cached renewal": "ACK", "INFORM": "ACK", "INIT-REBOOT into another client's address": "NAK",
		"running afterwards": "true"} {
		if !strings.HasPrefix(x[q], want) {
			t.Errorf("xdhcpd, database away, %s: %s, want %s", q, x[q], want)
		}
	}
}

// TestE2ELeaseDatabaseRetryOnStartup: with retry-on-startup, xdhcpd
// starts while its database cannot be reached, with DHCP disabled under
// the lease-database origin (stop-retry-exit), and serves once the
// database answers; without it, the start fails naming the database.
func TestE2ELeaseDatabaseRetryOnStartup(t *testing.T) {
	t.Parallel()
	server := mysqlServer.Get(t)
	db := server.NewDB(t)
	e := newEnv(t)
	e.mode = "off"
	dbcfg, fw := e.databaseIn(server, db)
	fw.Cut()
	dbcfg["max-reconnect-tries"], dbcfg["reconnect-wait-time"], dbcfg["connect-timeout"] = 1000, 200, 1
	cfg := e.bigPoolConfig()
	dhcp4(cfg)["lease-database"] = dbcfg

	// Without retry-on-startup: no start.
	d := e.newDaemon(cfg)
	d.Launch()
	if err := d.Wait(30 * time.Second); err == nil || d.LogCount("open lease database") == 0 || d.LogCount(db.Name) == 0 {
		t.Fatalf("start with the database away: exit %v; log:\n%s", err, d.LogSince())
	}

	dbcfg["retry-on-startup"] = true
	d = e.startDaemon(cfg)
	if by := disabledBy(d); !strings.Contains(fmt.Sprint(by), "lease-database") {
		t.Errorf("started with the database away: disabled-by %v, want lease-database", by)
	}
	if _, ok := tryDORA(e, mac(0xd6, 1)); ok {
		t.Error("an ACK before the database was reached")
	}
	fw.Mend()
	if !poll(15*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 0 }) {
		t.Fatalf("no recovery once the database answered; log:\n%s", d.LogSince())
	}
	acked := map[string]string{}
	mustACK(t, e, mac(0xd6, 2), acked, "once the database answered")
	checkACKedInDatabase(t, db, acked)
}

// TestE2ELeaseDatabaseTLS: a PostgreSQL account the server admits over
// TLS only. xdhcpd with the CA that signed the server's certificate as
// trust-anchor serves and writes its leases; with another CA it does not
// start, and says why.
func TestE2ELeaseDatabaseTLS(t *testing.T) {
	t.Parallel()
	server := pgServer.Get(t)
	db := server.NewTLSDB(t)
	e := newEnv(t)
	e.mode = "off"
	dbcfg, _ := e.databaseIn(server, db)
	cfg := e.bigPoolConfig()
	dhcp4(cfg)["lease-database"] = dbcfg

	dbcfg["trust-anchor"] = server.OtherCAFile
	d := e.newDaemon(cfg)
	d.Launch()
	if err := d.Wait(30 * time.Second); err == nil || d.LogCount("certificate signed by unknown authority") == 0 {
		t.Fatalf("start with a trust anchor that did not sign the database's certificate: exit %v; log:\n%s", err, d.LogSince())
	}
	t.Logf("with another CA: %s", lineWith(d.LogSince(), "unknown authority"))

	dbcfg["trust-anchor"] = server.CAFile
	d = e.startDaemon(cfg)
	acked := map[string]string{}
	mustACK(t, e, mac(0xd7, 1), acked, "over TLS")
	checkACKedInDatabase(t, db, acked)
}

// lineWith is the last line of log holding s.
func lineWith(log, s string) string {
	out := ""
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, s) {
			out = line
		}
	}
	return out
}
