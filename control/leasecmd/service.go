package leasecmd

import (
	"context"
	"fmt"

	"xdhcp/control"
)

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
	h.srv.Network.Disable(origin, period)
	if period > 0 {
		return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("DHCPv4 service disabled for %d seconds", *a.MaxPeriod)}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "DHCPv4 service disabled"}
}

func (h *Commands) enable(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Origin any `json:"origin"`
	}
	origin, err := originArg(req, &a, &a.Origin)
	if err != nil {
		return control.Errorf("%v", err)
	}
	h.srv.Network.Enable(origin)
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
	if _, err := h.srv.Reclaim(a.Remove); err != nil {
		return control.Errorf("reclaim expired leases: %v", err)
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Reclamation of expired leases is complete."}
}
