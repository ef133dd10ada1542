package mysql

import (
	"context"
	"database/sql"
	"time"

	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// Kea 2.2's lease6 row on MySQL: the address as text, the IAID unsigned,
// hwaddr, hwtype and hwaddr_source NULL when the hardware address is
// unknown, user_context NULL when there is none.

// Columns6 lists lease6's columns as sqllease.Row6 reads them.
func (d *Dialect) Columns6() string {
	return `address, coalesce(duid, ''), coalesce(valid_lifetime, 0), cast(unix_timestamp(expire) AS SIGNED),
	coalesce(subnet_id, 0), coalesce(pref_lifetime, 0), coalesce(lease_type, 0), coalesce(iaid, 0),
	coalesce(prefix_len, 128), coalesce(fqdn_fwd, 0), coalesce(fqdn_rev, 0), coalesce(hostname, ''),
	coalesce(hwaddr, ''), coalesce(hwtype, 0), coalesce(hwaddr_source, 0), coalesce(state, 0), coalesce(user_context, '')`
}

// IAID is the iaid column's value (unsigned on MySQL).
func (d *Dialect) IAID(iaid uint32) any { return int64(iaid) }

// Write6 applies ws in one transaction, as Write does.
func (d *Dialect) Write6(ctx context.Context, ws []sqllease.Write6, now time.Time) ([]int, error) {
	return d.write(ctx, len(ws), lease6{ws}, now)
}

// lease6 is Kea's lease6 table.
type lease6 struct{ ws []sqllease.Write6 }

func (t lease6) name() string         { return "lease6" }
func (t lease6) key(i int) any        { return sqllease.AddrText(t.ws[i].Op.Lease.Addr) }
func (t lease6) del(i int) bool       { return t.ws[i].Op.Kind == lease.OpDelete }
func (t lease6) updateClause() string { return update6Clause }

func (t lease6) known(i int, h held) (bool, bool) {
	k := t.ws[i].Known
	return k != nil, k != nil && sqllease.Expire6Of(k).Unix() == h.expire && string(k.DUID) == string(h.cid)
}

// sameClient: the row is the same IA's (DUID, IAID, type).
func (t lease6) sameClient(i int, h held) bool {
	l := &t.ws[i].Op.Lease
	return l.State != lease.StateExpiredReclaimed &&
		string(h.cid) == string(l.DUID) && h.iaid == l.IAID && h.typ == int64(l.Type)
}

func (t lease6) lockSQL(n int) string {
	return `SELECT address, coalesce(duid, ''), coalesce(iaid, 0), coalesce(lease_type, 0), valid_lifetime,
		unix_timestamp(expire), coalesce(state, 0) FROM lease6 WHERE address IN (` + marks(n) + `) FOR UPDATE`
}

func (t lease6) scan(rows *sql.Rows) (any, held, error) {
	var a string
	var h held
	var expire float64
	err := rows.Scan(&a, &h.cid, &h.iaid, &h.typ, &h.valid, &expire, &h.state)
	h.expire = int64(expire)
	return a, h, err
}

const lease6Cols = `address, duid, valid_lifetime, expire, subnet_id, pref_lifetime, lease_type, iaid, prefix_len,
	fqdn_fwd, fqdn_rev, hostname, hwaddr, hwtype, hwaddr_source, state, user_context`

const update6Clause = ` ON DUPLICATE KEY UPDATE duid = VALUES(duid), valid_lifetime = VALUES(valid_lifetime),
	expire = VALUES(expire), subnet_id = VALUES(subnet_id), pref_lifetime = VALUES(pref_lifetime),
	lease_type = VALUES(lease_type), iaid = VALUES(iaid), prefix_len = VALUES(prefix_len), fqdn_fwd = VALUES(fqdn_fwd),
	fqdn_rev = VALUES(fqdn_rev), hostname = VALUES(hostname), hwaddr = VALUES(hwaddr), hwtype = VALUES(hwtype),
	hwaddr_source = VALUES(hwaddr_source), state = VALUES(state), user_context = VALUES(user_context)`

func (t lease6) insertSQL(n int, tail string) string {
	return insertSQL("lease6", lease6Cols, "(?, ?, ?, FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", n, tail)
}

func (t lease6) args(idx []int) []any {
	args := make([]any, 0, 17*len(idx))
	for _, i := range idx {
		l := &t.ws[i].Op.Lease
		var hw, hwtype, hwsrc any
		if len(l.HWAddr) > 0 {
			hw, hwtype, hwsrc = l.HWAddr, int64(l.HWType), int64(l.HWAddrSource)
		}
		args = append(args, sqllease.AddrText(l.Addr), nonNil(l.DUID), int64(l.ValidLft), sqllease.Expire6Of(l).Unix(),
			int64(l.SubnetID), int64(l.PreferredLft), int64(l.Type), int64(l.IAID), int64(l.PrefixLen), l.FqdnFwd,
			l.FqdnRev, l.Hostname, hw, hwtype, hwsrc, int64(l.State), nullString(l.UserContext))
	}
	return args
}
