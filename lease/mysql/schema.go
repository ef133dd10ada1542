package mysql

import (
	"bufio"
	"context"
	sqldriver "database/sql/driver"
	_ "embed"
	"fmt"
	"strings"

	"xdhcp/lease/sqllease"
)

// schemaSQL creates Kea 2.2's MySQL schema (leases, hosts, configuration
// backend, statistics, and their triggers and procedures) in an empty
// database: the state kea-admin db-init mysql leaves, as one script, so no
// Kea installation is needed to prepare a database. It is also a script
// the mysql/mariadb client loads as it is. TestSchemaMatchesKeaAdmin
// holds it to what kea-admin makes; see the file's header for how it is
// regenerated.
//
//go:embed schema.mysql
var schemaSQL string

// InitSchema creates Kea 2.2's schema in the database, which must hold no
// tables yet (as kea-admin db-init requires). MySQL commits each schema
// statement on its own: a failure part way leaves what was created, and
// the error says so.
func (d *Dialect) InitSchema(ctx context.Context) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()`).Scan(&n); err != nil {
		return fmt.Errorf("count the database's tables: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("the database already holds %d tables: db-init needs an empty database (db-version tells an initialised one's version)", n)
	}
	stmts, err := Statements(schemaSQL)
	if err != nil {
		return err
	}
	for i, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create the schema: statement %d of %d (%.60q…): %w; the database now holds part of the schema: "+
				"drop and create it again before another db-init", i+1, len(stmts), s, err)
		}
	}
	// The script's session settings die with the connection.
	// (ErrBadConn makes database/sql close it rather than pool it.)
	_ = conn.Raw(func(any) error { return sqldriver.ErrBadConn })
	return nil
}

// SchemaVersion reads the schema_version row.
func (d *Dialect) SchemaVersion(ctx context.Context) (major, minor int, err error) {
	return sqllease.ReadVersion(ctx, d)
}

// Statements splits a script as the mysql client does: statements end
// with the delimiter (";" until a DELIMITER line changes it) at the end of
// a line; "--" comment lines between statements are skipped.
func Statements(script string) ([]string, error) {
	var out []string
	delim := ";"
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(script))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "-- ") || trimmed == "--" {
				continue
			}
			if f := strings.Fields(trimmed); len(f) == 2 && strings.EqualFold(f[0], "DELIMITER") {
				delim = f[1]
				continue
			}
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), delim); ok {
			cur.WriteString(body)
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
			continue
		}
		cur.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the schema script: %w", err)
	}
	if strings.TrimSpace(cur.String()) != "" {
		return nil, fmt.Errorf("the schema script ends inside a statement (delimiter %q)", delim)
	}
	return out, nil
}
