package configdb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"xdhcp/config/optiondef"
)

// Kea's dhcp_option_scope numbering.
const (
	scopeGlobal  = 0
	scopeSubnet  = 1
	scopeClass   = 2
	scopeNetwork = 4
	scopePool    = 5
	scopePDPool  = 6 // DHCPv6 prefix delegation pool
)

// optionRow is one dhcp4_options row as read.
type optionRow struct {
	id         int64
	code       int
	value      []byte
	formatted  sql.NullString
	space      sql.NullString
	persistent bool
	class      sql.NullString
	subnet     sql.NullInt64
	scope      int
	context    sql.NullString
	network    sql.NullString
	pool       sql.NullInt64
}

const optionCols = `o.option_id, o.code, o.value, o.formatted_value, o.space, o.persistent, o.dhcp_client_class,
 o.dhcp4_subnet_id, o.scope_id, o.user_context, o.shared_network_name, o.pool_id`

func scanOption(rows *sql.Rows) (optionRow, error) {
	var r optionRow
	err := rows.Scan(&r.id, &r.code, &r.value, &r.formatted, &r.space, &r.persistent, &r.class, &r.subnet, &r.scope,
		&r.context, &r.network, &r.pool)
	return r, err
}

// json is the option-data entry Kea's configuration would hold.
func (r optionRow) json(v6 bool) (map[string]any, error) {
	space := "dhcp4"
	if v6 {
		space = optiondef.Space6
	}
	if r.space.Valid && r.space.String != "" {
		space = r.space.String
	}
	o := map[string]any{"code": json.Number(strconv.Itoa(r.code)), "space": space, "always-send": r.persistent}
	switch {
	case v6:
		if def := optiondef.InSpace6(space, uint16(r.code)); def != nil && space == optiondef.Space6 {
			o["name"] = def.Name
		}
	case r.code <= 255:
		if def := optiondef.InSpace(space, uint8(r.code)); def != nil && space == "dhcp4" {
			o["name"] = def.Name
		}
	}
	switch {
	case r.formatted.Valid && r.formatted.String != "":
		o["data"], o["csv-format"] = r.formatted.String, true
	default:
		o["data"], o["csv-format"] = strings.ToUpper(hex.EncodeToString(r.value)), false
	}
	if r.context.Valid && r.context.String != "" {
		var m map[string]any
		if err := decode([]byte(r.context.String), &m); err != nil {
			return nil, fmt.Errorf("option %d user_context: %w", r.code, err)
		}
		o["user-context"] = m
	}
	return o, nil
}

// optionKey identifies an option in a scope (code and space).
// A DHCPv6 option (v6) has a 16-bit code in the dhcp6 space by default.
func optionKey(o map[string]any, v6 bool) (int, string, error) {
	space, maxCode := "dhcp4", 254
	if v6 {
		space, maxCode = optiondef.Space6, 65535
	}
	if s, ok := o["space"].(string); ok && s != "" {
		space = s
	}
	if n, ok := o["code"].(json.Number); ok {
		c, err := strconv.Atoi(n.String())
		if err != nil || c < 1 || c > maxCode {
			return 0, "", fmt.Errorf("option code %s is out of range", n)
		}
		return c, space, nil
	}
	if name, ok := o["name"].(string); ok {
		if v6 {
			if def := optiondef.InSpace6ByName(space, name); def != nil {
				return int(def.Code), space, nil
			}
		} else if def := optiondef.InSpaceByName(space, name); def != nil {
			return int(def.Code), space, nil
		}
		return 0, "", fmt.Errorf("option '%s' of space %s: unknown name (give its code)", name, space)
	}
	return 0, "", fmt.Errorf("option data must have a code or a name")
}

// optionArgs are the value, formatted value and persistent flag an
// option-data entry is stored with, as Kea's backends store them: text
// data (csv-format, the default) in formatted_value, hexadecimal data as
// the binary value.
func optionArgs(o map[string]any) (value []byte, formatted any, persistent bool, ctx any, err error) {
	data, _ := o["data"].(string)
	csv := true
	if b, ok := o["csv-format"].(bool); ok {
		csv = b
	}
	if b, ok := o["always-send"].(bool); ok {
		persistent = b
	}
	if uc, ok := o["user-context"]; ok && uc != nil {
		b, _ := json.Marshal(uc)
		ctx = string(b)
	}
	if csv {
		if data == "" {
			return nil, nil, persistent, ctx, nil
		}
		return nil, data, persistent, ctx, nil
	}
	h := strings.NewReplacer(" ", "", ":", "", "0x", "", "0X", "").Replace(data)
	value, err = hex.DecodeString(h)
	if err != nil {
		return nil, nil, false, nil, fmt.Errorf("option data %q: not hexadecimal", data)
	}
	return value, nil, persistent, ctx, nil
}

// insertOption writes one option row of a scope, with its server
// associations.
func (d *DB) insertOption(ctx context.Context, tx *sql.Tx, o map[string]any, scope int, subnet, pool any, network, class any, tags []string) error {
	code, space, err := optionKey(o, d.v6)
	if err != nil {
		return err
	}
	value, formatted, persistent, uctx, err := optionArgs(o)
	if err != nil {
		return err
	}
	// pool is the pool's id, or the prefix delegation pool's in that
	// scope (a column of the DHCPv6 table only).
	poolCol := "pool_id"
	if scope == scopePDPool {
		poolCol = "pd_pool_id"
	}
	q := `INSERT INTO dhcp4_options (code, value, formatted_value, space, persistent, dhcp_client_class, dhcp4_subnet_id,
 scope_id, user_context, shared_network_name, ` + poolCol + `, modification_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{code, value, formatted, space, persistent, class, subnet, scope, uctx, network, pool, time.Now().UTC().Truncate(time.Second)}
	id, err := d.insertID(ctx, tx, q, "option_id", args)
	if err != nil {
		return fmt.Errorf("option %d: %w", code, err)
	}
	return d.attach(ctx, tx, "dhcp4_options_server", "option_id", id, tags)
}

// insertID runs an INSERT and returns the row's generated id.
func (d *DB) insertID(ctx context.Context, tx *sql.Tx, q, idCol string, args []any) (int64, error) {
	if d.pg {
		var id int64
		err := tx.QueryRowContext(ctx, d.q(q)+" RETURNING "+idCol, args...).Scan(&id)
		return id, err
	}
	res, err := tx.ExecContext(ctx, d.q(q), args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// readOptions returns the options of one scope matching where.
func (d *DB) readOptions(ctx context.Context, q queryer, where string, args ...any) ([]optionRow, error) {
	rows, err := q.QueryContext(ctx, d.q("SELECT "+optionCols+" FROM dhcp4_options o WHERE "+where+" ORDER BY o.option_id"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []optionRow
	for rows.Next() {
		r, err := scanOption(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// optionList turns rows into option-data.
func (d *DB) optionList(rows []optionRow) ([]any, error) {
	out := []any{}
	for _, r := range rows {
		o, err := r.json(d.v6)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// OptionKey is the code and space an option-data entry names (0 when it
// names none the tables know).
func (d *DB) OptionKey(o map[string]any) (int, string) {
	c, s, _ := optionKey(o, d.v6)
	return c, s
}
