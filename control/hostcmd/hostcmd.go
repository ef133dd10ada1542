// Package hostcmd answers Kea's host_cmds commands (reservation-add,
// reservation-get, -get-all, -get-page, -get-by-hostname, -get-by-id,
// reservation-del) over the reservations of the configuration and of the
// host databases, in Kea's order: the configuration first, then each
// database as hosts-databases lists them. Writes go to the databases
// only, as in Kea 2.2: without a writable hosts-database, reservation-add
// and reservation-del fail. Commands answers for the DHCPv4 service,
// Commands6 for the DHCPv6 one; the logic is one, over a family of hosts.
package hostcmd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"xdhcp/control"
	"xdhcp/host"
)

// family is one universe's view of its sources: how its hosts are read,
// written, checked and rendered. H is host.Host or host.Host6.
type family[H any] struct {
	ip      string // "IPv4" or "IPv6", in Kea's texts
	sources []reader[H]
	dbs     []writer[H]
	// parse reads reservation-add's reservation.
	parse func(raw json.RawMessage) (H, error)
	// subnetOK checks that subnet is configured (0: global, always is).
	subnetOK func(subnet uint32) error
	// fits checks, as Kea does before it writes a host, that its subnet
	// is configured and holds its addresses.
	fits   func(h *H) error
	render func(h *H) map[string]any
	id     func(h *H) uint64
}

// reader is a source of hosts as the commands read it.
type reader[H any] struct {
	// get is reservation-get's lookup (by a.addr or a.idType, a.id in
	// a.subnet), nil when there is none.
	get        func(ctx context.Context, a *args) (*H, error)
	all        func(ctx context.Context, subnet uint32) ([]H, error)
	page       func(ctx context.Context, subnet *uint32, from uint64, limit int) ([]H, error)
	byHostname func(ctx context.Context, name string, subnet *uint32) ([]H, error)
	byID       func(ctx context.Context, t host.IDType, id []byte) ([]H, error)
}

// writer is a host database as the commands write it.
type writer[H any] struct {
	add func(ctx context.Context, h H) error
	// del is reservation-del's deletion (as get looks up); false when
	// nothing was deleted.
	del      func(ctx context.Context, a *args) (bool, error)
	readOnly func() bool
}

// commands are the handlers of one family, answering from the family
// the last Set gave.
type commands[H any] struct {
	st atomic.Pointer[family[H]]

	add, get, getAll, getPage, getByHostname, getByID, del control.HandlerFunc
}

// commandNames are the reservation commands, in handlers' order.
var commandNames = [...]string{"reservation-add", "reservation-get", "reservation-get-all", "reservation-get-page",
	"reservation-get-by-hostname", "reservation-get-by-id", "reservation-del"}

func newCommands[H any]() *commands[H] {
	c := &commands[H]{}
	bind := func(m func(*family[H], context.Context, *control.Request) control.Answer) control.HandlerFunc {
		return func(ctx context.Context, req *control.Request) control.Answer {
			f := c.st.Load()
			if f == nil {
				return control.Errorf("the server is not configured yet")
			}
			return m(f, ctx, req)
		}
	}
	c.add, c.get, c.getAll = bind((*family[H]).add), bind((*family[H]).get), bind((*family[H]).getAll)
	c.getPage, c.getByHostname = bind((*family[H]).getPage), bind((*family[H]).getByHostname)
	c.getByID, c.del = bind((*family[H]).getByID), bind((*family[H]).del)
	return c
}

func (c *commands[H]) handlers() [len(commandNames)]control.HandlerFunc {
	return [...]control.HandlerFunc{c.add, c.get, c.getAll, c.getPage, c.getByHostname, c.getByID, c.del}
}

// Register adds the commands to s.
func (c *commands[H]) Register(s *control.Server) {
	for i, h := range c.handlers() {
		s.Handle(commandNames[i], h)
	}
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

func (f *family[H]) add(ctx context.Context, req *control.Request) control.Answer {
	raw, err := reservationArg(req)
	if err != nil {
		return control.Errorf("%v", err)
	}
	h, err := f.parse(raw)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if len(f.dbs) == 0 {
		return control.Errorf("Host database not available, cannot add host.")
	}
	if err := f.fits(&h); err != nil {
		return control.Errorf("%v", err)
	}
	// Kea's host manager adds the host to every database.
	for _, db := range f.dbs {
		if db.readOnly() {
			return control.Errorf("Unable to add new host because the host database is in read-only mode.")
		}
		if err := db.add(ctx, h); err != nil {
			if errors.Is(err, host.ErrExists) {
				return control.Errorf("Database duplicate entry error")
			}
			return control.Errorf("%v", err)
		}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "Host added."}
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

func (f *family[H]) get(ctx context.Context, req *control.Request) control.Answer {
	a, err := getArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	for _, src := range f.sources {
		h, err := src.get(ctx, &a)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if h != nil {
			return control.Answer{Result: control.ResultSuccess, Text: "Host found.", Arguments: f.render(h)}
		}
	}
	// Kea 2.2 answers a query that found nothing with success.
	return control.Answer{Result: control.ResultSuccess, Text: "Host not found."}
}

// answer is Kea's answer listing hosts ("%d IPv4 host(s) found.", result
// 3 when there are none), with extra arguments besides "hosts".
func (f *family[H]) answer(hs []H, extra map[string]any) control.Answer {
	list := make([]map[string]any, 0, len(hs))
	for i := range hs {
		list = append(list, f.render(&hs[i]))
	}
	args := map[string]any{"hosts": list}
	for k, v := range extra {
		args[k] = v
	}
	a := control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d %s host(s) found.", len(hs), f.ip), Arguments: args}
	if len(hs) == 0 {
		a.Result = control.ResultEmpty
	}
	return a
}

// collect runs q on every source, in order, and answers with all they
// found.
func (f *family[H]) collect(q func(reader[H]) ([]H, error)) control.Answer {
	var out []H
	for _, src := range f.sources {
		hs, err := q(src)
		if err != nil {
			return control.Errorf("%v", err)
		}
		out = append(out, hs...)
	}
	return f.answer(out, nil)
}

func (f *family[H]) getAll(ctx context.Context, req *control.Request) control.Answer {
	a, err := getAllArgs(req.Arguments)
	if err == nil {
		err = f.subnetOK(a.subnet)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	return f.collect(func(r reader[H]) ([]H, error) { return r.all(ctx, a.subnet) })
}

// getPage pages through the sources: source-index 0 is the configuration,
// 1 the first database; a source with nothing left passes on to the next,
// as Kea's host manager does.
func (f *family[H]) getPage(ctx context.Context, req *control.Request) control.Answer {
	a, err := getPageArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = f.subnetOK(a.subnet)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	idx, from := a.source, a.from
	var hs []H
	for ; idx < len(f.sources); idx, from = idx+1, 0 {
		if hs, err = f.sources[idx].page(ctx, subnet, from, a.limit); err != nil {
			return control.Errorf("%v", err)
		}
		if len(hs) > 0 {
			break
		}
	}
	extra := map[string]any{"count": len(hs)}
	if len(hs) > 0 {
		extra["next"] = map[string]any{"source-index": idx, "from": f.id(&hs[len(hs)-1])}
	}
	return f.answer(hs, extra)
}

func (f *family[H]) getByHostname(ctx context.Context, req *control.Request) control.Answer {
	a, err := byHostnameArgs(req.Arguments)
	if err == nil && a.hasSubnet {
		err = f.subnetOK(a.subnet)
	}
	if err != nil {
		return control.Errorf("%v", err)
	}
	var subnet *uint32
	if a.hasSubnet {
		subnet = &a.subnet
	}
	name := strings.ToLower(a.hostname)
	return f.collect(func(r reader[H]) ([]H, error) { return r.byHostname(ctx, name, subnet) })
}

func (f *family[H]) getByID(ctx context.Context, req *control.Request) control.Answer {
	a, err := byIDArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	return f.collect(func(r reader[H]) ([]H, error) { return r.byID(ctx, a.idType, a.id) })
}

func (f *family[H]) del(ctx context.Context, req *control.Request) control.Answer {
	a, err := getArgs(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if len(f.dbs) == 0 {
		return control.Errorf("Unable to delete a host because there is no hosts-database configured.")
	}
	for _, db := range f.dbs {
		if db.readOnly() {
			continue
		}
		done, err := db.del(ctx, &a)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if done {
			return control.Answer{Result: control.ResultSuccess, Text: "Host deleted."}
		}
	}
	return control.Errorf("Host not deleted (not found).")
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

// classList is a host's client-classes, [] for none.
func classList(c []string) []string {
	if c == nil {
		return []string{}
	}
	return c
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
