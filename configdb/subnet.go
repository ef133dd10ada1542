package configdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Object is one configuration object as Kea's JSON has it.
type Object = map[string]any

// subnetKeys are the subnet4 keys stored besides d.networkColumns().
var subnetKeys = []string{"id", "subnet", "shared-network-name", "pools", "option-data", "metadata"}

// subnet6Keys are subnet6's: pd-pools besides.
var subnet6Keys = append(append([]string(nil), subnetKeys...), "pd-pools")

// is reports whether a has d's family.
func (d *DB) is(a netip.Addr) bool {
	if d.v6 {
		return a.Is6() && !a.Is4In6()
	}
	return a.Is4()
}

// familyName is the address family d holds, for messages.
func (d *DB) familyName() string {
	if d.v6 {
		return "IPv6"
	}
	return "IPv4"
}

// checkKeys refuses keys the schema has no place for: the backend would
// drop them silently otherwise.
func checkKeys(what string, o Object, cols []column, extra []string) error {
	var bad []string
	for k := range o {
		if slices.Contains(extra, k) || slices.ContainsFunc(cols, func(c column) bool { return c.key == k }) || k == "comment" {
			continue
		}
		bad = append(bad, k)
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%s: %s not stored by the configuration backend", what, strings.Join(bad, ", "))
	}
	return nil
}

func columnArgs(cols []column, o Object) ([]string, []any, error) {
	names := make([]string, 0, len(cols))
	args := make([]any, 0, len(cols))
	for _, c := range cols {
		v, err := c.arg(o[c.key])
		if err != nil {
			return nil, nil, err
		}
		names = append(names, c.col)
		args = append(args, v)
	}
	return names, args, nil
}

// placeholders are the VALUES of cols, addresses converted.
func (d *DB) placeholders(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = "?"
		if c.kind == kAddr {
			out[i] = d.addrIn()
		}
	}
	return out
}

// SetSubnet creates or replaces a subnet with its pools and options
// (remote-subnet4-set), associated with the servers tags name.
func (d *DB) SetSubnet(ctx context.Context, tags []string, s Object) (uint32, string, error) {
	keys := subnetKeys
	if d.v6 {
		keys = subnet6Keys
	}
	if err := checkKeys("subnet", s, d.networkColumns(), keys); err != nil {
		return 0, "", err
	}
	idn, ok := s["id"].(json.Number)
	if !ok {
		return 0, "", errors.New("subnet: 'id' is mandatory")
	}
	id, err := strconv.ParseUint(idn.String(), 10, 32)
	if err != nil || id == 0 {
		return 0, "", fmt.Errorf("subnet: id %s is invalid", idn)
	}
	ps, _ := s["subnet"].(string)
	prefix, err := netip.ParsePrefix(ps)
	if err != nil || !d.is(prefix.Addr()) {
		return 0, "", fmt.Errorf("subnet: %q is not an %s prefix", ps, d.familyName())
	}
	prefix = prefix.Masked()
	var network any
	if n, ok := s["shared-network-name"].(string); ok && n != "" {
		network = n
	}
	names, args, err := columnArgs(d.networkColumns(), s)
	if err != nil {
		return 0, "", fmt.Errorf("subnet %d: %w", id, err)
	}
	err = d.tx(ctx, tags[0], "subnet set", true, func(tx *sql.Tx) error {
		if network != nil {
			var n int
			if err := tx.QueryRowContext(ctx, d.q("SELECT COUNT(*) FROM dhcp4_shared_network WHERE name = ?"), network).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("shared network '%s' does not exist", network)
			}
		}
		var old int64
		err := tx.QueryRowContext(ctx, d.q("SELECT subnet_id FROM dhcp4_subnet WHERE subnet_id = ? OR subnet_prefix = ?"), id, prefix.String()).Scan(&old)
		now := time.Now().UTC().Truncate(time.Second)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cols := append([]string{"subnet_id", "subnet_prefix", "shared_network_name", "modification_ts"}, names...)
			vals := append([]string{"?", "?", "?", "?"}, d.placeholders(d.networkColumns())...)
			all := append([]any{id, prefix.String(), network, now}, args...)
			if _, err := tx.ExecContext(ctx, d.q("INSERT INTO dhcp4_subnet ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(vals, ", ")+")"), all...); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			// As Kea: the pools and options go, the row is updated.
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_pool WHERE subnet_id = ?"), old); err != nil {
				return err
			}
			if d.v6 {
				if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp6_pd_pool WHERE subnet_id = ?"), old); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = 1 AND dhcp4_subnet_id = ?"), old); err != nil {
				return err
			}
			sets := []string{"subnet_id = ?", "subnet_prefix = ?", "shared_network_name = ?", "modification_ts = ?"}
			ph := d.placeholders(d.networkColumns())
			for i, n := range names {
				sets = append(sets, n+" = "+ph[i])
			}
			all := append([]any{id, prefix.String(), network, now}, args...)
			all = append(all, old)
			if _, err := tx.ExecContext(ctx, d.q("UPDATE dhcp4_subnet SET "+strings.Join(sets, ", ")+" WHERE subnet_id = ?"), all...); err != nil {
				return err
			}
		}
		if err := d.attach(ctx, tx, "dhcp4_subnet_server", "subnet_id", id, tags); err != nil {
			return err
		}
		pools, _ := s["pools"].([]any)
		for _, p := range pools {
			pm, ok := p.(map[string]any)
			if !ok {
				return errors.New("pools: each entry must be a map")
			}
			if err := d.insertPool(ctx, tx, uint32(id), pm, tags, now); err != nil {
				return err
			}
		}
		pdPools, _ := s["pd-pools"].([]any)
		for _, p := range pdPools {
			pm, ok := p.(map[string]any)
			if !ok {
				return errors.New("pd-pools: each entry must be a map")
			}
			if err := d.insertPDPool(ctx, tx, uint32(id), pm, tags, now); err != nil {
				return err
			}
		}
		opts, _ := s["option-data"].([]any)
		for _, o := range opts {
			om, ok := o.(map[string]any)
			if !ok {
				return errors.New("option-data: each entry must be a map")
			}
			if err := d.insertOption(ctx, tx, om, scopeSubnet, id, nil, nil, nil, tags); err != nil {
				return err
			}
		}
		return nil
	})
	return uint32(id), prefix.String(), err
}

// insertPool writes one pool of a subnet and its options.
func (d *DB) insertPool(ctx context.Context, tx *sql.Tx, subnet uint32, p Object, tags []string, now time.Time) error {
	if err := checkKeys("pool", p, nil, []string{"pool", "client-class", "require-client-classes", "user-context", "option-data"}); err != nil {
		return err
	}
	spec, _ := p["pool"].(string)
	first, last, err := poolRange(spec, d.v6)
	if err != nil {
		return err
	}
	class, require, uctx := poolClassArgs(p)
	q := `INSERT INTO dhcp4_pool (start_address, end_address, subnet_id, client_class, require_client_classes, user_context, modification_ts)
 VALUES (` + d.addrIn() + `, ` + d.addrIn() + `, ?, ?, ?, ?, ?)`
	id, err := d.insertID(ctx, tx, q, "id", []any{first.String(), last.String(), subnet, class, require, uctx, now})
	if err != nil {
		return fmt.Errorf("pool %s: %w", spec, err)
	}
	opts, _ := p["option-data"].([]any)
	for _, o := range opts {
		om, ok := o.(map[string]any)
		if !ok {
			return errors.New("pool option-data: each entry must be a map")
		}
		if err := d.insertOption(ctx, tx, om, scopePool, nil, id, nil, nil, tags); err != nil {
			return err
		}
	}
	return nil
}

// poolClassArgs are the client-class, require-client-classes and
// user-context columns of a pool or prefix delegation pool.
func poolClassArgs(p Object) (class, require, uctx any) {
	if s, ok := p["client-class"].(string); ok && s != "" {
		class = s
	}
	if l, ok := p["require-client-classes"].([]any); ok {
		b, _ := json.Marshal(l)
		require = string(b)
	}
	if m, ok := p["user-context"].(map[string]any); ok {
		b, _ := json.Marshal(m)
		uctx = string(b)
	}
	return class, require, uctx
}

// poolRange parses "a - b" or a prefix, of IPv6 addresses when v6.
func poolRange(spec string, v6 bool) (netip.Addr, netip.Addr, error) {
	fam, ok := func(a netip.Addr) bool { return a.Is4() }, "IPv4"
	if v6 {
		fam, ok = func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }, "IPv6"
	}
	if a, b, cut := strings.Cut(spec, "-"); cut {
		first, err1 := netip.ParseAddr(strings.TrimSpace(a))
		last, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !fam(first) || !fam(last) || last.Less(first) {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("pool %q: not an %s range", spec, ok)
		}
		return first, last, nil
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(spec))
	if err != nil || !fam(p.Addr()) {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("pool %q: not an %s range or prefix", spec, ok)
	}
	p = p.Masked()
	first := p.Addr()
	b := first.AsSlice()
	// Set the host bits.
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return first, last, nil
}

// DelSubnet deletes a subnet by id or prefix (remote-subnet4-del-by-*);
// the schema's triggers delete its pools and options.
func (d *DB) DelSubnet(ctx context.Context, id uint32, prefix string) (int64, error) {
	var n int64
	err := d.tx(ctx, TagAll, "subnet deleted", true, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if prefix != "" {
			res, err = tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_subnet WHERE subnet_prefix = ?"), prefix)
		} else {
			res, err = tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_subnet WHERE subnet_id = ?"), id)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// subnetSelect reads subnets; where filters s.
func (d *DB) subnetSelect(ctx context.Context, q queryer, where string, args ...any) ([]Object, error) {
	sel := []string{"s.subnet_id", "s.subnet_prefix", "s.shared_network_name"}
	for _, c := range d.networkColumns() {
		sel = append(sel, c.sel(d, "s."))
	}
	rows, err := q.QueryContext(ctx, d.q("SELECT "+strings.Join(sel, ", ")+" FROM dhcp4_subnet s WHERE "+where+" ORDER BY s.subnet_id"), args...)
	if err != nil {
		return nil, err
	}
	var out []Object
	func() {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var prefix string
			var network sql.NullString
			holders := []any{&id, &prefix, &network}
			for _, c := range d.networkColumns() {
				holders = append(holders, c.holder())
			}
			if err = rows.Scan(holders...); err != nil {
				return
			}
			o := Object{"id": json.Number(strconv.FormatInt(id, 10)), "subnet": prefix}
			if network.Valid && network.String != "" {
				o["shared-network-name"] = network.String
			}
			for i, c := range d.networkColumns() {
				v, verr := c.value(holders[3+i])
				if verr != nil {
					err = fmt.Errorf("subnet %d: %w", id, verr)
					return
				}
				if v != nil {
					o[c.key] = v
				}
			}
			out = append(out, o)
		}
		err = rows.Err()
	}()
	if err != nil {
		return nil, err
	}
	for _, o := range out {
		id := o["id"].(json.Number).String()
		if err := d.subnetParts(ctx, q, o, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// subnetParts adds a subnet's pools, options and server tags.
func (d *DB) subnetParts(ctx context.Context, q queryer, o Object, id string) error {
	rows, err := q.QueryContext(ctx, d.q("SELECT id, "+d.addrOut("start_address")+", "+d.addrOut("end_address")+
		", client_class, require_client_classes, user_context FROM dhcp4_pool WHERE subnet_id = ? ORDER BY id"), id)
	if err != nil {
		return err
	}
	type pool struct {
		id  int64
		obj Object
	}
	var pools []pool
	for rows.Next() {
		var pid int64
		var first, last string
		var class, require, uctx sql.NullString
		if err := rows.Scan(&pid, &first, &last, &class, &require, &uctx); err != nil {
			rows.Close()
			return err
		}
		p := Object{"pool": first + " - " + last}
		if class.Valid && class.String != "" {
			p["client-class"] = class.String
		}
		if require.Valid && require.String != "" {
			var l []any
			if err := decode([]byte(require.String), &l); err != nil {
				rows.Close()
				return fmt.Errorf("pool %d require_client_classes: %w", pid, err)
			}
			if len(l) > 0 {
				p["require-client-classes"] = l
			}
		}
		if uctx.Valid && uctx.String != "" {
			var m map[string]any
			if err := decode([]byte(uctx.String), &m); err != nil {
				rows.Close()
				return fmt.Errorf("pool %d user_context: %w", pid, err)
			}
			p["user-context"] = m
		}
		pools = append(pools, pool{pid, p})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	list := []any{}
	for _, p := range pools {
		opts, err := d.readOptions(ctx, q, "o.scope_id = 5 AND o.pool_id = ?", p.id)
		if err != nil {
			return err
		}
		if len(opts) > 0 {
			if p.obj["option-data"], err = d.optionList(opts); err != nil {
				return err
			}
		}
		list = append(list, p.obj)
	}
	o["pools"] = list
	if d.v6 {
		pd, err := d.pdPools(ctx, q, id)
		if err != nil {
			return err
		}
		if len(pd) > 0 {
			o["pd-pools"] = pd
		}
	}
	opts, err := d.readOptions(ctx, q, "o.scope_id = 1 AND o.dhcp4_subnet_id = ?", id)
	if err != nil {
		return err
	}
	if o["option-data"], err = d.optionList(opts); err != nil {
		return err
	}
	tags, err := d.tagsOf(ctx, q, "dhcp4_subnet_server", "subnet_id", id)
	if err != nil {
		return err
	}
	o["metadata"] = map[string]any{"server-tags": tags}
	return nil
}

// GetSubnet returns the subnet with id (or prefix), nil when none.
func (d *DB) GetSubnet(ctx context.Context, id uint32, prefix string) (Object, error) {
	var l []Object
	var err error
	if prefix != "" {
		l, err = d.subnetSelect(ctx, d.db, "s.subnet_prefix = ?", prefix)
	} else {
		l, err = d.subnetSelect(ctx, d.db, "s.subnet_id = ?", id)
	}
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return l[0], nil
}

// serverFilter selects objects associated with any of tags, through the
// association table t and its column col matching outer.
func serverFilter(t, col, outer string, tags []string) (string, []any) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(tags)), ", ")
	args := make([]any, len(tags))
	for i, t := range tags {
		args[i] = t
	}
	return "EXISTS (SELECT 1 FROM " + t + " a JOIN dhcp4_server v ON v.id = a.server_id WHERE a." + col + " = " + outer +
		" AND v.tag IN (" + marks + "))", args
}

// Subnets returns the subnets associated with any of tags.
func (d *DB) Subnets(ctx context.Context, tags []string) ([]Object, error) {
	where, args := serverFilter("dhcp4_subnet_server", "subnet_id", "s.subnet_id", tags)
	return d.subnetSelect(ctx, d.db, where, args...)
}

// insertPDPool writes one prefix delegation pool of a DHCPv6 subnet.
func (d *DB) insertPDPool(ctx context.Context, tx *sql.Tx, subnet uint32, p Object, tags []string, now time.Time) error {
	if err := checkKeys("pd-pool", p, nil, []string{"prefix", "prefix-len", "delegated-len", "excluded-prefix",
		"excluded-prefix-len", "client-class", "require-client-classes", "user-context", "option-data"}); err != nil {
		return err
	}
	ps, _ := p["prefix"].(string)
	addr, err := netip.ParseAddr(ps)
	if err != nil || !d.is(addr) {
		return fmt.Errorf("pd-pool: prefix %q is not an IPv6 address", ps)
	}
	num := func(k string, must bool) (any, int64, error) {
		n, ok := p[k].(json.Number)
		if !ok {
			if must || p[k] != nil {
				return nil, 0, fmt.Errorf("pd-pool %s: '%s' must be a number 1-128", ps, k)
			}
			return nil, 0, nil
		}
		v, err := n.Int64()
		if err != nil || v < 1 || v > 128 {
			return nil, 0, fmt.Errorf("pd-pool %s: '%s' must be a number 1-128", ps, k)
		}
		return v, v, nil
	}
	plen, pl, err := num("prefix-len", true)
	if err != nil {
		return err
	}
	dlen, dl, err := num("delegated-len", true)
	if err != nil {
		return err
	}
	if dl < pl {
		return fmt.Errorf("pd-pool %s/%d: delegated-len %d is shorter than the prefix", ps, pl, dl)
	}
	if netip.PrefixFrom(addr, int(pl)).Masked().Addr() != addr {
		return fmt.Errorf("pd-pool %s/%d: host bits set", ps, pl)
	}
	elen, _, err := num("excluded-prefix-len", false)
	if err != nil {
		return err
	}
	var excl any
	if s, ok := p["excluded-prefix"].(string); ok && s != "" {
		if a, err := netip.ParseAddr(s); err != nil || !d.is(a) {
			return fmt.Errorf("pd-pool %s: excluded-prefix %q is not an IPv6 address", ps, s)
		}
		excl = s
	}
	if elen == nil {
		elen = 0
	}
	class, require, uctx := poolClassArgs(p)
	id, err := d.insertID(ctx, tx, `INSERT INTO dhcp6_pd_pool (prefix, prefix_length, delegated_prefix_length, subnet_id,
 excluded_prefix, excluded_prefix_length, client_class, require_client_classes, user_context, modification_ts)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "id", []any{addr.String(), plen, dlen, subnet, excl, elen, class, require, uctx, now})
	if err != nil {
		return fmt.Errorf("pd-pool %s/%d: %w", ps, pl, err)
	}
	opts, _ := p["option-data"].([]any)
	for _, o := range opts {
		om, ok := o.(map[string]any)
		if !ok {
			return errors.New("pd-pool option-data: each entry must be a map")
		}
		if err := d.insertOption(ctx, tx, om, scopePDPool, nil, id, nil, nil, tags); err != nil {
			return err
		}
	}
	return nil
}

// pdPools reads the prefix delegation pools of a DHCPv6 subnet.
func (d *DB) pdPools(ctx context.Context, q queryer, subnet string) ([]any, error) {
	rows, err := q.QueryContext(ctx, d.q(`SELECT id, prefix, prefix_length, delegated_prefix_length, excluded_prefix,
 excluded_prefix_length, client_class, require_client_classes, user_context FROM dhcp6_pd_pool WHERE subnet_id = ? ORDER BY id`), subnet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pdPool
	for rows.Next() {
		var id, plen, dlen int64
		var prefix string
		var excl, class, require, uctx sql.NullString
		var elen sql.NullInt64
		if err := rows.Scan(&id, &prefix, &plen, &dlen, &excl, &elen, &class, &require, &uctx); err != nil {
			return nil, err
		}
		p := Object{"prefix": prefix, "prefix-len": json.Number(strconv.FormatInt(plen, 10)),
			"delegated-len": json.Number(strconv.FormatInt(dlen, 10))}
		if excl.Valid && excl.String != "" && elen.Int64 > 0 {
			p["excluded-prefix"] = excl.String
			p["excluded-prefix-len"] = json.Number(strconv.FormatInt(elen.Int64, 10))
		}
		if class.Valid && class.String != "" {
			p["client-class"] = class.String
		}
		if require.Valid && require.String != "" {
			var l []any
			if err := decode([]byte(require.String), &l); err != nil {
				return nil, fmt.Errorf("pd-pool %d require_client_classes: %w", id, err)
			}
			if len(l) > 0 {
				p["require-client-classes"] = l
			}
		}
		if uctx.Valid && uctx.String != "" {
			var m map[string]any
			if err := decode([]byte(uctx.String), &m); err != nil {
				return nil, fmt.Errorf("pd-pool %d user_context: %w", id, err)
			}
			p["user-context"] = m
		}
		out = append(out, pdPool{id, p})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	list := make([]any, 0, len(out))
	for _, p := range out {
		opts, err := d.readOptions(ctx, q, "o.scope_id = 6 AND o.pd_pool_id = ?", p.id)
		if err != nil {
			return nil, err
		}
		if len(opts) > 0 {
			if p.obj["option-data"], err = d.optionList(opts); err != nil {
				return nil, err
			}
		}
		list = append(list, p.obj)
	}
	return list, nil
}

// pdPool is a prefix delegation pool read, with its row id.
type pdPool struct {
	id  int64
	obj Object
}
