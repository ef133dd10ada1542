package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
)

// trySolicit sends one Solicit from the client namespace and reports
// whether an Advertise came back within about a second.
func trySolicit(e *e2eEnv) bool {
	var c *nclient6.Client
	err := e.cli.Do(func() error {
		var err error
		c, err = nclient6.New(e2eClientIf, nclient6.WithTimeout(500*time.Millisecond), nclient6.WithRetry(2))
		return err
	})
	if err != nil {
		e.t.Fatalf("nclient6: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c.Solicit(ctx)
	return err == nil
}

// TestE2EDhcp6LeaseFileFull fills the tmpfs holding the DHCPv6 lease file
// of a dual-stack daemon under the default on-fail policy
// (stop-retry-exit): DHCPv6 service stops (origin lease-database, as
// Kea's) while DHCPv4, whose file is elsewhere, goes on; freeing space
// resumes DHCPv6 by itself.
func TestE2EDhcp6LeaseFileFull(t *testing.T) {
	needSysAdmin(t)
	e := newV6Env(t)
	mnt := smallTmpfs(t, filepath.Join(e.dir, "v6disk"))
	cfg := e.baseConfig()
	v6 := e.dhcp6Section()
	v6["lease-database"] = map[string]any{"type": "memfile", "name": filepath.Join(mnt, "leases6.csv"), "lfc-interval": 0,
		"reconnect-wait-time": 200, "max-reconnect-tries": 1000}
	cfg["Dhcp6"] = v6
	d := e.startDaemon(cfg)
	if !trySolicit(e) {
		t.Fatal("no Advertise before the disk filled")
	}

	filler := fillDisk(t, mnt)
	// The file's last page may still take a few rows: add leases until a
	// commit needs a page the disk does not have.
	refused := false
	for i := range 200 {
		a := d.command("lease6-add", map[string]any{"ip-address": fmt.Sprintf("2001:db8:1::%x", 0x100+i),
			"duid": fmt.Sprintf("00:03:00:01:02:00:00:00:%02x:%02x", i>>8, i&0xff), "iaid": 1, "subnet-id": 1})
		if a.Result != 0 {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("every lease6-add succeeded on a full disk")
	}
	if !d.Running() {
		t.Fatal("xdhcpd exited on a full DHCPv6 lease disk")
	}
	if got := d.stat("xdhcp-lease6-file-failed"); got != 1 {
		t.Errorf("xdhcp-lease6-file-failed %d, want 1", got)
	}
	if got := d.stat("xdhcp-lease-file-failed"); got != 0 {
		t.Errorf("xdhcp-lease-file-failed %d: the DHCPv4 file is not failing", got)
	}
	if trySolicit(e) {
		t.Error("DHCPv6 Advertise while the DHCPv6 lease file cannot be written")
	}
	if _, ok := tryDORA(e, net.HardwareAddr{0x02, 0, 0, 0, 0x6f, 1}); !ok {
		t.Error("DHCPv4 stopped with the DHCPv6 lease file")
	}
	if d.LogCount("DHCP service disabled until the lease file can be written") != 1 {
		t.Error("no log line says DHCPv6 service is disabled")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if !poll(10*time.Second, func() bool { return d.stat("xdhcp-lease6-file-failed") == 0 }) {
		t.Fatal("DHCPv6 service did not resume after space was freed")
	}
	if !trySolicit(e) {
		t.Error("no Advertise after space was freed")
	}
}
