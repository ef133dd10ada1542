package sqllease

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"xdhcp/lease"
)

// Rows is a result set as both drivers give it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Queryer is the read side of a dialect: its driver's query, its
// placeholder style and the select list of a lease4 row.
type Queryer interface {
	// Query runs q; done releases the rows.
	Query(ctx context.Context, q string, args ...any) (rows Rows, done func(), err error)
	// Placeholder is the n-th (1-based) parameter marker.
	Placeholder(n int) string
	// Columns lists lease4's columns in Row's order, NULLs replaced by
	// empty values and expire as unix seconds.
	Columns() string
}

func scanRow(rows Rows, r *Row) error {
	return rows.Scan(&r.Address, &r.HW, &r.CID, &r.Valid, &r.Expire, &r.Subnet, &r.FqdnFwd, &r.FqdnRev,
		&r.Hostname, &r.State, &r.UserContext)
}

// LoadRows calls fn for every row of lease4 through d.
func LoadRows(ctx context.Context, d Queryer, fn func(l *lease.Lease) error) error {
	rows, done, err := d.Query(ctx, "SELECT "+d.Columns()+" FROM lease4 ORDER BY address")
	if err != nil {
		return err
	}
	defer done()
	var r Row
	for rows.Next() {
		if err := scanRow(rows, &r); err != nil {
			return err
		}
		l := r.Lease()
		if err := fn(&l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// GetRow reads the lease of addr through d.
func GetRow(ctx context.Context, d Queryer, addr netip.Addr) (lease.Lease, bool, error) {
	ls, err := queryLeases(ctx, d, "SELECT "+d.Columns()+" FROM lease4 WHERE address = "+d.Placeholder(1), AddrNum(addr))
	if err != nil || len(ls) == 0 {
		return lease.Lease{}, false, err
	}
	return ls[0], true, nil
}

// FindRows reads what q selects through d.
func FindRows(ctx context.Context, d Queryer, q Query) ([]lease.Lease, error) {
	sel, p1 := "SELECT "+d.Columns()+" FROM lease4 WHERE ", d.Placeholder(1)
	switch q.Kind {
	case ByHWAddr:
		return queryLeases(ctx, d, sel+"hwaddr = "+p1+" ORDER BY address", q.Key)
	case ByClientID:
		return queryLeases(ctx, d, sel+"client_id = "+p1+" ORDER BY address", q.Key)
	case ByHostname:
		return queryLeases(ctx, d, sel+"lower(hostname) = "+p1+" ORDER BY address", strings.ToLower(q.Name))
	case Page:
		from, op := int64(0), ">="
		if q.From.IsValid() {
			from, op = AddrNum(q.From), ">"
		}
		return queryLeases(ctx, d, sel+"address "+op+" "+p1+" ORDER BY address LIMIT "+d.Placeholder(2), from, q.Limit)
	}
	return nil, fmt.Errorf("unknown query kind %d", q.Kind)
}

func queryLeases(ctx context.Context, d Queryer, q string, args ...any) ([]lease.Lease, error) {
	rows, done, err := d.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []lease.Lease
	for rows.Next() {
		var r Row
		if err := scanRow(rows, &r); err != nil {
			return nil, err
		}
		out = append(out, r.Lease())
	}
	return out, rows.Err()
}

// Reads are a Dialect's reads over its Queryer; dialects embed it.
type Reads struct{ Q Queryer }

// Load reads every row.
func (r Reads) Load(ctx context.Context, fn func(l *lease.Lease) error) error {
	return LoadRows(ctx, r.Q, fn)
}

// Get reads one address.
func (r Reads) Get(ctx context.Context, addr netip.Addr) (lease.Lease, bool, error) {
	return GetRow(ctx, r.Q, addr)
}

// Find reads what q selects.
func (r Reads) Find(ctx context.Context, q Query) ([]lease.Lease, error) {
	return FindRows(ctx, r.Q, q)
}

// ErrNoSchema is returned by ReadVersion for a database without Kea's
// schema (no schema_version table, or no row in it).
var ErrNoSchema = errors.New("the database holds no Kea schema")

// ReadVersion reads the schema_version row through q.
func ReadVersion(ctx context.Context, q Queryer) (major, minor int, err error) {
	rows, done, err := q.Query(ctx, "SELECT version, minor FROM schema_version")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: read schema_version: %w", ErrNoSchema, err)
	}
	defer done()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, 0, fmt.Errorf("read the schema version: %w", err)
		}
		return 0, 0, fmt.Errorf("%w: schema_version is empty", ErrNoSchema)
	}
	if err := rows.Scan(&major, &minor); err != nil {
		return 0, 0, fmt.Errorf("read the schema version: %w", err)
	}
	return major, minor, rows.Err()
}

// CheckVersion reads schema_version and compares it with major.minor, the
// version backend's kea-admin db-init of Kea 2.2 creates.
func (r Reads) CheckVersion(ctx context.Context, backend string, major, minor int) error {
	gotMajor, gotMinor, err := ReadVersion(ctx, r.Q)
	if errors.Is(err, ErrNoSchema) {
		return fmt.Errorf("%w (initialise it with xdhcpctl db-init %s or kea-admin db-init %s)", err, backend, backend)
	}
	if err != nil {
		return err
	}
	if gotMajor != major || gotMinor != minor {
		return fmt.Errorf("schema version %d.%d, but xdhcpd needs %d.%d, the version Kea 2.2's kea-admin db-init %s creates "+
			"(an older schema: kea-admin db-upgrade of Kea 2.2; a newer one belongs to a newer Kea)",
			gotMajor, gotMinor, major, minor, backend)
	}
	return nil
}

// Queryer6 is a Queryer that reads lease6 rows too.
type Queryer6 interface {
	Queryer
	// Columns6 lists lease6's columns in Row6's order, NULLs replaced
	// by empty values and expire as unix seconds.
	Columns6() string
	// IAID is the iaid column's value for iaid (PostgreSQL's column is
	// a signed integer).
	IAID(iaid uint32) any
}

// Row6 is one lease6 row as read.
type Row6 struct {
	Address                                                              string
	DUID, HW                                                             []byte
	Valid, Expire, Subnet, Pref, Type, IAID, PrefixLen, HWType, HWSource int64
	State                                                                int64
	FqdnFwd, FqdnRev                                                     bool
	Hostname, UserContext                                                string
}

func scanRow6(rows Rows, r *Row6) error {
	return rows.Scan(&r.Address, &r.DUID, &r.Valid, &r.Expire, &r.Subnet, &r.Pref, &r.Type, &r.IAID, &r.PrefixLen,
		&r.FqdnFwd, &r.FqdnRev, &r.Hostname, &r.HW, &r.HWType, &r.HWSource, &r.State, &r.UserContext)
}

// Lease converts r; the slices are r's. An address Kea could not have
// written leaves Addr invalid (stores skip such a row).
func (r *Row6) Lease() lease.Lease6 {
	valid := uint32(r.Valid)
	a, _ := netip.ParseAddr(r.Address)
	l := lease.Lease6{
		Addr: a, PrefixLen: uint8(r.PrefixLen), Type: lease.Type(r.Type), DUID: r.DUID, IAID: uint32(r.IAID),
		PreferredLft: uint32(r.Pref), ValidLft: valid, CLTT: CLTTOf(r.Expire, valid), SubnetID: uint32(r.Subnet),
		FqdnFwd: r.FqdnFwd, FqdnRev: r.FqdnRev, Hostname: r.Hostname, State: lease.State(r.State),
		UserContext: r.UserContext,
	}
	if len(r.HW) > 0 {
		l.HWAddr, l.HWType, l.HWAddrSource = r.HW, uint16(r.HWType), uint32(r.HWSource)
	}
	return l
}

// Expire6Of is the expire column Kea writes for l (see ExpireOf).
func Expire6Of(l *lease.Lease6) time.Time {
	if l.ValidLft == lease.Infinite {
		return time.Unix(l.CLTT, 0).UTC()
	}
	return time.Unix(l.Expire(), 0).UTC()
}

// AddrText is the lease6 address column's value for a: the address as
// text, as Kea writes it.
func AddrText(a netip.Addr) string { return a.WithZone("").String() }

// LoadRows6 calls fn for every row of lease6 through d.
func LoadRows6(ctx context.Context, d Queryer6, fn func(l *lease.Lease6) error) error {
	rows, done, err := d.Query(ctx, "SELECT "+d.Columns6()+" FROM lease6 ORDER BY address")
	if err != nil {
		return err
	}
	defer done()
	var r Row6
	for rows.Next() {
		if err := scanRow6(rows, &r); err != nil {
			return err
		}
		l := r.Lease()
		if err := fn(&l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// GetRow6 reads the lease6 row of addr through d.
func GetRow6(ctx context.Context, d Queryer6, addr netip.Addr) (lease.Lease6, bool, error) {
	ls, err := queryLeases6(ctx, d, "SELECT "+d.Columns6()+" FROM lease6 WHERE address = "+d.Placeholder(1), AddrText(addr))
	if err != nil || len(ls) == 0 {
		return lease.Lease6{}, false, err
	}
	return ls[0], true, nil
}

// FindRows6 reads the lease6 rows q selects through d. Pages follow the
// address column's order, as Kea's lease6-get-page on a database does.
func FindRows6(ctx context.Context, d Queryer6, q Query) ([]lease.Lease6, error) {
	sel := "SELECT " + d.Columns6() + " FROM lease6 WHERE "
	p := d.Placeholder
	switch q.Kind {
	case ByDUID:
		return queryLeases6(ctx, d, sel+"duid = "+p(1)+" ORDER BY address", q.Key)
	case ByIA:
		w := sel + "duid = " + p(1) + " AND iaid = " + p(2) + " AND lease_type = " + p(3)
		args := []any{q.Key, d.IAID(q.IAID), int64(q.Type)}
		if q.Subnet != 0 {
			w += " AND subnet_id = " + p(4)
			args = append(args, int64(q.Subnet))
		}
		return queryLeases6(ctx, d, w+" ORDER BY address", args...)
	case ByHostname:
		return queryLeases6(ctx, d, sel+"lower(hostname) = "+p(1)+" ORDER BY address", strings.ToLower(q.Name))
	case Page:
		from, op := "", ">="
		if q.From.IsValid() {
			from, op = AddrText(q.From), ">"
		}
		return queryLeases6(ctx, d, sel+"address "+op+" "+p(1)+" ORDER BY address LIMIT "+p(2), from, q.Limit)
	}
	return nil, fmt.Errorf("unknown lease6 query kind %d", q.Kind)
}

func queryLeases6(ctx context.Context, d Queryer6, q string, args ...any) ([]lease.Lease6, error) {
	rows, done, err := d.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []lease.Lease6
	for rows.Next() {
		var r Row6
		if err := scanRow6(rows, &r); err != nil {
			return nil, err
		}
		if l := r.Lease(); l.Addr.IsValid() {
			out = append(out, l)
		}
	}
	return out, rows.Err()
}

// Reads6 are a Dialect6's reads over its Queryer6; dialects embed it.
type Reads6 struct{ Q6 Queryer6 }

// Load6 reads every lease6 row.
func (r Reads6) Load6(ctx context.Context, fn func(l *lease.Lease6) error) error {
	return LoadRows6(ctx, r.Q6, fn)
}

// Get6 reads one address.
func (r Reads6) Get6(ctx context.Context, addr netip.Addr) (lease.Lease6, bool, error) {
	return GetRow6(ctx, r.Q6, addr)
}

// Find6 reads what q selects.
func (r Reads6) Find6(ctx context.Context, q Query) ([]lease.Lease6, error) {
	return FindRows6(ctx, r.Q6, q)
}
