package configdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// optionTypes are Kea's OptionDataType numbers, as dhcp4_option_def.type
// and record_types store them.
var optionTypes = []string{"empty", "binary", "boolean", "int8", "int16", "int32", "uint8", "uint16", "uint32",
	"any-address", "ipv4-address", "ipv6-address", "ipv6-prefix", "psid", "string", "tuple", "fqdn", "record"}

func optionType(name string) (int, error) {
	for i, n := range optionTypes {
		if n == strings.TrimSpace(name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("option type %q is not known", name)
}

// SetOptionDef creates or replaces an option definition of one server
// tag (remote-option-def4-set).
func (d *DB) SetOptionDef(ctx context.Context, tag string, def Object) (int, string, error) {
	if err := checkKeys("option definition", def, nil, []string{"name", "code", "space", "type", "array", "record-types", "encapsulate", "user-context", "metadata"}); err != nil {
		return 0, "", err
	}
	name, _ := def["name"].(string)
	code, space, err := optionKey(Object{"code": def["code"], "space": def["space"]}, d.v6)
	if err != nil || name == "" {
		return 0, "", errors.New("option definition: 'name' and 'code' (1-254) are mandatory")
	}
	tn, _ := def["type"].(string)
	typ, err := optionType(tn)
	if err != nil {
		return 0, "", err
	}
	array, _ := def["array"].(bool)
	encapsulate, _ := def["encapsulate"].(string)
	var records, uctx any
	if rt, _ := def["record-types"].(string); rt != "" {
		var l []int
		for _, f := range strings.Split(rt, ",") {
			n, err := optionType(f)
			if err != nil {
				return 0, "", err
			}
			l = append(l, n)
		}
		b, _ := json.Marshal(l)
		records = string(b)
	}
	if m, ok := def["user-context"].(map[string]any); ok {
		b, _ := json.Marshal(m)
		uctx = string(b)
	}
	err = d.tx(ctx, tag, "option definition set", false, func(tx *sql.Tx) error {
		if _, err := d.delOptionDef(ctx, tx, tag, code, space); err != nil {
			return err
		}
		id, err := d.insertID(ctx, tx, `INSERT INTO dhcp4_option_def (code, name, space, type, modification_ts, is_array, encapsulate, record_types, user_context)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, "id", []any{code, name, space, typ, time.Now().UTC().Truncate(time.Second), array, encapsulate, records, uctx})
		if err != nil {
			return err
		}
		return d.attach(ctx, tx, "dhcp4_option_def_server", "option_def_id", id, []string{tag})
	})
	return code, space, err
}

func (d *DB) delOptionDef(ctx context.Context, tx *sql.Tx, tag string, code int, space string) (int64, error) {
	where, args := serverFilter("dhcp4_option_def_server", "option_def_id", "dhcp4_option_def.id", []string{tag})
	return affected(tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_option_def WHERE code = ? AND space = ? AND class_id IS NULL AND "+where),
		append([]any{code, space}, args...)...))
}

// DelOptionDef deletes an option definition of one server tag.
func (d *DB) DelOptionDef(ctx context.Context, tag string, code int, space string) (int64, error) {
	return d.txCount(ctx, tag, "option definition deleted", false, func(tx *sql.Tx) (int64, error) {
		return d.delOptionDef(ctx, tx, tag, code, space)
	})
}

// OptionDefs returns the option definitions of tags (the first tag's
// winning for one code and space).
func (d *DB) OptionDefs(ctx context.Context, tags []string) ([]any, error) {
	out := []any{}
	seen := map[string]bool{}
	for _, t := range tags {
		where, args := serverFilter("dhcp4_option_def_server", "option_def_id", "o.id", []string{t})
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT o.code, o.name, o.space, o.type, o.is_array, o.encapsulate, o.record_types, o.user_context
 FROM dhcp4_option_def o WHERE o.class_id IS NULL AND `+where+" ORDER BY o.id"), args...)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var code, typ int
				var name, space, encapsulate string
				var array bool
				var records, uctx sql.NullString
				if err := rows.Scan(&code, &name, &space, &typ, &array, &encapsulate, &records, &uctx); err != nil {
					return err
				}
				if typ < 0 || typ >= len(optionTypes) {
					return fmt.Errorf("option definition %s: type %d is not known", name, typ)
				}
				k := strconv.Itoa(code) + "/" + space
				if seen[k] {
					continue
				}
				seen[k] = true
				def := Object{"name": name, "code": json.Number(strconv.Itoa(code)), "space": space, "type": optionTypes[typ],
					"array": array, "encapsulate": encapsulate, "record-types": ""}
				if records.Valid && records.String != "" {
					var l []int
					if err := json.Unmarshal([]byte(records.String), &l); err != nil {
						return fmt.Errorf("option definition %s record_types: %w", name, err)
					}
					var names []string
					for _, n := range l {
						if n < 0 || n >= len(optionTypes) {
							return fmt.Errorf("option definition %s: record type %d is not known", name, n)
						}
						names = append(names, optionTypes[n])
					}
					def["record-types"] = strings.Join(names, ", ")
				}
				if uctx.Valid && uctx.String != "" {
					var m map[string]any
					if err := decode([]byte(uctx.String), &m); err != nil {
						return fmt.Errorf("option definition %s user_context: %w", name, err)
					}
					def["user-context"] = m
				}
				out = append(out, def)
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetScopedOption sets one option of a subnet, shared network or pool
// (remote-option4-subnet-set, -network-set, -pool-set), replacing the
// same code and space there.
func (d *DB) SetScopedOption(ctx context.Context, scope string, key any, o Object) error {
	code, space, err := optionKey(o, d.v6)
	if err != nil {
		return err
	}
	return d.tx(ctx, TagAll, scope+" option set", false, func(tx *sql.Tx) error {
		sc, where, owner, err := d.scopeOf(ctx, tx, scope, key)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = ? AND code = ? AND space = ? AND "+where),
			sc, code, space, owner); err != nil {
			return err
		}
		var subnet, pool, network any
		switch sc {
		case scopeSubnet:
			subnet = owner
		case scopePool, scopePDPool:
			pool = owner
		case scopeNetwork:
			network = owner
		}
		return d.insertOption(ctx, tx, o, sc, subnet, pool, network, nil, []string{TagAll})
	})
}

// DelScopedOption deletes one option of a subnet, shared network or pool.
func (d *DB) DelScopedOption(ctx context.Context, scope string, key any, code int, space string) (int64, error) {
	return d.txCount(ctx, TagAll, scope+" option deleted", false, func(tx *sql.Tx) (int64, error) {
		sc, where, owner, err := d.scopeOf(ctx, tx, scope, key)
		if err != nil {
			return 0, err
		}
		return affected(tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = ? AND code = ? AND space = ? AND "+where),
			sc, code, space, owner))
	})
}

// scopeOf finds the owner of a scoped option: a subnet id, a shared
// network name or a pool ("first - last").
func (d *DB) scopeOf(ctx context.Context, tx *sql.Tx, scope string, key any) (int, string, any, error) {
	switch scope {
	case "subnet":
		var n int
		if err := tx.QueryRowContext(ctx, d.q("SELECT COUNT(*) FROM dhcp4_subnet WHERE subnet_id = ?"), key).Scan(&n); err != nil {
			return 0, "", nil, err
		}
		if n == 0 {
			return 0, "", nil, fmt.Errorf("no subnet with id %v", key)
		}
		return scopeSubnet, "dhcp4_subnet_id = ?", key, nil
	case "network":
		var n int
		if err := tx.QueryRowContext(ctx, d.q("SELECT COUNT(*) FROM dhcp4_shared_network WHERE name = ?"), key).Scan(&n); err != nil {
			return 0, "", nil, err
		}
		if n == 0 {
			return 0, "", nil, fmt.Errorf("no shared network named '%v'", key)
		}
		return scopeNetwork, "shared_network_name = ?", key, nil
	case "pool":
		first, last, err := poolRange(fmt.Sprint(key), d.v6)
		if err != nil {
			return 0, "", nil, err
		}
		var id int64
		err = tx.QueryRowContext(ctx, d.q("SELECT id FROM dhcp4_pool WHERE start_address = "+d.addrIn()+" AND end_address = "+d.addrIn()),
			first.String(), last.String()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, "", nil, fmt.Errorf("no pool %v", key)
		}
		if err != nil {
			return 0, "", nil, err
		}
		return scopePool, "pool_id = ?", id, nil
	case "pd-pool":
		p, err := netip.ParsePrefix(fmt.Sprint(key))
		if err != nil || !d.v6 {
			return 0, "", nil, fmt.Errorf("pd-pool %v: not an IPv6 prefix", key)
		}
		var id int64
		err = tx.QueryRowContext(ctx, d.q("SELECT id FROM dhcp6_pd_pool WHERE prefix = ? AND prefix_length = ?"),
			p.Addr().String(), p.Bits()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, "", nil, fmt.Errorf("no pd-pool %v", key)
		}
		if err != nil {
			return 0, "", nil, err
		}
		return scopePDPool, "pd_pool_id = ?", id, nil
	}
	return 0, "", nil, fmt.Errorf("unknown option scope %s", scope)
}
