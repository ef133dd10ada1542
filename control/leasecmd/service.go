package leasecmd

import (
	"context"
	"fmt"
	"strings"

	"xdhcp/control"
	"xdhcp/control/client"
	"xdhcp/slowpath"
)

// SetService6 makes dhcp-disable, dhcp-enable and leases-reclaim act on
// the DHCPv6 service as well (a daemon serving Dhcp6): its state n, its
// reclamation r.
func (h *Commands) SetService6(n *slowpath.NetworkState, r Reclaimer) {
	h.network6, h.reclaimer6 = n, r
}

// family is one service dhcp-disable, dhcp-enable and leases-reclaim act
// on.
type family struct {
	name      string // "DHCPv4", "DHCPv6"
	network   *slowpath.NetworkState
	reclaimer Reclaimer
}

// families are the services req is for: those its "service" names (as a
// Control Agent or an HA partner forwards it), else every one the daemon
// runs.
func (h *Commands) families(req *control.Request) []family {
	v4, v6 := family{"DHCPv4", h.srv.Network, h.srv}, family{"DHCPv6", h.network6, h.reclaimer6}
	if h.network6 == nil {
		return []family{v4}
	}
	if len(req.Service) == 0 {
		return []family{v4, v6}
	}
	var out []family
	for _, svc := range req.Service {
		switch svc {
		case client.ServiceDHCP4:
			out = append(out, v4)
		case client.ServiceDHCP6:
			out = append(out, v6)
		}
	}
	if len(out) == 0 {
		out = append(out, v4)
	}
	return out
}

func (h *Commands) disable(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		MaxPeriod *int64 `json:"max-period"`
		Origin    any    `json:"origin"`
	}
	origin, err := originArg(req, &a, &a.Origin)
	if err != nil {
		return control.Errorf("%v", err)
	}
	period, ok := control.Seconds(a.MaxPeriod)
	if !ok {
		return control.Errorf("'max-period' must be positive integer value")
	}
	var names []string
	for _, f := range h.families(req) {
		f.network.Disable(origin, period)
		names = append(names, f.name)
	}
	if period > 0 {
		return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%s service disabled for %d seconds", strings.Join(names, " and "), *a.MaxPeriod)}
	}
	return control.Answer{Result: control.ResultSuccess, Text: strings.Join(names, " and ") + " service disabled"}
}

func (h *Commands) enable(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Origin any `json:"origin"`
	}
	origin, err := originArg(req, &a, &a.Origin)
	if err != nil {
		return control.Errorf("%v", err)
	}
	for _, f := range h.families(req) {
		f.network.Enable(origin)
	}
	return control.Answer{Result: control.ResultSuccess, Text: "DHCP service successfully enabled"}
}

// originArg decodes the arguments of dhcp-disable or dhcp-enable into
// args, whose field origin is "origin", and returns the origin.
func originArg(req *control.Request, args any, origin *any) (string, error) {
	if err := optionalArgs(req, args); err != nil {
		return "", err
	}
	o, ok := originOf(*origin)
	if !ok {
		return "", fmt.Errorf("invalid value used for 'origin' parameter: %v", *origin)
	}
	return o, nil
}

// originOf accepts Kea 2.2's origins ("user", "ha-partner") and the
// numeric ids later versions send.
func originOf(v any) (string, bool) {
	switch o := v.(type) {
	case nil:
		return "user", true
	case string:
		switch o {
		case "user", "ha-partner", "ha-local":
			return o, true
		}
	case float64:
		switch {
		case o == 1:
			return "user", true
		case o >= 1000 && o < 3000:
			return "ha-partner", true
		}
	}
	return "", false
}

func (h *Commands) reclaim(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Remove bool `json:"remove"`
	}
	if bad := req.Decode(&a, control.Mandatory{Key: "remove", Missing: "'remove' parameter not specified"}); bad != nil {
		return *bad
	}
	for _, f := range h.families(req) {
		if f.reclaimer == nil {
			continue
		}
		if _, err := f.reclaimer.Reclaim(a.Remove); err != nil {
			return control.Errorf("reclaim expired %s leases: %v", f.name, err)
		}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Reclamation of expired leases is complete."}
}
