package slowpath

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"xdhcp/control"
	"xdhcp/lease"
)

// LeaseAdmin is what the lease commands need of the store beyond LeaseStore.
type LeaseAdmin interface {
	Page(from netip.Addr, limit int) []lease.Lease
	ByHostname(name string) []lease.Lease
	Len() int
}

// RegisterCommands adds the commands the server answers itself: Kea's
// lease_cmds (natively), dhcp-disable/enable and leases-reclaim.
func (s *Server) RegisterCommands(c *control.Server, admin LeaseAdmin) {
	h := &leaseCommands{s: s, admin: admin}
	c.Handle("lease4-get", h.get)
	c.Handle("lease4-get-all", h.getAll)
	c.Handle("lease4-get-page", h.getPage)
	c.Handle("lease4-get-by-hw-address", h.getByHW)
	c.Handle("lease4-get-by-client-id", h.getByClientID)
	c.Handle("lease4-get-by-hostname", h.getByHostname)
	c.Handle("lease4-add", h.add)
	c.Handle("lease4-update", h.update)
	c.Handle("lease4-del", h.del)
	c.Handle("lease4-wipe", h.wipe)
	c.Handle("dhcp-disable", s.cmdDisable)
	c.Handle("dhcp-enable", s.cmdEnable)
	c.Handle("leases-reclaim", s.cmdReclaim)
}

type leaseCommands struct {
	s     *Server
	admin LeaseAdmin
}

func leasesAnswer(ls []lease.Lease, extra map[string]any) control.Answer {
	out := make([]LeaseJSON, len(ls))
	for i := range ls {
		out[i] = ToJSON(&ls[i])
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

// find resolves lease4-get / lease4-del arguments to a lease.
func (h *leaseCommands) find(req *control.Request) (lease.Lease, bool, *control.Answer) {
	var a identifierArgs
	if err := req.DecodeArguments(&a); err != nil {
		ans := control.Errorf("%v", err)
		return lease.Lease{}, false, &ans
	}
	if a.IPAddress != "" {
		addr, err := netip.ParseAddr(a.IPAddress)
		if err != nil || !addr.Is4() {
			ans := control.Errorf("Failed to convert string to address '%s'", a.IPAddress)
			return lease.Lease{}, false, &ans
		}
		l, ok := h.s.store.Get(addr)
		return l, ok, nil
	}
	if a.IdentifierType == "" || a.Identifier == "" || a.SubnetID == 0 {
		ans := control.Errorf("missing parameter: specify ip-address, or identifier-type, identifier and subnet-id")
		return lease.Lease{}, false, &ans
	}
	id, err := ParseHex(a.Identifier)
	if err != nil {
		ans := control.Errorf("invalid identifier: %v", err)
		return lease.Lease{}, false, &ans
	}
	var ls []lease.Lease
	switch a.IdentifierType {
	case "hw-address":
		ls = h.s.store.ByHWAddr(id)
	case "client-id":
		ls = h.s.store.ByClientID(id)
	default:
		ans := control.Errorf("incorrect identifier type: %s, the only supported values are: address, hw-address, client-id", a.IdentifierType)
		return lease.Lease{}, false, &ans
	}
	for _, l := range ls {
		if l.SubnetID == a.SubnetID {
			return l, true, nil
		}
	}
	return lease.Lease{}, false, nil
}

func (h *leaseCommands) get(_ context.Context, req *control.Request) control.Answer {
	l, ok, errAns := h.find(req)
	if errAns != nil {
		return *errAns
	}
	if !ok {
		return control.Answer{Result: control.ResultEmpty, Text: "Lease not found."}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease found.", Arguments: ToJSON(&l)}
}

func (h *leaseCommands) getAll(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Subnets []uint32 `json:"subnets"`
	}
	if len(req.Arguments) > 0 {
		if err := json.Unmarshal(req.Arguments, &a); err != nil {
			return control.Errorf("invalid arguments: %v", err)
		}
	}
	want := map[uint32]bool{}
	for _, id := range a.Subnets {
		want[id] = true
	}
	var ls []lease.Lease
	h.s.store.Range(func(l *lease.Lease) bool {
		if len(want) == 0 || want[l.SubnetID] {
			ls = append(ls, cloneLease(l))
		}
		return true
	})
	return leasesAnswer(ls, nil)
}

func (h *leaseCommands) getPage(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		From  *string `json:"from"`
		Limit *int    `json:"limit"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	if a.From == nil {
		return control.Errorf("'from' parameter not specified")
	}
	if a.Limit == nil {
		return control.Errorf("'limit' parameter not specified")
	}
	if *a.Limit <= 0 {
		return control.Errorf("page size of retrieved leases must not be 0")
	}
	from := netip.IPv4Unspecified()
	if *a.From != "start" {
		addr, err := netip.ParseAddr(*a.From)
		if err != nil || !addr.Is4() {
			return control.Errorf("'from' parameter value %s is neither 'start' keyword nor a valid IPv4 address", *a.From)
		}
		from = addr
	}
	ls := h.admin.Page(from, min(*a.Limit, 1<<20))
	return leasesAnswer(ls, map[string]any{"count": len(ls)})
}

func (h *leaseCommands) getByHW(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		HW string `json:"hw-address"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	hw, err := ParseHex(a.HW)
	if err != nil || len(hw) == 0 {
		return control.Errorf("'hw-address' parameter not specified or invalid")
	}
	return leasesAnswer(h.s.store.ByHWAddr(hw), nil)
}

func (h *leaseCommands) getByClientID(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		CID string `json:"client-id"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	cid, err := ParseHex(a.CID)
	if err != nil || len(cid) == 0 {
		return control.Errorf("'client-id' parameter not specified or invalid")
	}
	return leasesAnswer(h.s.store.ByClientID(cid), nil)
}

func (h *leaseCommands) getByHostname(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Hostname string `json:"hostname"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	if a.Hostname == "" {
		return control.Errorf("'hostname' parameter not specified or empty")
	}
	return leasesAnswer(h.admin.ByHostname(a.Hostname), nil)
}

// subnetOf validates or selects the subnet of an administratively added
// lease and returns its id and default lifetime.
func (s *Server) subnetOf(rt *liveConfig) func(uint32, netip.Addr) (uint32, uint32, error) {
	return func(id uint32, a netip.Addr) (uint32, uint32, error) {
		if id == 0 {
			sn := rt.subnetFor(a)
			if sn == nil {
				return 0, 0, fmt.Errorf("subnet-id not specified and no subnet contains %s", a)
			}
			return sn.cfg.ID, sn.cfg.Lifetimes.Valid, nil
		}
		sn := rt.byID[id]
		if sn == nil {
			return 0, 0, fmt.Errorf("Invalid subnet-id: No IPv4 subnet with subnet-id=%d currently configured.", id)
		}
		if !sn.cfg.Prefix.Contains(a) {
			return 0, 0, fmt.Errorf("The address %s does not belong to subnet %s, subnet-id=%d", a, sn.cfg.Prefix, id)
		}
		return id, sn.cfg.Lifetimes.Valid, nil
	}
}

func (h *leaseCommands) add(ctx context.Context, req *control.Request) control.Answer {
	return h.put(ctx, req, true)
}

func (h *leaseCommands) update(ctx context.Context, req *control.Request) control.Answer {
	return h.put(ctx, req, false)
}

// put implements lease4-add and lease4-update; both adjust the pool and
// per-subnet statistics as lease_cmds does.
func (h *leaseCommands) put(ctx context.Context, req *control.Request, add bool) control.Answer {
	s := h.s
	// The read lock: pools and statistics are safe for concurrent use,
	// and a write lock here would wait for every worker, including those
	// waiting for the partner this update comes from.
	s.rtMu.RLock()
	defer s.rtMu.RUnlock()
	rt := s.rt
	l, force, err := parseLeaseArgs(req.Arguments, s.now().Unix(), s.subnetOf(rt))
	if err != nil {
		return control.Errorf("%v", err)
	}
	old, exists := s.store.Get(l.Addr)
	switch {
	case add && exists:
		return control.Errorf("IPv4 lease already exists.")
	case !add && !exists && !force:
		return control.Errorf("failed to update the lease with address %s either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed", l.Addr)
	}
	if err := s.store.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
		return control.Errorf("unable to store lease %s: %v", l.Addr, err)
	}
	s.accountPut(rt, old, exists, l)
	if add {
		return control.Answer{Result: control.ResultSuccess, Text: "Lease for address " + l.Addr.String() + ", subnet-id " + fmt.Sprint(l.SubnetID) + " added."}
	}
	if !exists {
		return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease added."}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease updated."}
}

// accountPut keeps pool bitmaps, statistics and the fast-path cache in
// step with a lease written from outside a client exchange (commands, HA).
func (s *Server) accountPut(rt *liveConfig, old lease.Lease, existed bool, l lease.Lease) {
	live := func(x lease.Lease) bool { return x.State != lease.StateExpiredReclaimed }
	if existed && live(old) {
		if sn := rt.byID[old.SubnetID]; sn != nil {
			sn.st.assigned.Add(-1)
			if old.State == lease.StateDeclined {
				sn.st.declined.Add(-1)
				s.st.declined.Add(-1)
			}
		}
	}
	if live(l) {
		if p := rt.poolFor(l.Addr); p != nil {
			p.alloc.Claim(l.Addr)
		}
		if sn := rt.byID[l.SubnetID]; sn != nil {
			sn.st.assigned.Inc()
			if l.State == lease.StateDeclined {
				sn.st.declined.Inc()
				s.st.declined.Inc()
			}
		}
	} else {
		s.freeAddr(rt, l.Addr)
	}
	s.forget(l.Addr)
}

// accountDelete is accountPut's counterpart for a removed lease.
func (s *Server) accountDelete(rt *liveConfig, old lease.Lease) {
	if old.State != lease.StateExpiredReclaimed {
		if sn := rt.byID[old.SubnetID]; sn != nil {
			sn.st.assigned.Add(-1)
			if old.State == lease.StateDeclined {
				sn.st.declined.Add(-1)
				s.st.declined.Add(-1)
			}
		}
	}
	s.freeAddr(rt, old.Addr)
	s.forget(old.Addr)
}

func (h *leaseCommands) del(ctx context.Context, req *control.Request) control.Answer {
	s := h.s
	s.rtMu.RLock() // see put
	defer s.rtMu.RUnlock()
	l, ok, errAns := h.find(req)
	if errAns != nil {
		return *errAns
	}
	if !ok {
		return control.Answer{Result: control.ResultEmpty, Text: "IPv4 lease not found."}
	}
	if err := s.store.Commit(ctx, lease.Op{Kind: lease.OpDelete, Lease: l}); err != nil {
		return control.Errorf("unable to delete lease %s: %v", l.Addr, err)
	}
	s.accountDelete(s.rt, l)
	return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease deleted."}
}

func (h *leaseCommands) wipe(ctx context.Context, req *control.Request) control.Answer {
	var a struct {
		SubnetID uint32 `json:"subnet-id"`
	}
	if len(req.Arguments) > 0 {
		if err := json.Unmarshal(req.Arguments, &a); err != nil {
			return control.Errorf("invalid arguments: %v", err)
		}
	}
	s := h.s
	s.lockLiveConfig()
	defer s.rtMu.Unlock()
	var ops []lease.Op
	s.store.Range(func(l *lease.Lease) bool {
		if a.SubnetID == 0 || l.SubnetID == a.SubnetID {
			ops = append(ops, lease.Op{Kind: lease.OpDelete, Lease: cloneLease(l)})
		}
		return true
	})
	if len(ops) > 0 {
		if err := s.store.Commit(ctx, ops...); err != nil {
			return control.Errorf("unable to wipe leases: %v", err)
		}
	}
	for _, op := range ops {
		s.accountDelete(s.rt, op.Lease)
	}
	where := "all subnets"
	if a.SubnetID != 0 {
		where = fmt.Sprintf("subnet %d", a.SubnetID)
	}
	res := control.ResultSuccess
	if len(ops) == 0 {
		res = control.ResultEmpty
	}
	return control.Answer{Result: res, Text: fmt.Sprintf("Deleted %d IPv4 lease(s) from %s.", len(ops), where)}
}

func (s *Server) cmdDisable(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		MaxPeriod *int64 `json:"max-period"`
		Origin    any    `json:"origin"`
	}
	if len(req.Arguments) > 0 {
		if err := json.Unmarshal(req.Arguments, &a); err != nil {
			return control.Errorf("invalid arguments: %v", err)
		}
	}
	origin, ok := originOf(a.Origin)
	if !ok {
		return control.Errorf("invalid value used for 'origin' parameter: %v", a.Origin)
	}
	var period time.Duration
	if a.MaxPeriod != nil {
		if *a.MaxPeriod <= 0 {
			return control.Errorf("'max-period' must be positive integer value")
		}
		period = time.Duration(*a.MaxPeriod) * time.Second
	}
	s.Network.Disable(origin, period)
	if period > 0 {
		return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("DHCPv4 service disabled for %d seconds", *a.MaxPeriod)}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "DHCPv4 service disabled"}
}

func (s *Server) cmdEnable(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Origin any `json:"origin"`
	}
	if len(req.Arguments) > 0 {
		if err := json.Unmarshal(req.Arguments, &a); err != nil {
			return control.Errorf("invalid arguments: %v", err)
		}
	}
	origin, ok := originOf(a.Origin)
	if !ok {
		return control.Errorf("invalid value used for 'origin' parameter: %v", a.Origin)
	}
	s.Network.Enable(origin)
	return control.Answer{Result: control.ResultSuccess, Text: "DHCP service successfully enabled"}
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

func (s *Server) cmdReclaim(_ context.Context, req *control.Request) control.Answer {
	var a struct {
		Remove *bool `json:"remove"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return control.Errorf("%v", err)
	}
	if a.Remove == nil {
		return control.Errorf("'remove' parameter not specified")
	}
	if _, err := s.Reclaim(*a.Remove); err != nil {
		return control.Errorf("reclaim expired leases: %v", err)
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Reclamation of expired leases is complete."}
}
