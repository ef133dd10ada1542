package xdp

import (
	"fmt"

	"xdhcp/bpf"
)

// ParseMode maps the configuration's xdhcp.xdp.mode word to the loader's
// attach mode; "" is auto. "off" is not a mode: the caller does not start
// the data path at all.
func ParseMode(s string) (bpf.Mode, error) {
	switch s {
	case "native":
		return bpf.ModeNative, nil
	case "generic":
		return bpf.ModeGeneric, nil
	case "auto", "":
		return bpf.ModeAuto, nil
	}
	return 0, fmt.Errorf("xdhcp.xdp.mode %q: want native, generic, auto or off", s)
}
