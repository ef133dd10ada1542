// Package sqlhost keeps host reservations in a MySQL/MariaDB or PostgreSQL
// database on Kea 2.2's own schema (the hosts, dhcp4_options, ipv6_reservations and dhcp6_options tables
// kea-admin db-init creates), so that Kea and xdhcpd, or a provisioning
// system writing SQL, share one set of reservations. Nothing is cached:
// every lookup is a query, so a row written by anyone applies to the next
// packet.
package sqlhost

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"xdhcp/config"
	"xdhcp/host"
)

// Kea's numbering of dhcp_option_scope: options of a host have scope 3.
const scopeHost = 3

// lookupTimeout bounds one lookup made for a packet: a database that does
// not answer costs the packet, not the worker.
const lookupTimeout = 2 * time.Second

// DB is one host database.
type DB struct {
	db       *sql.DB
	d        dialect
	cfgPtr   atomic.Pointer[config.Config]
	cfg6     atomic.Pointer[config.Config6]
	readOnly bool
	name     string
	// onLost is told of a query error once per episode (lost is set
	// until Recovered): the daemon's on-fail policy decides, after a ping,
	// whether the connection is lost.
	onLost atomic.Pointer[func(error)]
	lost   atomic.Bool
	// closed: errors of lookups still in flight when a reload replaced
	// the database are not a lost connection.
	closed atomic.Bool
}

// OnError sets fn to be called, in a goroutine of its own and once until
// Recovered, when a query fails.
func (h *DB) OnError(fn func(error)) { h.onLost.Store(&fn) }

// Recovered re-arms OnError.
func (h *DB) Recovered() { h.lost.Store(false) }

// Ping checks the connection to the database.
func (h *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	return h.db.PingContext(ctx)
}

// failed reports err to OnError's function and returns it.
func (h *DB) failed(err error) error {
	if fn := h.onLost.Load(); fn != nil && !h.closed.Load() && h.lost.CompareAndSwap(false, true) {
		go (*fn)(err)
	}
	return err
}

var _ host.Store = (*DB)(nil)

// Open connects to the database dbc describes and checks that it holds
// Kea's hosts schema. cfg supplies the option definitions the options
// rows are decoded with (and is replaced by SetConfig on reload).
func Open(ctx context.Context, dbc config.HostsDatabase, cfg *config.Config) (*DB, error) {
	d, err := dialectFor(dbc.Type)
	if err != nil {
		return nil, err
	}
	driver, dsn, err := d.dsn(dbc)
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s host database %s: %w", dbc.Type, dbc.Name, err)
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	h := &DB{db: sdb, d: d, readOnly: dbc.ReadOnly, name: dbc.Type + " " + dbc.Name}
	h.cfgPtr.Store(cfg)
	cctx, cancel := context.WithTimeout(ctx, dbc.ConnectTimeout+time.Second)
	defer cancel()
	if err := h.checkSchema(cctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return h, nil
}

// checkSchema refuses a database without Kea's hosts tables or with a
// schema major version other than the one Kea 2.2 writes.
func (h *DB) checkSchema(ctx context.Context) error {
	var major, minor int
	if err := h.db.QueryRowContext(ctx, "SELECT version, minor FROM schema_version").Scan(&major, &minor); err != nil {
		return fmt.Errorf("%s: reading Kea's schema_version: %w", h.name, err)
	}
	if major != h.d.schemaMajor {
		return fmt.Errorf("%s: schema version %d.%d, but Kea 2.2's %s schema is %d.x (run kea-admin db-upgrade or db-init for Kea 2.2)",
			h.name, major, minor, h.d.name, h.d.schemaMajor)
	}
	var n int
	if err := h.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM hosts WHERE 1 = 0").Scan(&n); err != nil {
		return fmt.Errorf("%s: no hosts table: %w", h.name, err)
	}
	return nil
}

// SetConfig gives the option definitions of a new configuration.
func (h *DB) SetConfig(cfg *config.Config) { h.cfgPtr.Store(cfg) }

// ReadOnly implements host.Store.
func (h *DB) ReadOnly() bool { return h.readOnly }

// Close implements host.Store.
func (h *DB) Close() error {
	h.closed.Store(true)
	return h.db.Close()
}

// Closed reports whether Close was called.
func (h *DB) Closed() bool { return h.closed.Load() }

// String names the database for logs.
func (h *DB) String() string { return h.name }

// selectHosts is the column list every read uses: the host, then its
// DHCPv4 options (a host without options comes back once with NULLs).
const selectHosts = `SELECT h.host_id, h.dhcp_identifier, h.dhcp_identifier_type, h.dhcp4_subnet_id,
 h.ipv4_address, h.hostname, h.dhcp4_client_classes, h.dhcp4_next_server, h.dhcp4_server_hostname,
 h.dhcp4_boot_file_name, h.user_context,
 o.option_id, o.code, o.value, o.formatted_value, o.space, CASE WHEN o.persistent THEN 1 ELSE 0 END
 FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id AND o.scope_id = 3 `

// query runs selectHosts with where (which may end in ORDER BY/LIMIT of
// its own: rows come back by host_id, then option_id).
func (h *DB) query(ctx context.Context, where string, args ...any) ([]host.Host, error) {
	q := h.d.rebind(selectHosts + where)
	rows, err := h.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, h.failed(fmt.Errorf("%s: %w", h.name, err))
	}
	defer rows.Close()
	var out []host.Host
	for rows.Next() {
		var (
			hostID                             int64
			ident                              []byte
			idType                             int64
			subnet, addr, next                 sql.NullInt64
			hostname, classes, sname, bootfile sql.NullString
			uctx                               sql.NullString
			optID, code                        sql.NullInt64
			value                              []byte
			formatted, space                   sql.NullString
			persistent                         sql.NullInt64
		)
		if err := rows.Scan(&hostID, &ident, &idType, &subnet, &addr, &hostname, &classes, &next, &sname, &bootfile, &uctx,
			&optID, &code, &value, &formatted, &space, &persistent); err != nil {
			return nil, fmt.Errorf("%s: %w", h.name, err)
		}
		if len(out) == 0 || out[len(out)-1].ID != uint64(hostID) {
			r := &config.Reservation{
				SubnetID:       uint32(subnet.Int64),
				Hostname:       hostname.String,
				ServerHostname: sname.String,
				BootFileName:   bootfile.String,
			}
			host.SetIdentifier(r, host.IDType(idType), ident)
			if addr.Valid && addr.Int64 != 0 {
				r.IP = u32Addr(uint32(addr.Int64))
			}
			if next.Valid && next.Int64 != 0 {
				r.NextServer = u32Addr(uint32(next.Int64))
			}
			r.ClientClasses = splitClasses(classes.String)
			hh := host.Host{ID: uint64(hostID), Res: r}
			if uctx.Valid && uctx.String != "" && json.Valid([]byte(uctx.String)) {
				hh.UserContext = json.RawMessage(uctx.String)
			}
			out = append(out, hh)
		}
		if !optID.Valid {
			continue
		}
		r := out[len(out)-1].Res
		o, err := h.cfgPtr.Load().HostOption(space.String, uint8(code.Int64), formatted.String, value, persistent.Int64 != 0)
		if err != nil {
			return nil, fmt.Errorf("%s: host %d: %w", h.name, hostID, err)
		}
		r.Options = append(r.Options, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", h.name, err)
	}
	return out, nil
}

func reservations(hs []host.Host) []*config.Reservation {
	out := make([]*config.Reservation, len(hs))
	for i := range hs {
		out[i] = hs[i].Res
	}
	return out
}

// Get4 implements host.Source.
func (h *DB) Get4(ctx context.Context, subnet uint32, t host.IDType, id []byte) (*config.Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	hs, err := h.query(ctx, "WHERE h.dhcp_identifier = ? AND h.dhcp_identifier_type = ? AND h.dhcp4_subnet_id = ? ORDER BY h.host_id, o.option_id",
		id, int(t), int64(subnet))
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	return hs[0].Res, nil
}

// GetByAddr4 implements host.Source.
func (h *DB) GetByAddr4(ctx context.Context, subnet uint32, addr netip.Addr) ([]*config.Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	hs, err := h.query(ctx, "WHERE h.ipv4_address = ? AND h.dhcp4_subnet_id = ? ORDER BY h.host_id, o.option_id",
		int64(addrU32(addr)), int64(subnet))
	return reservations(hs), err
}

// All4 implements host.Reader.
func (h *DB) All4(ctx context.Context, subnet uint32) ([]host.Host, error) {
	return h.query(ctx, "WHERE h.dhcp4_subnet_id = ? ORDER BY h.host_id, o.option_id", int64(subnet))
}

// Page4 implements host.Reader: the page's host ids are chosen first, so
// that a host's options never straddle two pages.
func (h *DB) Page4(ctx context.Context, subnet *uint32, from uint64, limit int) ([]host.Host, error) {
	join, args := pageJoin("SELECT host_id FROM hosts WHERE host_id > ? AND dhcp4_subnet_id IS NOT NULL", "dhcp4_subnet_id", subnet, from, limit)
	return h.query(ctx, join+" ORDER BY h.host_id, o.option_id", args...)
}

// pageJoin is the JOIN that keeps a page's hosts: those of inner (whose
// one placeholder is from) in subnet (column col) when subnet is not nil,
// the first limit by host_id.
func pageJoin(inner, col string, subnet *uint32, from uint64, limit int) (string, []any) {
	args := []any{int64(from)}
	if subnet != nil {
		inner += " AND " + col + " = ?"
		args = append(args, int64(*subnet))
	}
	inner += fmt.Sprintf(" ORDER BY host_id LIMIT %d", limit)
	// MySQL refuses LIMIT inside IN (subquery); a derived table is fine
	// for both.
	return "JOIN (" + inner + ") p ON p.host_id = h.host_id", args
}

// ByHostname4 implements host.Reader.
func (h *DB) ByHostname4(ctx context.Context, hostname string, subnet *uint32) ([]host.Host, error) {
	where := "WHERE lower(h.hostname) = ? AND h.dhcp4_subnet_id IS NOT NULL"
	args := []any{strings.ToLower(hostname)}
	if subnet != nil {
		where += " AND h.dhcp4_subnet_id = ?"
		args = append(args, int64(*subnet))
	}
	return h.query(ctx, where+" ORDER BY h.host_id, o.option_id", args...)
}

// ByID implements host.Reader. Like every DHCPv4 read, it leaves out the
// hosts a shared database holds for DHCPv6 only (dhcp4_subnet_id NULL):
// they are not global DHCPv4 reservations.
func (h *DB) ByID(ctx context.Context, t host.IDType, id []byte) ([]host.Host, error) {
	return h.query(ctx, "WHERE h.dhcp_identifier = ? AND h.dhcp_identifier_type = ? AND h.dhcp4_subnet_id IS NOT NULL ORDER BY h.host_id, o.option_id", id, int(t))
}

// Add implements host.Store: the host and its options in one
// transaction. With unique IP reservations (Kea's default) an address
// reserved in the subnet already is refused, as Kea refuses it.
func (h *DB) Add(ctx context.Context, hh host.Host) error {
	if h.readOnly {
		return fmt.Errorf("%s is read-only", h.name)
	}
	r := hh.Res
	if cfg := h.cfgPtr.Load(); r.IP.IsValid() && (cfg == nil || cfg.IPReservationsUnique) {
		same, err := h.GetByAddr4(ctx, r.SubnetID, r.IP)
		if err != nil {
			return err
		}
		if len(same) > 0 {
			return host.ErrExists
		}
	}
	t, id := host.Identifier(r)
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	defer tx.Rollback()
	args := []any{id, int(t), int64(r.SubnetID), nullU32(r.IP), nullString(r.Hostname),
		nullString(strings.Join(r.ClientClasses, ",")), nullU32(r.NextServer), nullString(r.ServerHostname),
		nullString(r.BootFileName), nullString(string(hh.UserContext))}
	hostID, err := h.d.insertHost(ctx, tx, args)
	if err != nil {
		if h.d.duplicate(err) {
			return host.ErrExists
		}
		return fmt.Errorf("%s: %w", h.name, err)
	}
	opts := make([]optionRow, len(r.Options))
	for i, o := range r.Options {
		opts[i] = optionRow{code: int(o.Code), data: o.Data, space: o.OptionSpace(), always: o.AlwaysSend}
	}
	return h.commitHost(ctx, tx, "dhcp4", hostID, opts)
}

// optionRow is a host's option as Kea's dhcp4_options and dhcp6_options
// keep one written by its host commands: the binary value, no formatted
// text.
type optionRow struct {
	code   int
	data   []byte
	space  string
	always bool
}

// commitHost writes the options of host hostID into the family's
// ("dhcp4", "dhcp6") options table and commits tx.
func (h *DB) commitHost(ctx context.Context, tx *sql.Tx, family string, hostID int64, opts []optionRow) error {
	for _, o := range opts {
		_, err := tx.ExecContext(ctx, h.d.rebind(`INSERT INTO `+family+`_options (code, value, formatted_value, space, persistent,
 dhcp_client_class, `+family+`_subnet_id, host_id, scope_id) VALUES (?, ?, NULL, ?, ?, NULL, NULL, ?, ?)`),
			o.code, o.data, o.space, o.always, hostID, scopeHost)
		if err != nil {
			return fmt.Errorf("%s: option %d: %w", h.name, o.code, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	return nil
}

// Del4 implements host.Store (the options go with the host: ON DELETE
// CASCADE).
func (h *DB) Del4(ctx context.Context, subnet uint32, t host.IDType, id []byte) (bool, error) {
	return h.del(ctx, "DELETE FROM hosts WHERE dhcp_identifier = ? AND dhcp_identifier_type = ? AND dhcp4_subnet_id = ?", id, int(t), int64(subnet))
}

// DelByAddr4 implements host.Store.
func (h *DB) DelByAddr4(ctx context.Context, subnet uint32, addr netip.Addr) (bool, error) {
	return h.del(ctx, "DELETE FROM hosts WHERE ipv4_address = ? AND dhcp4_subnet_id = ?", int64(addrU32(addr)), int64(subnet))
}

func (h *DB) del(ctx context.Context, q string, args ...any) (bool, error) {
	if h.readOnly {
		return false, fmt.Errorf("%s is read-only", h.name)
	}
	res, err := h.db.ExecContext(ctx, h.d.rebind(q), args...)
	if err != nil {
		return false, fmt.Errorf("%s: %w", h.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", h.name, err)
	}
	return n > 0, nil
}

// splitClasses splits hosts.dhcp4_client_classes as Kea does: on commas,
// blanks trimmed, empty names dropped.
func splitClasses(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func addrU32(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func nullU32(a netip.Addr) any {
	if !a.IsValid() {
		return nil
	}
	return int64(addrU32(a))
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var errUnknownType = errors.New(`host database type must be "mysql" or "postgresql"`)
