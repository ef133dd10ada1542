package hostcmd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"xdhcp/config"
	"xdhcp/config/optiondef"
	"xdhcp/control"
	"xdhcp/host"
)

// Commands6 answers the reservation commands for the DHCPv6 service, as
// kea-dhcp6 with host_cmds answers them: over the Dhcp6 section's
// reservations and its host databases, with DHCPv6 hosts (ip-addresses,
// prefixes; duid, hw-address or flex-id) and Kea's IPv6 texts.
type Commands6 struct {
	st atomic.Pointer[state6]
}

// state6 is one Dhcp6 configuration with its databases.
type state6 struct {
	cfg     *config.Config6
	sources []host.Reader6 // the configuration, then the databases
	dbs     []host.Store6
}

// New6 returns the DHCPv6 commands; Set must be called before they
// answer.
func New6() *Commands6 { return &Commands6{} }

// Set gives the running Dhcp6 section and its host databases (in
// hosts-databases order); called at start and on every reload.
func (c *Commands6) Set(cfg *config.Config6, dbs []host.Store6) {
	st := &state6{cfg: cfg, dbs: dbs, sources: []host.Reader6{host.FromConfig6(cfg)}}
	for _, d := range dbs {
		st.sources = append(st.sources, d)
	}
	c.st.Store(st)
}

// commandNames are the reservation commands, in Register's order.
var commandNames = [...]string{"reservation-add", "reservation-get", "reservation-get-all", "reservation-get-page",
	"reservation-get-by-hostname", "reservation-get-by-id", "reservation-del"}

func (c *Commands) handlers() [len(commandNames)]control.HandlerFunc {
	return [...]control.HandlerFunc{c.add, c.get, c.getAll, c.getPage, c.getByHostname, c.getByID, c.del}
}

func (c *Commands6) handlers() [len(commandNames)]control.HandlerFunc {
	return [...]control.HandlerFunc{c.add, c.get, c.getAll, c.getPage, c.getByHostname, c.getByID, c.del}
}

// RegisterBoth adds the reservation commands to s for a daemon serving
// DHCPv4 and DHCPv6 on one control channel: pick returns the DHCPv6
// commands for a request meant for the DHCPv6 service (as Kea's Control
// Agent forwards to kea-dhcp6), nil for one meant for DHCPv4 (c4).
func RegisterBoth(s *control.Server, c4 *Commands, pick func(*control.Request) *Commands6) {
	h4 := c4.handlers()
	for i, name := range commandNames {
		s.Handle(name, func(ctx context.Context, req *control.Request) control.Answer {
			if c6 := pick(req); c6 != nil {
				return c6.handlers()[i](ctx, req)
			}
			return h4[i](ctx, req)
		})
	}
}

func (c *Commands6) state() (*state6, error) {
	st := c.st.Load()
	if st == nil {
		return nil, errors.New("the server is not configured yet")
	}
	return st, nil
}

func (c *Commands6) add(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	raw, err := reservationArg(req)
	if err != nil {
		return control.Errorf("%v", err)
	}
	res, uctx, err := st.cfg.ParseHostReservation6(raw)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if len(st.dbs) == 0 {
		return control.Errorf("Host database not available, cannot add host.")
	}
	if err := st.validate(res.SubnetID, res.IPAddresses); err != nil {
		return control.Errorf("%v", err)
	}
	h := host.Host6{Res: res, UserContext: uctx}
	for _, db := range st.dbs {
		if db.ReadOnly() {
			return control.Errorf("Unable to add new host because the host database is in read-only mode.")
		}
		if err := db.Add6(ctx, h); err != nil {
			if errors.Is(err, host.ErrExists) {
				return control.Errorf("Database duplicate entry error")
			}
			return control.Errorf("%v", err)
		}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Host added."}
}

// validate checks, as Kea does before it writes a reservation, that its
// subnet is configured and holds its addresses (prefixes need not be in
// it).
func (st *state6) validate(subnet uint32, addrs []netip.Addr) error {
	if subnet == 0 {
		return nil
	}
	sn := st.cfg.SubnetByID(subnet)
	if sn == nil {
		return fmt.Errorf("IPv6 subnet with ID of '%d' is not configured", subnet)
	}
	for _, a := range addrs {
		if !sn.Prefix.Contains(a) {
			return fmt.Errorf("specified reservation '%s' is not matching the IPv6 subnet prefix '%s'", a, sn.Prefix)
		}
	}
	return nil
}

func (c *Commands6) get(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	for _, src := range st.sources {
		var r *config.Reservation6
		if a.byAddr {
			r, err = src.GetByAddr6(ctx, a.subnet, a.addr)
		} else {
			r, err = src.Get6(ctx, a.subnet, a.idType, a.id)
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		if r != nil {
			return control.Answer{Result: control.ResultSuccess, Text: "Host found.", Arguments: host6JSON(withContext(ctx, src, r))}
		}
	}
	// Kea 2.2 answers a query that found nothing with success.
	return control.Answer{Result: control.ResultSuccess, Text: "Host not found."}
}

// withContext is r with the user context src keeps beside it (the
// lookups the engine uses return the reservation alone).
func withContext(ctx context.Context, src host.Reader6, r *config.Reservation6) host.Host6 {
	t, id := host.Identifier6(r)
	hs, err := src.ByID6(ctx, t, id)
	if err == nil {
		for _, h := range hs {
			if h.Res.SubnetID == r.SubnetID {
				return h
			}
		}
	}
	return host.Host6{Res: r}
}

func hosts6Answer(hs []host.Host6, extra map[string]any) control.Answer {
	list := make([]map[string]any, 0, len(hs))
	for _, h := range hs {
		list = append(list, host6JSON(h))
	}
	return listAnswer(list, "IPv6", extra)
}

// collect runs q on every source, in order, and concatenates the answers.
func (st *state6) collect(q func(host.Reader6) ([]host.Host6, error)) ([]host.Host6, error) {
	var out []host.Host6
	for _, src := range st.sources {
		hs, err := q(src)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}

func (c *Commands6) getAll(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getAllArgs(req.Arguments)
	if err == nil {
		err = st.validate(a.subnet, nil)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	hs, err := st.collect(func(r host.Reader6) ([]host.Host6, error) { return r.All6(ctx, a.subnet) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hosts6Answer(hs, nil)
}

// getPage pages through the sources as Commands.getPage does.
func (c *Commands6) getPage(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getPageArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = st.validate(a.subnet, nil)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	idx, from := a.source, a.from
	var hs []host.Host6
	for ; idx < len(st.sources); idx, from = idx+1, 0 {
		if hs, err = st.sources[idx].Page6(ctx, subnet, from, a.limit); err != nil {
			return control.Errorf("%v", err)
		}
		if len(hs) > 0 {
			break
		}
	}
	extra := map[string]any{"count": len(hs)}
	if len(hs) > 0 {
		extra["next"] = map[string]any{"source-index": idx, "from": hs[len(hs)-1].ID}
	}
	return hosts6Answer(hs, extra)
}

func (c *Commands6) getByHostname(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := byHostnameArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = st.validate(a.subnet, nil)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	name := strings.ToLower(a.hostname)
	hs, err := st.collect(func(r host.Reader6) ([]host.Host6, error) { return r.ByHostname6(ctx, name, subnet) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hosts6Answer(hs, nil)
}

func (c *Commands6) getByID(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := byIDArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	hs, err := st.collect(func(r host.Reader6) ([]host.Host6, error) { return r.ByID6(ctx, a.idType, a.id) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hosts6Answer(hs, nil)
}

func (c *Commands6) del(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if len(st.dbs) == 0 {
		return control.Errorf("Unable to delete a host because there is no hosts-database configured.")
	}
	for _, db := range st.dbs {
		if db.ReadOnly() {
			continue
		}
		var done bool
		if a.byAddr {
			done, err = db.DelByAddr6(ctx, a.subnet, a.addr)
		} else {
			done, err = db.Del6(ctx, a.subnet, a.idType, a.id)
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		if done {
			return control.Answer{Result: control.ResultSuccess, Text: "Host deleted."}
		}
	}
	return control.Errorf("Host not deleted (not found).")
}

// host6JSON is Kea's rendering of a DHCPv6 host (Host::toElement6), with
// the subnet-id the commands add.
func host6JSON(h host.Host6) map[string]any {
	r := h.Res
	m := map[string]any{}
	t, id := host.Identifier6(r)
	setIdentifier(m, t, id)
	addrs := make([]string, 0, len(r.IPAddresses))
	for _, a := range r.IPAddresses {
		addrs = append(addrs, a.String())
	}
	prefixes := make([]string, 0, len(r.Prefixes))
	for _, p := range r.Prefixes {
		prefixes = append(prefixes, p.String())
	}
	m["ip-addresses"] = addrs
	m["prefixes"] = prefixes
	m["hostname"] = r.Hostname
	classes := r.ClientClasses
	if classes == nil {
		classes = []string{}
	}
	m["client-classes"] = classes
	opts := make([]map[string]any, 0, len(r.Options))
	for _, o := range r.Options {
		space := o.Space
		switch {
		case o.VendorSpace:
			space = optiondef.VendorSpace(o.Vendor)
		case space == "":
			space = optiondef.Space6
		}
		opts = append(opts, optionJSON(o.Code, o.Name, space, o.Data, o.AlwaysSend))
	}
	m["option-data"] = opts
	if len(h.UserContext) > 0 {
		m["user-context"] = h.UserContext
	}
	m["subnet-id"] = r.SubnetID
	return m
}
