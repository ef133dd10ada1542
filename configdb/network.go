package configdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SetNetwork creates or replaces a shared network and its options
// (remote-network4-set); its subnets are set with remote-subnet4-set.
func (d *DB) SetNetwork(ctx context.Context, tags []string, n Object) (string, error) {
	if err := checkKeys("shared network", n, d.networkColumns(), []string{"name", "option-data", "metadata"}); err != nil {
		return "", err
	}
	if _, has := n["subnet4"]; has {
		return "", errors.New("shared network: subnet4 is set with remote-subnet4-set")
	}
	name, _ := n["name"].(string)
	if name == "" {
		return "", errors.New("shared network: 'name' is mandatory")
	}
	names, args, err := columnArgs(d.networkColumns(), n)
	if err != nil {
		return "", fmt.Errorf("shared network %s: %w", name, err)
	}
	return name, d.tx(ctx, tags[0], "shared network set", true, func(tx *sql.Tx) error {
		now := time.Now().UTC().Truncate(time.Second)
		var id int64
		err := tx.QueryRowContext(ctx, d.q("SELECT id FROM dhcp4_shared_network WHERE name = ?"), name).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cols := append([]string{"name", "modification_ts"}, names...)
			vals := append([]string{"?", "?"}, d.placeholders(d.networkColumns())...)
			id, err = d.insertID(ctx, tx, "INSERT INTO dhcp4_shared_network ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(vals, ", ")+")",
				"id", append([]any{name, now}, args...))
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = 4 AND shared_network_name = ?"), name); err != nil {
				return err
			}
			sets := []string{"modification_ts = ?"}
			ph := d.placeholders(d.networkColumns())
			for i, c := range names {
				sets = append(sets, c+" = "+ph[i])
			}
			all := append(append([]any{now}, args...), id)
			if _, err := tx.ExecContext(ctx, d.q("UPDATE dhcp4_shared_network SET "+strings.Join(sets, ", ")+" WHERE id = ?"), all...); err != nil {
				return err
			}
		}
		if err := d.attach(ctx, tx, "dhcp4_shared_network_server", "shared_network_id", id, tags); err != nil {
			return err
		}
		opts, _ := n["option-data"].([]any)
		for _, o := range opts {
			om, ok := o.(map[string]any)
			if !ok {
				return errors.New("option-data: each entry must be a map")
			}
			if err := d.insertOption(ctx, tx, om, scopeNetwork, nil, nil, name, nil, tags); err != nil {
				return err
			}
		}
		return nil
	})
}

// DelNetwork deletes a shared network; its subnets are deleted too
// (subnets-action "delete") or kept as global subnets ("keep").
func (d *DB) DelNetwork(ctx context.Context, name string, deleteSubnets bool) (int64, error) {
	var n int64
	err := d.tx(ctx, TagAll, "shared network deleted", true, func(tx *sql.Tx) error {
		if deleteSubnets {
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_subnet WHERE shared_network_name = ?"), name); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_shared_network WHERE name = ?"), name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Networks returns the shared networks matching where (without their
// subnets).
func (d *DB) networkSelect(ctx context.Context, where string, args ...any) ([]Object, error) {
	sel := []string{"n.id", "n.name"}
	for _, c := range d.networkColumns() {
		sel = append(sel, c.sel(d, "n."))
	}
	rows, err := d.db.QueryContext(ctx, d.q("SELECT "+strings.Join(sel, ", ")+" FROM dhcp4_shared_network n WHERE "+where+" ORDER BY n.id"), args...)
	if err != nil {
		return nil, err
	}
	var out []Object
	var ids []int64
	func() {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			holders := []any{&id, &name}
			for _, c := range d.networkColumns() {
				holders = append(holders, c.holder())
			}
			if err = rows.Scan(holders...); err != nil {
				return
			}
			o := Object{"name": name}
			for i, c := range d.networkColumns() {
				v, verr := c.value(holders[2+i])
				if verr != nil {
					err = fmt.Errorf("shared network %s: %w", name, verr)
					return
				}
				if v != nil {
					o[c.key] = v
				}
			}
			out, ids = append(out, o), append(ids, id)
		}
		err = rows.Err()
	}()
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		opts, err := d.readOptions(ctx, d.db, "o.scope_id = 4 AND o.shared_network_name = ?", o["name"])
		if err != nil {
			return nil, err
		}
		if o["option-data"], err = d.optionList(opts); err != nil {
			return nil, err
		}
		tags, err := d.tagsOf(ctx, d.db, "dhcp4_shared_network_server", "shared_network_id", ids[i])
		if err != nil {
			return nil, err
		}
		o["metadata"] = map[string]any{"server-tags": tags}
	}
	return out, nil
}

// GetNetwork returns the shared network name, nil when none.
func (d *DB) GetNetwork(ctx context.Context, name string) (Object, error) {
	l, err := d.networkSelect(ctx, "n.name = ?", name)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return l[0], nil
}

// Networks returns the shared networks associated with any of tags.
func (d *DB) Networks(ctx context.Context, tags []string) ([]Object, error) {
	where, args := serverFilter("dhcp4_shared_network_server", "shared_network_id", "n.id", tags)
	return d.networkSelect(ctx, where, args...)
}

// SetClass creates or replaces a client class (remote-class4-set),
// placed after follow (or last when new and follow is empty).
func (d *DB) SetClass(ctx context.Context, tags []string, c Object, follow string) (string, error) {
	if err := checkKeys("client class", c, d.classColumns(), []string{"name", "test", "only-if-required", "option-data", "option-def", "metadata"}); err != nil {
		return "", err
	}
	name, _ := c["name"].(string)
	if name == "" {
		return "", errors.New("client class: 'name' is mandatory")
	}
	if defs, ok := c["option-def"].([]any); ok && len(defs) > 0 {
		return "", errors.New("client class: option-def inside a class is not stored by xdhcp's configuration backend")
	}
	test, _ := c["test"].(string)
	only, _ := c["only-if-required"].(bool)
	names, args, err := columnArgs(d.classColumns(), c)
	if err != nil {
		return "", fmt.Errorf("client class %s: %w", name, err)
	}
	var followArg any
	if follow != "" {
		followArg = follow
	}
	return name, d.tx(ctx, tags[0], "client class set", true, func(tx *sql.Tx) error {
		now := time.Now().UTC().Truncate(time.Second)
		var id int64
		err := tx.QueryRowContext(ctx, d.q("SELECT id FROM dhcp4_client_class WHERE name = ?"), name).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cols := append([]string{"name", "test", "only_if_required", "follow_class_name", "modification_ts"}, names...)
			vals := append([]string{"?", "?", "?", "?", "?"}, d.placeholders(d.classColumns())...)
			id, err = d.insertID(ctx, tx, "INSERT INTO dhcp4_client_class ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(vals, ", ")+")",
				"id", append([]any{name, test, only, followArg, now}, args...))
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = 2 AND dhcp_client_class = ?"), name); err != nil {
				return err
			}
			sets := []string{"test = ?", "only_if_required = ?", "follow_class_name = ?", "modification_ts = ?"}
			ph := d.placeholders(d.classColumns())
			for i, col := range names {
				sets = append(sets, col+" = "+ph[i])
			}
			all := append(append([]any{test, only, followArg, now}, args...), id)
			if _, err := tx.ExecContext(ctx, d.q("UPDATE dhcp4_client_class SET "+strings.Join(sets, ", ")+" WHERE id = ?"), all...); err != nil {
				return err
			}
		}
		if err := d.attach(ctx, tx, "dhcp4_client_class_server", "class_id", id, tags); err != nil {
			return err
		}
		opts, _ := c["option-data"].([]any)
		for _, o := range opts {
			om, ok := o.(map[string]any)
			if !ok {
				return errors.New("option-data: each entry must be a map")
			}
			if err := d.insertOption(ctx, tx, om, scopeClass, nil, nil, nil, name, tags); err != nil {
				return err
			}
		}
		return nil
	})
}

// DelClass deletes a client class.
func (d *DB) DelClass(ctx context.Context, name string) (int64, error) {
	var n int64
	err := d.tx(ctx, TagAll, "client class deleted", true, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = 2 AND dhcp_client_class = ?"), name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_client_class WHERE name = ?"), name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// classSelect reads client classes in their evaluation order.
func (d *DB) classSelect(ctx context.Context, where string, args ...any) ([]Object, error) {
	sel := []string{"c.id", "c.name", "c.test", "c.only_if_required"}
	for _, col := range d.classColumns() {
		sel = append(sel, col.sel(d, "c."))
	}
	rows, err := d.db.QueryContext(ctx, d.q("SELECT "+strings.Join(sel, ", ")+
		" FROM dhcp4_client_class c LEFT JOIN dhcp4_client_class_order ord ON ord.class_id = c.id WHERE "+where+" ORDER BY ord.order_index, c.id"), args...)
	if err != nil {
		return nil, err
	}
	var out []Object
	var ids []int64
	func() {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			var test sql.NullString
			var only bool
			holders := []any{&id, &name, &test, &only}
			for _, col := range d.classColumns() {
				holders = append(holders, col.holder())
			}
			if err = rows.Scan(holders...); err != nil {
				return
			}
			o := Object{"name": name}
			if test.String != "" {
				o["test"] = test.String
			}
			if only {
				o["only-if-required"] = true
			}
			for i, col := range d.classColumns() {
				v, verr := col.value(holders[4+i])
				if verr != nil {
					err = fmt.Errorf("client class %s: %w", name, verr)
					return
				}
				if v != nil {
					o[col.key] = v
				}
			}
			out, ids = append(out, o), append(ids, id)
		}
		err = rows.Err()
	}()
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		opts, err := d.readOptions(ctx, d.db, "o.scope_id = 2 AND o.dhcp_client_class = ?", o["name"])
		if err != nil {
			return nil, err
		}
		if len(opts) > 0 {
			if o["option-data"], err = d.optionList(opts); err != nil {
				return nil, err
			}
		}
		tags, err := d.tagsOf(ctx, d.db, "dhcp4_client_class_server", "class_id", ids[i])
		if err != nil {
			return nil, err
		}
		o["metadata"] = map[string]any{"server-tags": tags}
	}
	return out, nil
}

// GetClass returns the class name, nil when none.
func (d *DB) GetClass(ctx context.Context, name string) (Object, error) {
	l, err := d.classSelect(ctx, "c.name = ?", name)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return l[0], nil
}

// Classes returns the client classes associated with any of tags.
func (d *DB) Classes(ctx context.Context, tags []string) ([]Object, error) {
	where, args := serverFilter("dhcp4_client_class_server", "class_id", "c.id", tags)
	return d.classSelect(ctx, where, args...)
}
