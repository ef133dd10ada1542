package sqllease

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

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
