package xdp

import (
	"strings"
	"testing"

	"xdhcp/bpf"
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
