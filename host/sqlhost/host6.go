package sqlhost

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
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
 h.dhcp6_client_classes, r.address, r.prefix_len, r.type
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
func (h *DB) query6(ctx context.Context, where string, args ...any) ([]*config.Reservation6, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	out, ids, err := h.hosts6(ctx, where, args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	if err := h.options6(ctx, out, ids); err != nil {
		return nil, err
	}
	return out, nil
}

// options6 reads the options of the hosts ids (out[i] is host ids[i]) and
// sets each reservation's Options.
func (h *DB) options6(ctx context.Context, out []*config.Reservation6, ids []int64) error {
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = id, "?"
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
	for i, id := range ids {
		opts, err := cfg.HostOptions6(byHost[id])
		if err != nil {
			return fmt.Errorf("%s: host %d: %w", h.name, id, err)
		}
		out[i].Options = opts
	}
	return nil
}

// hosts6 runs selectHosts6 with where: the reservations found, and the
// host_id of each.
func (h *DB) hosts6(ctx context.Context, where string, args ...any) ([]*config.Reservation6, []int64, error) {
	rows, err := h.db.QueryContext(ctx, h.d.rebind(selectHosts6+where+" ORDER BY h.host_id, r.reservation_id"), args...)
	if err != nil {
		return nil, nil, h.failed(fmt.Errorf("%s: %w", h.name, err))
	}
	defer rows.Close()
	var (
		out []*config.Reservation6
		ids []int64
	)
	last, skip := int64(-1), false
	for rows.Next() {
		var (
			hostID, idType      int64
			ident               []byte
			subnet, plen, rtype sql.NullInt64
			hostname, classes   sql.NullString
			addr                sql.NullString
		)
		if err := rows.Scan(&hostID, &ident, &idType, &subnet, &hostname, &classes, &addr, &plen, &rtype); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", h.name, err)
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
			out, ids = append(out, r), append(ids, hostID)
		}
		if skip || !addr.Valid {
			continue
		}
		r := out[len(out)-1]
		a, err := netip.ParseAddr(addr.String)
		if err != nil || !a.Is6() {
			return nil, nil, fmt.Errorf("%s: host %d: reserved address %q is not IPv6", h.name, hostID, addr.String)
		}
		switch rtype.Int64 {
		case resTypeNA:
			r.IPAddresses = append(r.IPAddresses, a)
		case resTypePD:
			p, err := a.Prefix(int(plen.Int64))
			if err != nil || p.Addr() != a {
				return nil, nil, fmt.Errorf("%s: host %d: reserved prefix %s/%d is not a prefix", h.name, hostID, a, plen.Int64)
			}
			r.Prefixes = append(r.Prefixes, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", h.name, err)
	}
	return out, ids, nil
}

// Get6 implements host.Source6.
func (h *DB) Get6(ctx context.Context, subnet uint32, t host.IDType, id []byte) (*config.Reservation6, error) {
	rs, err := h.query6(ctx, "WHERE h.dhcp_identifier = ? AND h.dhcp_identifier_type = ? AND h.dhcp6_subnet_id = ?",
		id, int(t), int64(subnet))
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// GetByAddr6 implements host.Source6.
func (h *DB) GetByAddr6(ctx context.Context, subnet uint32, addr netip.Addr) (*config.Reservation6, error) {
	rs, err := h.query6(ctx, "WHERE h.dhcp6_subnet_id = ? AND h.host_id IN (SELECT host_id FROM ipv6_reservations WHERE address = ?)",
		int64(subnet), addr.WithZone("").String())
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}
