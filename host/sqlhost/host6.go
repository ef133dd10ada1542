package sqlhost

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"

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
// Options of dhcp6_options are not read: a database reservation gives
// addresses, prefixes, a hostname and classes.
const selectHosts6 = `SELECT h.host_id, h.dhcp_identifier, h.dhcp_identifier_type, h.dhcp6_subnet_id, h.hostname,
 h.dhcp6_client_classes, r.address, r.prefix_len, r.type
 FROM hosts h LEFT JOIN ipv6_reservations r ON r.host_id = h.host_id `

// query6 runs selectHosts6 with where, rows ordered by host_id then
// reservation_id.
func (h *DB) query6(ctx context.Context, where string, args ...any) ([]*config.Reservation6, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	rows, err := h.db.QueryContext(ctx, h.d.rebind(selectHosts6+where+" ORDER BY h.host_id, r.reservation_id"), args...)
	if err != nil {
		return nil, h.failed(fmt.Errorf("%s: %w", h.name, err))
	}
	defer rows.Close()
	var out []*config.Reservation6
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
			out = append(out, r)
		}
		if skip || !addr.Valid {
			continue
		}
		r := out[len(out)-1]
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
