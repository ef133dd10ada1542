package xdp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/handoff"
	"xdhcp/internal/cpuset"
	"xdhcp/internal/lab"
	"xdhcp/internal/stats"
)

// commands is a Registrar that keeps the handlers for the test to call.
type commands map[string]control.HandlerFunc

func (c commands) Handle(name string, h control.HandlerFunc) { c[name] = h }

func (c commands) call(t *testing.T, name string, args any) control.Answer {
	t.Helper()
	req := &control.Request{Command: name}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		req.Arguments = b
	}
	return c[name](t.Context(), req)
}

type discard struct{}

func (discard) Enqueue(p *handoff.Packet) { p.Release() }

// testConfig is a configuration serving iface in generic mode with its
// pins under bpffs, and a DROP reservation for dropMAC when it is set.
func testConfig(t *testing.T, iface, bpffs, dropMAC string) *config.Config {
	t.Helper()
	subnet := map[string]any{"id": 1, "subnet": "10.76.0.0/24", "pools": []any{map[string]any{"pool": "10.76.0.10 - 10.76.0.99"}}}
	if dropMAC != "" {
		subnet["reservations"] = []any{map[string]any{"hw-address": dropMAC, "client-classes": []any{"DROP"}}}
	}
	doc := map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{iface}},
		"client-classes":    []any{map[string]any{"name": "DROP"}},
		"subnet4":           []any{subnet},
		"xdhcp":             map[string]any{"xdp": map[string]any{"mode": "generic", "bpffs": bpffs}},
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDatapathLifecycle: in a namespace with a veth and a private bpffs,
// Start attaches and serves one queue, puts the configuration's DROP
// reservation on the drop list, registers the statistics and answers the
// drop-list commands; a reload takes the reservation off again; a second
// data path of the same namespace cannot start while the first holds the
// pins; after Stop the commands say the path is not running, and a new
// Start takes the pins again.
func TestDatapathLifecycle(t *testing.T) {
	_, pair := lab.PairForTest(t, "dp", "dp-a", netip.MustParsePrefix("10.76.0.1/24"), "dp-b", netip.MustParsePrefix("10.76.0.2/24"))
	ns := pair.Server
	bpffs, err := lab.MountBPFFS(t)
	if err != nil {
		t.Skipf("no private bpffs here: %v", err)
	}
	const dropMAC = "02:00:00:00:76:01"
	cfg := testConfig(t, pair.ServerIf, bpffs, dropMAC)
	reg := stats.New(10, 0)
	d := New(Deps{Handler: discard{}, Stats: reg})
	cmds := commands{}
	d.RegisterCommands(cmds)
	t.Cleanup(func() { d.Close() })

	start := func(d *Datapath, cfg *config.Config) (rest []config.InterfaceSpec, err error) {
		err = ns.Do(func() error {
			// The workers run on the caller's context; the namespace is
			// only needed to open and attach.
			rest, err = d.Start(context.WithoutCancel(t.Context()), cfg, cfg.Interfaces)
			return err
		})
		return rest, err
	}
	if ans := cmds.call(t, "xdhcp-drop-list", nil); ans.Result != control.ResultUnsupported {
		t.Errorf("drop list before Start: %+v, want unsupported", ans)
	}
	rest, err := start(d, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if len(rest) != 0 || d.Workers() != 1 {
		t.Fatalf("Start left %v for socket mode and runs %d workers, want none and 1", rest, d.Workers())
	}
	if cpus, err := cpuset.Allowed(); err != nil {
		t.Error(err)
	} else if want := cpus[:min(len(cpus)-1, 1)]; !slices.Equal(d.WorkerCPUs(), want) {
		t.Errorf("worker CPUs %v, want %v (of the process's %v)", d.WorkerCPUs(), want, cpus)
	}
	var st unix.Stat_t
	if err := unix.Stat(ns.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if pins, _ := filepath.Glob(filepath.Join(bpffs, fmt.Sprintf("netns-%d-*", st.Ino), "xdp_link_*")); len(pins) != 1 {
		t.Errorf("pinned links of the namespace: %v, want one", pins)
	}
	if _, ok := reg.Get("xdp-drop-mac"); !ok {
		t.Error("statistic xdp-drop-mac not registered")
	}
	list := func() (hws, cids []string) {
		t.Helper()
		ans := cmds.call(t, "xdhcp-drop-list", nil)
		if ans.Result != control.ResultSuccess {
			t.Fatalf("xdhcp-drop-list: %+v", ans)
		}
		args := ans.Arguments.(map[string]any)
		return args["hw-addresses"].([]string), args["client-ids"].([]string)
	}
	if hws, _ := list(); !slices.Equal(hws, []string{dropMAC}) {
		t.Errorf("drop list %v, want the reservation's %s", hws, dropMAC)
	}
	if ans := cmds.call(t, "xdhcp-drop-add", map[string]any{"client-id": "01:02:03"}); ans.Result != control.ResultSuccess {
		t.Errorf("xdhcp-drop-add: %+v", ans)
	}
	if ans := cmds.call(t, "xdhcp-drop-add", map[string]any{"client-id": "01", "hw-address": "02"}); ans.Result != control.ResultError {
		t.Errorf("xdhcp-drop-add with both identifiers: %+v, want an error", ans)
	}
	const dropDUID = "00:01:00:01:2c:3d:4e:5f:02:00:00:00:00:61"
	if ans := cmds.call(t, "xdhcp-drop-add", map[string]any{"duid": dropDUID}); ans.Result != control.ResultSuccess {
		t.Errorf("xdhcp-drop-add duid: %+v", ans)
	}
	if ans := cmds.call(t, "xdhcp-drop-add", map[string]any{"duid": strings.Repeat("01:", 128) + "01"}); ans.Result != control.ResultError {
		t.Errorf("xdhcp-drop-add of a 129-byte DUID: %+v, want an error", ans)
	}
	duids := func() []string {
		t.Helper()
		return cmds.call(t, "xdhcp-drop-list", nil).Arguments.(map[string]any)["duids"].([]string)
	}
	d.SetScopes([256]bool{1: true})

	// A reload without the reservation takes it off; the entry added by
	// command stays.
	d.ApplyConfig(testConfig(t, pair.ServerIf, bpffs, ""))
	if hws, cids := list(); len(hws) != 0 || !slices.Equal(cids, []string{"01:02:03"}) {
		t.Errorf("after the reload: drop list %v %v, want only client-id 01:02:03", hws, cids)
	}

	other := New(Deps{Handler: discard{}})
	if _, err := start(other, cfg); !errors.Is(err, ErrPinsInUse) {
		other.Close()
		t.Errorf("second data path in the namespace: %v, want ErrPinsInUse", err)
	}

	if err := d.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if d.Workers() != 0 || d.WorkerCPUs() != nil {
		t.Errorf("%d workers on CPUs %v after Stop", d.Workers(), d.WorkerCPUs())
	}
	if ans := cmds.call(t, "xdhcp-drop-del", map[string]any{"client-id": "01:02:03"}); ans.Result != control.ResultUnsupported {
		t.Errorf("drop-list command after Stop: %+v, want unsupported", ans)
	}
	if _, err := start(d, cfg); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	if hws, cids := list(); !slices.Equal(hws, []string{dropMAC}) || !slices.Equal(cids, []string{"01:02:03"}) {
		t.Errorf("after the restart: drop list %v %v, want the pinned entries back", hws, cids)
	}
	if got := duids(); !slices.Equal(got, []string{dropDUID}) {
		t.Errorf("after the restart: DUIDs %v, want the pinned %s back", got, dropDUID)
	}
	if ans := cmds.call(t, "xdhcp-drop-del", map[string]any{"duid": dropDUID}); ans.Result != control.ResultSuccess {
		t.Errorf("xdhcp-drop-del duid: %+v", ans)
	}
	if ans := cmds.call(t, "xdhcp-drop-del", map[string]any{"client-id": "01:02:03"}); ans.Text != "removed from the drop list" {
		t.Errorf("xdhcp-drop-del: %+v", ans)
	}
	if ans := cmds.call(t, "xdhcp-drop-list", nil); ans.Text != fmt.Sprintf("%d entries", 1) {
		t.Errorf("xdhcp-drop-list after del: %+v", ans)
	}
}

// TestWorkerCPU: the queues' workers take the process's CPUs in turn,
// whichever CPUs those are; on one CPU none is pinned.
func TestWorkerCPU(t *testing.T) {
	for _, c := range []struct {
		cpus []int
		q    int
		want int
	}{
		{[]int{0, 1}, 0, 0},
		{[]int{0, 1}, 3, 1},
		{[]int{4, 5, 6, 7}, 0, 4}, // taskset -c 4-7: not CPU 0
		{[]int{4, 5, 6, 7}, 6, 6},
		{[]int{3}, 0, -1},
		{nil, 0, -1},
	} {
		if got := workerCPU(c.cpus, c.q); got != c.want {
			t.Errorf("workerCPU(%v, %d) = %d, want %d", c.cpus, c.q, got, c.want)
		}
	}
}

// TestDatapathNoInterface: an interface that does not exist is not
// served, and with nothing served Start gives every interface back for
// socket mode and leaves the pins free.
func TestDatapathNoInterface(t *testing.T) {
	l := lab.ForTest(t, "dp")
	ns, err := l.NS("srv")
	if err != nil {
		t.Fatal(err)
	}
	bpffs, err := lab.MountBPFFS(t)
	if err != nil {
		t.Skipf("no private bpffs here: %v", err)
	}
	cfg := testConfig(t, "missing0", bpffs, "")
	for range 2 { // the second Start finds the pins unlocked
		d := New(Deps{Handler: discard{}})
		var rest []config.InterfaceSpec
		if err := ns.Do(func() (err error) {
			rest, err = d.Start(t.Context(), cfg, cfg.Interfaces)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(rest) != 1 || rest[0].Name != "missing0" || d.Workers() != 0 {
			t.Errorf("Start gave back %v with %d workers, want missing0 and none", rest, d.Workers())
		}
	}
}
