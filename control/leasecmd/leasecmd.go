// Package leasecmd is the command channel's face of the DHCPv4 server:
// Kea's lease_cmds (lease4-get and its kin, lease4-add, -update, -del,
// -wipe), dhcp-disable, dhcp-enable and leases-reclaim. It turns commands
// into typed calls on the slow path server and the lease store, so the
// engine knows nothing of the command channel. It also writes the leases
// an HA partner sends during synchronization, with lease4-update's rules.
package leasecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
	"xdhcp/slowpath"
)

// Commands answers the server's commands.
type Commands struct {
	srv    *slowpath.Server
	leases lease.Reader
	// network6 is the DHCPv6 service's state (nil: no Dhcp6 section);
	// reclaimer6 its lease reclamation.
	network6   *slowpath.NetworkState
	reclaimer6 Reclaimer
}

// Reclaimer reclaims a service's expired leases now (leases-reclaim):
// removed rather than kept expired-reclaimed when remove is set.
type Reclaimer interface {
	Reclaim(remove bool) (int, error)
}

// New returns the commands of srv, reading leases from leases (the store
// srv writes to).
func New(srv *slowpath.Server, leases lease.Reader) *Commands {
	return &Commands{srv: srv, leases: leases}
}

// Register adds the commands to c.
func (h *Commands) Register(c *control.Server) {
	c.Handle("lease4-get", h.get)
	c.Handle("lease4-get-all", h.getAll)
	c.Handle("lease4-get-page", h.getPage)
	c.Handle("lease4-get-by-hw-address", h.getByHW)
	c.Handle("lease4-get-by-client-id", h.getByClientID)
	c.Handle("lease4-get-by-hostname", h.getByHostname)
	c.Handle("lease4-add", h.put(true))
	c.Handle("lease4-update", h.put(false))
	c.Handle("lease4-del", h.del)
	c.Handle("lease4-wipe", h.wipe)
	c.Handle("dhcp-disable", h.disable)
	c.Handle("dhcp-enable", h.enable)
	c.Handle("leases-reclaim", h.reclaim)
}

func leasesAnswer(ls []lease.Lease, extra map[string]any) control.Answer {
	out := make([]leasejson.Element, len(ls))
	for i := range ls {
		out[i] = leasejson.Encode(&ls[i])
	}
	args := map[string]any{"leases": out}
	for k, v := range extra {
		args[k] = v
	}
	a := control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d IPv4 lease(s) found.", len(ls)), Arguments: args}
	if len(ls) == 0 {
		a.Result = control.ResultEmpty
	}
	return a
}

// identifierArgs is the by-identifier form of lease4-get / lease4-del.
type identifierArgs struct {
	IPAddress      string `json:"ip-address"`
	IdentifierType string `json:"identifier-type"`
	Identifier     string `json:"identifier"`
	SubnetID       uint32 `json:"subnet-id"`
}

// find resolves lease4-get / lease4-del arguments to a lease. The answer
// is non-nil when there is none: an error, or notFound with result 3.
func (h *Commands) find(req *control.Request, notFound string) (lease.Lease, *control.Answer) {
	var a identifierArgs
	if err := req.DecodeArguments(&a); err != nil {
		return lease.Lease{}, errorf("%v", err)
	}
	if a.IPAddress != "" {
		addr, err := netip.ParseAddr(a.IPAddress)
		if err != nil || !addr.Is4() {
			return lease.Lease{}, errorf("Failed to convert string to address '%s'", a.IPAddress)
		}
		if l, ok := h.leases.Get(addr); ok {
			return l, nil
		}
		return lease.Lease{}, &control.Answer{Result: control.ResultEmpty, Text: notFound}
	}
	if a.IdentifierType == "" || a.Identifier == "" || a.SubnetID == 0 {
		return lease.Lease{}, errorf("missing parameter: specify ip-address, or identifier-type, identifier and subnet-id")
	}
	id, err := leasejson.ParseHex(a.Identifier)
	if err != nil {
		return lease.Lease{}, errorf("invalid identifier: %v", err)
	}
	var ls []lease.Lease
	switch a.IdentifierType {
	case "hw-address":
		ls = h.leases.ByHWAddr(id)
	case "client-id":
		ls = h.leases.ByClientID(id)
	default:
		return lease.Lease{}, errorf("incorrect identifier type: %s, the only supported values are: address, hw-address, client-id", a.IdentifierType)
	}
	for _, l := range ls {
		if l.SubnetID == a.SubnetID {
			return l, nil
		}
	}
	return lease.Lease{}, &control.Answer{Result: control.ResultEmpty, Text: notFound}
}

// errorf is control.Errorf for find.
func errorf(format string, args ...any) *control.Answer {
	a := control.Errorf(format, args...)
	return &a
}

// optionalArgs decodes the arguments of a command that may have none.
func optionalArgs(req *control.Request, v any) error {
	if len(req.Arguments) == 0 {
		return nil
	}
	if err := json.Unmarshal(req.Arguments, v); err != nil {
		return fmt.Errorf("invalid arguments: %v", err)
	}
	return nil
}

func (h *Commands) get(_ context.Context, req *control.Request) control.Answer {
	l, ans := h.find(req, "Lease not found.")
	if ans != nil {
		return *ans
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease found.", Arguments: leasejson.Encode(&l)}
}

func (h *Commands) getAll(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Subnets []uint32 `json:"subnets"`
	}
	if err := optionalArgs(req, &a); err != nil {
		return control.Errorf("%v", err)
	}
	want := map[uint32]bool{}
	for _, id := range a.Subnets {
		want[id] = true
	}
	var ls []lease.Lease
	h.leases.Range(func(l *lease.Lease) bool {
		if len(want) == 0 || want[l.SubnetID] {
			ls = append(ls, l.Clone())
		}
		return true
	})
	return leasesAnswer(ls, nil)
}

func (h *Commands) getPage(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		From  string `json:"from"`
		Limit int    `json:"limit"`
	}
	if bad := req.Decode(&a,
		control.Mandatory{Key: "from", Missing: "'from' parameter not specified"},
		control.Mandatory{Key: "limit", Missing: "'limit' parameter not specified"}); bad != nil {
		return *bad
	}
	if a.Limit <= 0 {
		return control.Errorf("page size of retrieved leases must not be 0")
	}
	from := netip.IPv4Unspecified()
	if a.From != "start" {
		addr, err := netip.ParseAddr(a.From)
		if err != nil || !addr.Is4() {
			return control.Errorf("'from' parameter value %s is neither 'start' keyword nor a valid IPv4 address", a.From)
		}
		from = addr
	}
	ls := h.leases.Page(from, min(a.Limit, 1<<20))
	return leasesAnswer(ls, map[string]any{"count": len(ls)})
}

func (h *Commands) getByHW(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		HW string `json:"hw-address"`
	}
	return h.getByIdentifier(req, &a, &a.HW, "hw-address", h.leases.ByHWAddr)
}

func (h *Commands) getByClientID(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		CID string `json:"client-id"`
	}
	return h.getByIdentifier(req, &a, &a.CID, "client-id", h.leases.ByClientID)
}

// getByIdentifier answers lease4-get-by-hw-address and
// lease4-get-by-client-id: it decodes the arguments into args, whose
// field id is the identifier named key, and looks the leases up by find.
func (h *Commands) getByIdentifier(req *control.Request, args any, id *string, key string, find func([]byte) []lease.Lease) control.Answer {
	if err := req.DecodeArguments(args); err != nil {
		return control.Errorf("%v", err)
	}
	b, err := leasejson.ParseHex(*id)
	if err != nil || len(b) == 0 {
		return control.Errorf("'%s' parameter not specified or invalid", key)
	}
	return leasesAnswer(find(b), nil)
}

func (h *Commands) getByHostname(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Hostname string `json:"hostname"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	if a.Hostname == "" {
		return control.Errorf("'hostname' parameter not specified or empty")
	}
	return leasesAnswer(h.leases.ByHostname(a.Hostname), nil)
}
