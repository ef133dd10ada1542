package sqlhost

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"xdhcp/config"
	"xdhcp/host"
)

var _ host.Source6 = (*DB)(nil)

// Kea's ipv6_reservations.type: 0 an address (IA_NA), 2 a prefix (IA_PD).
const (
	resTypeNA = 0
	resTypePD = 2
)

// selectHosts6 reads a host's DHCPv6 side: the host, then its reserved
// addresses and prefixes (a host without any comes back once with NULLs).
// Its options (dhcp6_options) are read by selectOptions6 for the hosts
// found.
const selectHosts6 = `SELECT h.host_id, h.dhcp_identifier, h.dhcp_identifier_type, h.dhcp6_subnet_id, h.hostname,
 h.dhcp6_client_classes, h.user_context, r.address, r.prefix_len, r.type
 FROM hosts h LEFT JOIN ipv6_reservations r ON r.host_id = h.host_id `

// selectOptions6 reads the DHCPv6 options of hosts, in the order they
// were written.
const selectOptions6 = `SELECT o.host_id, o.code, o.value, o.formatted_value, o.space, CASE WHEN o.persistent THEN 1 ELSE 0 END
 FROM dhcp6_options o WHERE o.scope_id = 3 AND o.host_id IN `

// SetConfig6 gives the DHCPv6 option definitions (option-def of the Dhcp6
// section) the options of DHCPv6 reservations are decoded with; until it
// is called only the standard definitions are known.
func (h *DB) SetConfig6(cfg *config.Config6) { h.cfg6.Store(cfg) }

// query6 runs selectHosts6 with where, rows ordered by host_id then
// reservation_id, and reads the options of the hosts found.
func (h *DB) query6(ctx context.Context, where string, args ...any) ([]host.Host6, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	out, err := h.hosts6(ctx, where+" ORDER BY h.host_id, r.reservation_id", args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	if err := h.options6(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// options6 reads the options of the hosts out and sets each
// reservation's Options.
func (h *DB) options6(ctx context.Context, out []host.Host6) error {
	args := make([]any, len(out))
	marks := make([]string, len(out))
	for i := range out {
		args[i], marks[i] = int64(out[i].ID), "?"
	}
	rows, err := h.db.QueryContext(ctx, h.d.rebind(selectOptions6+"("+strings.Join(marks, ", ")+") ORDER BY o.host_id, o.option_id"), args...)
	if err != nil {
		return h.failed(fmt.Errorf("%s: %w", h.name, err))
	}
	defer rows.Close()
	byHost := map[int64][]config.HostOption6Row{}
	for rows.Next() {
		var (
			hostID, code, persistent int64
			value                    []byte
			formatted, space         sql.NullString
		)
		if err := rows.Scan(&hostID, &code, &value, &formatted, &space, &persistent); err != nil {
			return fmt.Errorf("%s: %w", h.name, err)
		}
		if code < 0 || code > 0xffff {
			return fmt.Errorf("%s: host %d: option code %d is not a DHCPv6 option code", h.name, hostID, code)
		}
		byHost[hostID] = append(byHost[hostID], config.HostOption6Row{Code: uint16(code), Space: space.String,
			Formatted: formatted.String, Value: value, Persistent: persistent != 0})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	cfg := h.cfg6.Load()
	if cfg == nil {
		cfg = &config.Config6{}
	}
	for i := range out {
		opts, err := cfg.HostOptions6(byHost[int64(out[i].ID)])
		if err != nil {
			return fmt.Errorf("%s: host %d: %w", h.name, out[i].ID, err)
		}
		out[i].Res.Options = opts
	}
	return nil
}

// hosts6 runs selectHosts6 with where (ending in its ORDER BY): the hosts
// found.
func (h *DB) hosts6(ctx context.Context, where string, args ...any) ([]host.Host6, error) {
	rows, err := h.db.QueryContext(ctx, h.d.rebind(selectHosts6+where), args...)
	if err != nil {
		return nil, h.failed(fmt.Errorf("%s: %w", h.name, err))
	}
	defer rows.Close()
	var out []host.Host6
	last, skip := int64(-1), false
	for rows.Next() {
		var (
			hostID, idType      int64
			ident               []byte
			subnet, plen, rtype sql.NullInt64
			hostname, classes   sql.NullString
			uctx                sql.NullString
			addr                sql.NullString
		)
		if err := rows.Scan(&hostID, &ident, &idType, &subnet, &hostname, &classes, &uctx, &addr, &plen, &rtype); err != nil {
			return nil, fmt.Errorf("%s: %w", h.name, err)
		}
		if hostID != last {
			last, skip = hostID, false
			r := &config.Reservation6{SubnetID: uint32(subnet.Int64), Hostname: hostname.String,
				ClientClasses: splitClasses(classes.String)}
			switch host.IDType(idType) {
			case host.DUID:
				r.DUID = ident
			case host.HWAddr:
				r.HWAddr = ident
			case host.FlexID:
				r.FlexID = ident
			default:
				skip = true // circuit-id and client-id are DHCPv4's
				continue
			}
			hh := host.Host6{ID: uint64(hostID), Res: r}
			if uctx.Valid && uctx.String != "" && json.Valid([]byte(uctx.String)) {
				hh.UserContext = json.RawMessage(uctx.String)
			}
			out = append(out, hh)
		}
		if skip || !addr.Valid {
			continue
		}
		r := out[len(out)-1].Res
		a, err := netip.ParseAddr(addr.String)
		if err != nil || !a.Is6() {
			return nil, fmt.Errorf("%s: host %d: reserved address %q is not IPv6", h.name, hostID, addr.String)
		}
		switch rtype.Int64 {
		case resTypeNA:
			r.IPAddresses = append(r.IPAddresses, a)
		case resTypePD:
			p, err := a.Prefix(int(plen.Int64))
			if err != nil || p.Addr() != a {
				return nil, fmt.Errorf("%s: host %d: reserved prefix %s/%d is not a prefix", h.name, hostID, a, plen.Int64)
			}
			r.Prefixes = append(r.Prefixes, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", h.name, err)
	}
	return out, nil
}

// Get6 implements host.Source6.
func (h *DB) Get6(ctx context.Context, subnet uint32, t host.IDType, id []byte) (*config.Reservation6, error) {
	return first6(h.query6(ctx, "WHERE h.dhcp_identifier = ? AND h.dhcp_identifier_type = ? AND h.dhcp6_subnet_id = ?",
		id, int(t), int64(subnet)))
}

// GetByAddr6 implements host.Source6.
func (h *DB) GetByAddr6(ctx context.Context, subnet uint32, addr netip.Addr) (*config.Reservation6, error) {
	return first6(h.query6(ctx, "WHERE h.dhcp6_subnet_id = ? AND h.host_id IN (SELECT host_id FROM ipv6_reservations WHERE address = ?)",
		int64(subnet), addr.WithZone("").String()))
}

// first6 is the first reservation of hs, nil when there is none.
func first6(hs []host.Host6, err error) (*config.Reservation6, error) {
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	return hs[0].Res, nil
}

var _ host.Store6 = (*DB)(nil)

// All6 implements host.Reader6.
func (h *DB) All6(ctx context.Context, subnet uint32) ([]host.Host6, error) {
	return h.query6(ctx, "WHERE h.dhcp6_subnet_id = ?", int64(subnet))
}

// Page6 implements host.Reader6: the page's host ids are chosen first,
// so that a host's addresses and options never straddle two pages. Only
// hosts with a DHCPv6 subnet are DHCPv6 reservations.
func (h *DB) Page6(ctx context.Context, subnet *uint32, from uint64, limit int) ([]host.Host6, error) {
	join, args := pageJoin("SELECT host_id FROM hosts WHERE host_id > ? AND dhcp6_subnet_id IS NOT NULL", "dhcp6_subnet_id", subnet, from, limit)
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	out, err := h.hosts6(ctx, join+" ORDER BY h.host_id, r.reservation_id", args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	return out, h.options6(ctx, out)
}

// ByHostname6 implements host.Reader6.
func (h *DB) ByHostname6(ctx context.Context, hostname string, subnet *uint32) ([]host.Host6, error) {
	where := "WHERE lower(h.hostname) = ? AND h.dhcp6_subnet_id IS NOT NULL"
	args := []any{strings.ToLower(hostname)}
	if subnet != nil {
		where += " AND h.dhcp6_subnet_id = ?"
		args = append(args, int64(*subnet))
	}
	return h.query6(ctx, where, args...)
}

// ByID6 implements host.Reader6.
func (h *DB) ByID6(ctx context.Context, t host.IDType, id []byte) ([]host.Host6, error) {
	return h.query6(ctx, "WHERE h.dhcp_identifier = ? AND h.dhcp_identifier_type = ? AND h.dhcp6_subnet_id IS NOT NULL", id, int(t))
}

// insertHost6SQL writes a DHCPv6 host: the columns of the DHCPv4 side
// stay NULL.
const insertHost6SQL = `INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id, hostname,
 dhcp6_client_classes, user_context) VALUES (?, ?, ?, ?, ?, ?)`

// Add6 implements host.Store6: the host, its addresses and prefixes and
// its options in one transaction, as Kea writes them (options by their
// binary value). With unique IP reservations (Kea's default) an address
// or prefix reserved in the subnet already is refused, as Kea refuses it.
func (h *DB) Add6(ctx context.Context, hh host.Host6) error {
	if h.readOnly {
		return fmt.Errorf("%s is read-only", h.name)
	}
	r := hh.Res
	if cfg := h.cfg6.Load(); cfg == nil || cfg.IPReservationsUnique {
		for _, a := range reserved6(r) {
			same, err := h.GetByAddr6(ctx, r.SubnetID, a.Addr())
			if err != nil {
				return err
			}
			if same != nil {
				return host.ErrExists
			}
		}
	}
	t, id := host.Identifier6(r)
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	defer tx.Rollback()
	hostID, err := h.d.insertID(ctx, tx, h.d.rebind(insertHost6SQL), []any{id, int(t), int64(r.SubnetID), nullString(r.Hostname),
		nullString(strings.Join(r.ClientClasses, ",")), nullString(string(hh.UserContext))})
	if err != nil {
		if h.d.duplicate(err) {
			return host.ErrExists
		}
		return fmt.Errorf("%s: %w", h.name, err)
	}
	for _, p := range reserved6(r) {
		typ := resTypePD
		if p.IsSingleIP() && slices.Contains(r.IPAddresses, p.Addr()) {
			typ = resTypeNA
		}
		_, err := tx.ExecContext(ctx, h.d.rebind(`INSERT INTO ipv6_reservations (address, prefix_len, type, dhcp6_iaid, host_id)
 VALUES (?, ?, ?, NULL, ?)`), p.Addr().String(), p.Bits(), typ, hostID)
		if err != nil {
			if h.d.duplicate(err) {
				return host.ErrExists
			}
			return fmt.Errorf("%s: reservation %s: %w", h.name, p, err)
		}
	}
	opts := make([]optionRow, len(r.Options))
	for i, o := range r.Options {
		opts[i] = optionRow{code: int(o.Code), data: o.Data, space: o.OptionSpace(), always: o.AlwaysSend}
	}
	return h.commitHost(ctx, tx, "dhcp6", hostID, opts)
}

// reserved6 are r's addresses (as /128) and prefixes, in that order.
func reserved6(r *config.Reservation6) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(r.IPAddresses)+len(r.Prefixes))
	for _, a := range r.IPAddresses {
		out = append(out, netip.PrefixFrom(a, 128))
	}
	return append(out, r.Prefixes...)
}

// Del6 implements host.Store6 (the addresses and options go with the
// host: ON DELETE CASCADE).
func (h *DB) Del6(ctx context.Context, subnet uint32, t host.IDType, id []byte) (bool, error) {
	return h.del(ctx, "DELETE FROM hosts WHERE dhcp_identifier = ? AND dhcp_identifier_type = ? AND dhcp6_subnet_id = ?", id, int(t), int64(subnet))
}

// DelByAddr6 implements host.Store6.
func (h *DB) DelByAddr6(ctx context.Context, subnet uint32, addr netip.Addr) (bool, error) {
	return h.del(ctx, "DELETE FROM hosts WHERE dhcp6_subnet_id = ? AND host_id IN (SELECT host_id FROM ipv6_reservations WHERE address = ?)",
		int64(subnet), addr.WithZone("").String())
}
