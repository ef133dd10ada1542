package configdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SetServer creates or updates a server (remote-server4-set).
func (d *DB) SetServer(ctx context.Context, tag, description string) error {
	if tag == "" || tag == TagAll {
		return fmt.Errorf("server-tag %q cannot be set: it is reserved", tag)
	}
	return d.tx(ctx, TagAll, "server set", false, func(tx *sql.Tx) error {
		now := time.Now().UTC().Truncate(time.Second)
		res, err := tx.ExecContext(ctx, d.q("UPDATE dhcp4_server SET description = ?, modification_ts = ? WHERE tag = ?"), description, now, tag)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, d.q("INSERT INTO dhcp4_server (tag, description, modification_ts) VALUES (?, ?, ?)"), tag, description, now)
		return err
	})
}

// Servers returns the servers (without "all") as tag → description.
func (d *DB) Servers(ctx context.Context, tag string) ([]Object, error) {
	q := "SELECT tag, description FROM dhcp4_server WHERE tag <> 'all'"
	var args []any
	if tag != "" {
		q += " AND tag = ?"
		args = append(args, tag)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q+" ORDER BY tag"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Object{}
	for rows.Next() {
		var t string
		var desc sql.NullString
		if err := rows.Scan(&t, &desc); err != nil {
			return nil, err
		}
		out = append(out, Object{"server-tag": t, "description": desc.String})
	}
	return out, rows.Err()
}

// DelServer deletes a server and the objects only it had.
func (d *DB) DelServer(ctx context.Context, tag string) (int64, error) {
	if tag == TagAll {
		return 0, errors.New("the server tag 'all' cannot be deleted")
	}
	return d.txCount(ctx, TagAll, "server deleted", true, func(tx *sql.Tx) (int64, error) {
		return affected(tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_server WHERE tag = ?"), tag))
	})
}

// Kea's parameter_data_type numbering (its Element types).
const (
	paramInteger = 0
	paramReal    = 1
	paramBoolean = 2
	paramString  = 4
)

// SetGlobals writes global parameters for one server tag
// (remote-global-parameter4-set), values stored as Kea's StampedValue
// text: booleans 1/0, reals with a decimal point.
func (d *DB) SetGlobals(ctx context.Context, tag string, params Object) error {
	return d.tx(ctx, tag, "global parameter set", false, func(tx *sql.Tx) error {
		ids, err := d.serverIDs(ctx, tx, []string{tag})
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Second)
		for name, v := range params {
			var text string
			var typ int
			switch x := v.(type) {
			case string:
				text, typ = x, paramString
			case bool:
				text, typ = "0", paramBoolean
				if x {
					text = "1"
				}
			case json.Number:
				if _, err := x.Int64(); err == nil {
					text, typ = x.String(), paramInteger
				} else if f, err := x.Float64(); err == nil {
					text, typ = strconv.FormatFloat(f, 'g', -1, 64), paramReal
					if !strings.ContainsAny(text, ".e") {
						text += ".0"
					}
				} else {
					return fmt.Errorf("%s: %s is not a number", name, x)
				}
			default:
				return fmt.Errorf("%s: only strings, numbers and booleans are global parameters of the configuration backend", name)
			}
			// The parameter for this server is replaced.
			if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM dhcp4_global_parameter WHERE name = ? AND id IN
 (SELECT parameter_id FROM dhcp4_global_parameter_server WHERE server_id = ?)`), name, ids[0]); err != nil {
				return err
			}
			id, err := d.insertID(ctx, tx, "INSERT INTO dhcp4_global_parameter (name, value, modification_ts, parameter_type) VALUES (?, ?, ?, ?)",
				"id", []any{name, text, now, typ})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := d.attach(ctx, tx, "dhcp4_global_parameter_server", "parameter_id", id, []string{tag}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Globals returns the global parameters of tag (and of "all" when
// withAll), the server's own value winning, each with the tag it came
// from. names filters (nil: all).
func (d *DB) Globals(ctx context.Context, tag string, withAll bool, names []string) (Object, map[string]string, error) {
	tags := []any{tag}
	if withAll && tag != TagAll {
		tags = append(tags, TagAll)
	}
	q := `SELECT g.name, g.value, g.parameter_type, v.tag FROM dhcp4_global_parameter g
 JOIN dhcp4_global_parameter_server a ON a.parameter_id = g.id JOIN dhcp4_server v ON v.id = a.server_id
 WHERE v.tag IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(tags)), ", ") + `) ORDER BY g.id`
	rows, err := d.db.QueryContext(ctx, d.q(q), tags...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out, from := Object{}, map[string]string{}
	for rows.Next() {
		var name, value, t string
		var typ int
		if err := rows.Scan(&name, &value, &typ, &t); err != nil {
			return nil, nil, err
		}
		if len(names) > 0 && !contains(names, name) {
			continue
		}
		if prev, ok := from[name]; ok && prev != TagAll && t == TagAll {
			continue
		}
		var v any
		switch typ {
		case paramInteger:
			if _, err := strconv.ParseInt(value, 10, 64); err != nil {
				return nil, nil, fmt.Errorf("global parameter %s: %q is not an integer", name, value)
			}
			v = json.Number(value)
		case paramReal:
			if _, err := strconv.ParseFloat(value, 64); err != nil {
				return nil, nil, fmt.Errorf("global parameter %s: %q is not a real", name, value)
			}
			v = json.Number(value)
		case paramBoolean:
			switch value {
			case "1", "true":
				v = true
			case "0", "false":
				v = false
			default:
				return nil, nil, fmt.Errorf("global parameter %s: %q is not a boolean", name, value)
			}
		case paramString:
			v = value
		default:
			return nil, nil, fmt.Errorf("global parameter %s: unknown type %d", name, typ)
		}
		out[name], from[name] = v, t
	}
	return out, from, rows.Err()
}

// DelGlobals deletes global parameters of one server tag.
func (d *DB) DelGlobals(ctx context.Context, tag string, names []string) (int64, error) {
	var n int64
	err := d.tx(ctx, tag, "global parameter deleted", false, func(tx *sql.Tx) error {
		for _, name := range names {
			res, err := tx.ExecContext(ctx, d.q(`DELETE FROM dhcp4_global_parameter WHERE name = ? AND id IN
 (SELECT a.parameter_id FROM dhcp4_global_parameter_server a JOIN dhcp4_server v ON v.id = a.server_id WHERE v.tag = ?)`), name, tag)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// SetGlobalOption writes a global option for tags
// (remote-option4-global-set), replacing the same code and space.
func (d *DB) SetGlobalOption(ctx context.Context, tags []string, o Object) error {
	code, space, err := optionKey(o, d.v6)
	if err != nil {
		return err
	}
	return d.tx(ctx, tags[0], "global option set", false, func(tx *sql.Tx) error {
		if _, err := d.delGlobalOption(ctx, tx, tags, code, space); err != nil {
			return err
		}
		return d.insertOption(ctx, tx, o, scopeGlobal, nil, nil, nil, nil, tags)
	})
}

func (d *DB) delGlobalOption(ctx context.Context, tx *sql.Tx, tags []string, code int, space string) (int64, error) {
	where, args := serverFilter("dhcp4_options_server", "option_id", "dhcp4_options.option_id", tags)
	return affected(tx.ExecContext(ctx, d.q("DELETE FROM dhcp4_options WHERE scope_id = 0 AND code = ? AND space = ? AND "+where),
		append([]any{code, space}, args...)...))
}

// DelGlobalOption deletes a global option of tags.
func (d *DB) DelGlobalOption(ctx context.Context, tags []string, code int, space string) (int64, error) {
	return d.txCount(ctx, tags[0], "global option deleted", false, func(tx *sql.Tx) (int64, error) {
		return d.delGlobalOption(ctx, tx, tags, code, space)
	})
}

// GlobalOptions returns the global options of tags; with several tags
// the first tag's option wins over the later ones' of the same code.
func (d *DB) GlobalOptions(ctx context.Context, tags []string) ([]any, error) {
	out := []any{}
	seen := map[string]bool{}
	for _, t := range tags {
		where, args := serverFilter("dhcp4_options_server", "option_id", "o.option_id", []string{t})
		rows, err := d.readOptions(ctx, d.db, "o.scope_id = 0 AND "+where, args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			k := fmt.Sprint(r.code, "/", r.space.String)
			if seen[k] {
				continue
			}
			seen[k] = true
			o, err := r.json(d.v6)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}
