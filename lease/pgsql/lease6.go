package pgsql

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// Kea 2.2's lease6 row on PostgreSQL: the address as text, the IAID in a
// signed integer column (its bits as Kea writes them), an empty hwaddr
// with hwtype and hwaddr_source 0 when the hardware address is unknown,
// an empty user_context when there is none.

// Columns6 lists lease6's columns as sqllease.Row6 reads them.
func (d *Dialect) Columns6() string {
	return `address, coalesce(duid, ''::bytea), coalesce(valid_lifetime, 0), extract(epoch from expire)::bigint,
	coalesce(subnet_id, 0), coalesce(pref_lifetime, 0), coalesce(lease_type, 0)::bigint, coalesce(iaid, 0)::bigint,
	coalesce(prefix_len, 128)::bigint, coalesce(fqdn_fwd, false), coalesce(fqdn_rev, false), coalesce(hostname, ''),
	coalesce(hwaddr, ''::bytea), coalesce(hwtype, 0)::bigint, coalesce(hwaddr_source, 0)::bigint,
	coalesce(state, 0)::bigint, coalesce(user_context, '')`
}

// IAID is the iaid column's value: Kea stores the IAID's bits as a
// signed 32-bit number.
func (d *Dialect) IAID(iaid uint32) any { return int32(iaid) }

// put6SQL writes a lease6 row unless the row holds another IA's live
// lease the store did not know (see sqllease.Write6). $18 is now,
// $19-$21 what the store knew: whether it knew a lease, its expiry and
// DUID.
const put6SQL = `INSERT INTO lease6 (address, duid, valid_lifetime, expire, subnet_id, pref_lifetime, lease_type, iaid,
	prefix_len, fqdn_fwd, fqdn_rev, hostname, hwaddr, hwtype, hwaddr_source, state, user_context)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (address) DO UPDATE SET duid = EXCLUDED.duid, valid_lifetime = EXCLUDED.valid_lifetime,
	expire = EXCLUDED.expire, subnet_id = EXCLUDED.subnet_id, pref_lifetime = EXCLUDED.pref_lifetime,
	lease_type = EXCLUDED.lease_type, iaid = EXCLUDED.iaid, prefix_len = EXCLUDED.prefix_len,
	fqdn_fwd = EXCLUDED.fqdn_fwd, fqdn_rev = EXCLUDED.fqdn_rev, hostname = EXCLUDED.hostname,
	hwaddr = EXCLUDED.hwaddr, hwtype = EXCLUDED.hwtype, hwaddr_source = EXCLUDED.hwaddr_source,
	state = EXCLUDED.state, user_context = EXCLUDED.user_context
WHERE lease6.state = 2 OR (lease6.expire <= $18 AND lease6.valid_lifetime <> 4294967295)
	OR (EXCLUDED.state <> 2 AND lease6.duid = EXCLUDED.duid AND lease6.iaid = EXCLUDED.iaid
		AND lease6.lease_type = EXCLUDED.lease_type)
	OR ($19 AND lease6.expire = $20 AND coalesce(lease6.duid, ''::bytea) = $21)`

const delete6SQL = `DELETE FROM lease6 WHERE address = $1 AND (NOT $2 OR lease6.state = 2
	OR (lease6.expire <= $3 AND lease6.valid_lifetime <> 4294967295)
	OR (lease6.expire = $4 AND coalesce(lease6.duid, ''::bytea) = $5))`

// Write6 applies ws in one transaction, pipelined as Write is.
func (d *Dialect) Write6(ctx context.Context, ws []sqllease.Write6, now time.Time) ([]int, error) {
	return d.pipeline(ctx, len(ws), func(b *pgx.Batch, i int) bool {
		w := ws[i]
		l := &w.Op.Lease
		known, kexp, kduid := false, time.Unix(0, 0).UTC(), []byte{}
		if w.Known != nil {
			known, kexp, kduid = true, sqllease.Expire6Of(w.Known), nonNil(w.Known.DUID)
		}
		addr := sqllease.AddrText(l.Addr)
		if w.Op.Kind == lease.OpDelete {
			b.Queue(delete6SQL, addr, known, now.UTC(), kexp, kduid)
			return false
		}
		hwtype, hwsrc := int64(0), int64(0)
		if len(l.HWAddr) > 0 {
			hwtype, hwsrc = int64(l.HWType), int64(l.HWAddrSource)
		}
		b.Queue(put6SQL, addr, nonNil(l.DUID), int64(l.ValidLft), sqllease.Expire6Of(l), int64(l.SubnetID),
			int64(l.PreferredLft), int64(l.Type), int32(l.IAID), int64(l.PrefixLen), l.FqdnFwd, l.FqdnRev, l.Hostname,
			nonNil(l.HWAddr), hwtype, hwsrc, int64(l.State), l.UserContext,
			now.UTC(), known, kexp, kduid)
		return true
	})
}
