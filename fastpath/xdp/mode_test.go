package xdp

import (
	"fmt"
	"strings"
	"testing"

	"xdhcp/bpf"
	"xdhcp/internal/caps"
)

// TestParseMode: the configuration's words map to the loader's modes, ""
// is auto, and anything else (off included: it never reaches Start) is an
// error that names the setting and the words it takes.
func TestParseMode(t *testing.T) {
	for word, want := range map[string]bpf.Mode{
		"native": bpf.ModeNative, "generic": bpf.ModeGeneric, "auto": bpf.ModeAuto, "": bpf.ModeAuto,
	} {
		if got, err := ParseMode(word); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", word, got, err, want)
		}
	}
	for _, word := range []string{"off", "Native", "skb"} {
		_, err := ParseMode(word)
		if err == nil || !strings.Contains(err.Error(), "xdhcp.xdp.mode") || !strings.Contains(err.Error(), "native, generic, auto or off") {
			t.Errorf("ParseMode(%q) error %v, want one naming xdhcp.xdp.mode and the choices", word, err)
		}
	}
}

// TestMissingCapabilities: attach, UMEM, load and the verifier's pointer
// checks each need theirs (the packaged unit's set, without root, is
// enough), and CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON.
func TestMissingCapabilities(t *testing.T) {
	all := caps.Of(caps.NetAdmin, caps.IPCLock, caps.BPF, caps.PerfMon)
	for _, tc := range []struct {
		have caps.Set
		want string
	}{
		{all, "[]"},
		{caps.Of(caps.NetAdmin, caps.IPCLock, caps.SysAdmin), "[]"},
		{0, "[CAP_NET_ADMIN CAP_IPC_LOCK CAP_BPF CAP_PERFMON]"},
		{all &^ caps.Of(caps.IPCLock), "[CAP_IPC_LOCK]"},
		{all &^ caps.Of(caps.PerfMon), "[CAP_PERFMON]"},
		{caps.Of(caps.NetAdmin, caps.IPCLock, caps.BPF), "[CAP_PERFMON]"},
		{1 << caps.NetRaw, "[CAP_NET_ADMIN CAP_IPC_LOCK CAP_BPF CAP_PERFMON]"},
	} {
		if got := fmt.Sprint(MissingCapabilities(tc.have)); got != tc.want {
			t.Errorf("MissingCapabilities(%#x) = %s, want %s", uint64(tc.have), got, tc.want)
		}
	}
}
