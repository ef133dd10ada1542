// Package hostcmd answers Kea's host_cmds commands (reservation-add,
// reservation-get, -get-all, -get-page, -get-by-hostname, -get-by-id,
// reservation-del) over the reservations of the configuration and of the
// host databases, in Kea's order: the configuration first, then each
// database as hosts-databases lists them. Writes go to the databases
// only, as in Kea 2.2: without a writable hosts-database, reservation-add
// and reservation-del fail.
package hostcmd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/host"
)

// Commands answers the reservation commands.
type Commands struct {
	st atomic.Pointer[state]
}

// state is one configuration with its databases.
type state struct {
	cfg     *config.Config
	sources []host.Reader // the configuration, then the databases
	dbs     []host.Store
}

// New returns the commands; Set must be called before they answer.
func New() *Commands { return &Commands{} }

// Set gives the running configuration and its host databases (in
// hosts-databases order); called at start and on every reload.
func (c *Commands) Set(cfg *config.Config, dbs []host.Store) {
	st := &state{cfg: cfg, dbs: dbs, sources: []host.Reader{host.FromConfig(cfg)}}
	for _, d := range dbs {
		st.sources = append(st.sources, d)
	}
	c.st.Store(st)
}

// Register adds the commands to s.
func (c *Commands) Register(s *control.Server) {
	s.Handle("reservation-add", c.add)
	s.Handle("reservation-get", c.get)
	s.Handle("reservation-get-all", c.getAll)
	s.Handle("reservation-get-page", c.getPage)
	s.Handle("reservation-get-by-hostname", c.getByHostname)
	s.Handle("reservation-get-by-id", c.getByID)
	s.Handle("reservation-del", c.del)
}

func (c *Commands) state() (*state, error) {
	st := c.st.Load()
	if st == nil {
		return nil, errors.New("the server is not configured yet")
	}
	return st, nil
}

func (c *Commands) add(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	raw, err := reservationArg(req)
	if err != nil {
		return control.Errorf("%v", err)
	}
	res, uctx, err := st.cfg.ParseHostReservation(raw)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if len(st.dbs) == 0 {
		return control.Errorf("Host database not available, cannot add host.")
	}
	if err := st.validate(res.SubnetID, res.IP); err != nil {
		return control.Errorf("%v", err)
	}
	h := host.Host{Res: res, UserContext: uctx}
	// Kea's host manager adds the host to every database.
	for _, db := range st.dbs {
		if db.ReadOnly() {
			return control.Errorf("Unable to add new host because the host database is in read-only mode.")
		}
		if err := db.Add(ctx, h); err != nil {
			if errors.Is(err, host.ErrExists) {
				return control.Errorf("Database duplicate entry error")
			}
			return control.Errorf("%v", err)
		}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Host added."}
}

// validate checks, as Kea does before it writes a reservation, that its
// subnet is configured and holds its address.
func (st *state) validate(subnet uint32, addr netip.Addr) error {
	if subnet == 0 {
		return nil
	}
	for _, s := range st.cfg.Subnets {
		if s.ID != subnet {
			continue
		}
		if addr.IsValid() && !s.Prefix.Contains(addr) {
			return fmt.Errorf("specified reservation '%s' is not matching the IPv4 subnet prefix '%s'", addr, s.Prefix)
		}
		return nil
	}
	return fmt.Errorf("IPv4 subnet with ID of '%d' is not configured", subnet)
}

func (c *Commands) get(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	for _, src := range st.sources {
		var hs []*config.Reservation
		if a.byAddr {
			hs, err = src.GetByAddr4(ctx, a.subnet, a.addr)
		} else {
			var r *config.Reservation
			if r, err = src.Get4(ctx, a.subnet, a.idType, a.id); r != nil {
				hs = []*config.Reservation{r}
			}
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		if len(hs) > 0 {
			return control.Answer{Result: control.ResultSuccess, Text: "Host found.", Arguments: hostJSON(host.Host{Res: hs[0]})}
		}
	}
	// Kea 2.2 answers a query that found nothing with success.
	return control.Answer{Result: control.ResultSuccess, Text: "Host not found."}
}

func hostsAnswer(hs []host.Host, extra map[string]any) control.Answer {
	list := make([]map[string]any, 0, len(hs))
	for _, h := range hs {
		list = append(list, hostJSON(h))
	}
	return listAnswer(list, "IPv4", extra)
}

// listAnswer is Kea's answer listing hosts ("%d IPv4 host(s) found.",
// result 3 when there are none), with extra arguments besides "hosts".
func listAnswer(list []map[string]any, family string, extra map[string]any) control.Answer {
	args := map[string]any{"hosts": list}
	for k, v := range extra {
		args[k] = v
	}
	a := control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d %s host(s) found.", len(list), family), Arguments: args}
	if len(list) == 0 {
		a.Result = control.ResultEmpty
	}
	return a
}

// reservationArg is reservation-add's "reservation", with Kea's texts
// when it is missing.
func reservationArg(req *control.Request) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(req.Arguments) == 0 || json.Unmarshal(req.Arguments, &m) != nil || m == nil {
		return nil, errors.New("no parameters specified for the command")
	}
	raw, ok := m["reservation"]
	if !ok {
		return nil, errors.New("reservation must be specified")
	}
	return raw, nil
}

// collect runs q on every source, in order, and concatenates the answers.
func (st *state) collect(q func(host.Reader) ([]host.Host, error)) ([]host.Host, error) {
	var out []host.Host
	for _, src := range st.sources {
		hs, err := q(src)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}

func (c *Commands) getAll(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getAllArgs(req.Arguments)
	if err == nil {
		err = st.validate(a.subnet, netip.Addr{})
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	hs, err := st.collect(func(r host.Reader) ([]host.Host, error) { return r.All4(ctx, a.subnet) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hostsAnswer(hs, nil)
}

// getPage pages through the sources: source-index 0 is the configuration,
// 1 the first database; a source with nothing left passes on to the next,
// as Kea's host manager does.
func (c *Commands) getPage(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := getPageArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = st.validate(a.subnet, netip.Addr{})
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	idx, from := a.source, a.from
	var hs []host.Host
	for ; idx < len(st.sources); idx, from = idx+1, 0 {
		if hs, err = st.sources[idx].Page4(ctx, subnet, from, a.limit); err != nil {
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
	return hostsAnswer(hs, extra)
}

func (c *Commands) getByHostname(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := byHostnameArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = st.validate(a.subnet, netip.Addr{})
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	name := strings.ToLower(a.hostname)
	hs, err := st.collect(func(r host.Reader) ([]host.Host, error) { return r.ByHostname4(ctx, name, subnet) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hostsAnswer(hs, nil)
}

func (c *Commands) getByID(ctx context.Context, req *control.Request) control.Answer {
	st, err := c.state()
	if err != nil {
		return control.Errorf("%v", err)
	}
	a, err := byIDArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	hs, err := st.collect(func(r host.Reader) ([]host.Host, error) { return r.ByID(ctx, a.idType, a.id) })
	if err != nil {
		return control.Errorf("%v", err)
	}
	return hostsAnswer(hs, nil)
}

func (c *Commands) del(ctx context.Context, req *control.Request) control.Answer {
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
			done, err = db.DelByAddr4(ctx, a.subnet, a.addr)
		} else {
			done, err = db.Del4(ctx, a.subnet, a.idType, a.id)
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

// hostJSON is Kea's rendering of a DHCPv4 host (Host::toElement4), with
// the subnet-id the commands add.
func hostJSON(h host.Host) map[string]any {
	r := h.Res
	m := map[string]any{}
	t, id := host.Identifier(r)
	setIdentifier(m, t, id)
	if r.IP.IsValid() {
		m["ip-address"] = r.IP.String()
	}
	next := netip.IPv4Unspecified()
	if r.NextServer.IsValid() {
		next = r.NextServer
	}
	m["hostname"] = r.Hostname
	m["next-server"] = next.String()
	m["server-hostname"] = r.ServerHostname
	m["boot-file-name"] = r.BootFileName
	classes := r.ClientClasses
	if classes == nil {
		classes = []string{}
	}
	m["client-classes"] = classes
	opts := make([]map[string]any, 0, len(r.Options))
	for _, o := range r.Options {
		opts = append(opts, optionJSON(uint16(o.Code), o.Name, o.OptionSpace(), o.Data, o.AlwaysSend))
	}
	m["option-data"] = opts
	if len(h.UserContext) > 0 {
		m["user-context"] = h.UserContext
	}
	m["subnet-id"] = r.SubnetID
	return m
}

// setIdentifier sets a host's identifier in m as Kea renders it: a
// hardware address and a DUID in colon hex, the others in upper-case hex.
func setIdentifier(m map[string]any, t host.IDType, id []byte) {
	switch t {
	case host.HWAddr:
		m["hw-address"] = net.HardwareAddr(id).String()
	case host.DUID:
		m["duid"] = colonHex(id)
	default:
		m[t.String()] = strings.ToUpper(hex.EncodeToString(id))
	}
}

// optionJSON is Kea's rendering of an option of a host's option-data.
func optionJSON(code uint16, name, space string, data []byte, always bool) map[string]any {
	e := map[string]any{"code": code, "space": space, "csv-format": false,
		"data": strings.ToUpper(hex.EncodeToString(data)), "always-send": always}
	if name != "" {
		e["name"] = name
	}
	return e
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
