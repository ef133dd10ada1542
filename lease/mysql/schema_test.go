package mysql

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"xdhcp/internal/dbtest"
	"xdhcp/lease/sqllease"
	"xdhcp/lease/sqllease/sqltest"
)

// schemaHeader opens schema.mysql.
const schemaHeader = `-- Kea 2.2's MySQL schema (version 14.0) as kea-admin db-init mysql
-- leaves a database: tables, indexes, triggers, procedures and functions,
-- and the rows of its lookup tables. The schema is ISC's, from Kea 2.2,
-- under the Mozilla Public License 2.0 (https://mozilla.org/MPL/2.0/).
--
-- Generated, do not edit: XDHCP_SCHEMA_GENERATE=1 go test -run TestSchemaMatchesKeaAdmin ./lease/mysql
-- runs kea-admin db-init on a fresh database and dumps the result here
-- (mariadb-dump, then without definers, character sets the server's
-- defaults decide, and the dump's own session settings). Tables, rows,
-- then triggers and routines, each created as the connecting account with
-- the server's defaults, as kea-admin's script does.
`

// TestSchemaMatchesKeaAdmin: db-init of this package and kea-admin
// db-init mysql, each on a fresh database, leave the same catalog.
func TestSchemaMatchesKeaAdmin(t *testing.T) {
	sqltest.CompareWithKeaAdmin(t, sqltest.SchemaCheck{
		Server:   server,
		Version:  "14.0",
		Open:     func(ctx context.Context, p sqllease.Params) (sqltest.Schema, error) { return Open(ctx, p) },
		Catalog:  catalog,
		Generate: generateSchema,
	})
}

// catalog lists what the schema consists of, one sorted text per kind of
// object, in terms that do not depend on the database's name, the
// definer or the order of creation.
func catalog(t *testing.T, db dbtest.DB) map[string]string {
	t.Helper()
	q := map[string]string{
		"tables": `SELECT table_name, table_type, engine, table_collation, create_options FROM information_schema.tables
			WHERE table_schema = DATABASE() ORDER BY 1`,
		"columns": `SELECT table_name, ordinal_position, column_name, column_type, is_nullable, coalesce(column_default, 'NULL'),
			extra, coalesce(collation_name, '') FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY 1, 2`,
		"indexes": `SELECT table_name, index_name, seq_in_index, column_name, non_unique, index_type FROM information_schema.statistics
			WHERE table_schema = DATABASE() ORDER BY 1, 2, 3`,
		"foreign keys": `SELECT table_name, constraint_name, referenced_table_name, update_rule, delete_rule
			FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE() ORDER BY 1, 2`,
		"key columns": `SELECT table_name, constraint_name, column_name, ordinal_position, coalesce(referenced_column_name, '')
			FROM information_schema.key_column_usage WHERE table_schema = DATABASE() ORDER BY 1, 2, 4`,
		"triggers": `SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_order, md5(action_statement),
			sql_mode, character_set_client, collation_connection FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1, 2`,
		"routines": `SELECT routine_name, routine_type, coalesce(dtd_identifier, ''), md5(routine_definition), is_deterministic,
			sql_data_access, security_type, sql_mode, character_set_client, collation_connection
			FROM information_schema.routines WHERE routine_schema = DATABASE() ORDER BY 1`,
		"parameters": `SELECT specific_name, ordinal_position, coalesce(parameter_mode, ''), coalesce(parameter_name, ''), dtd_identifier
			FROM information_schema.parameters WHERE specific_schema = DATABASE() ORDER BY 1, 2`,
		"schema_version": `SELECT version, minor FROM schema_version`,
	}
	// The rows of every table (a fresh schema holds only lookup rows).
	cols, err := db.Exec(`SELECT table_name, group_concat(concat('coalesce(` + "`" + `', column_name, '` + "`" + `, ''NULL'')') ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = DATABASE() GROUP BY table_name ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(cols, "\n") {
		tb, list, _ := strings.Cut(line, "\t")
		rows = append(rows, fmt.Sprintf("SELECT '%s', concat_ws('|', %s) FROM `%s`", tb, list, tb))
	}
	q["rows"] = strings.Join(rows, " UNION ALL ") + " ORDER BY 1, 2"
	out := map[string]string{}
	for k, sql := range q {
		s, err := db.Exec(sql)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = stampRE.ReplaceAllString(s, "<time>")
	}
	return out
}

// stampRE matches a time of day in rows: when the schema was created.
var stampRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?`)

// generateSchema writes schema.mysql from the database kea-admin made.
func generateSchema(t *testing.T, db dbtest.DB) {
	out, err := exec.Command("mariadb-dump", "--no-defaults", "-h", db.Host(), "-P", strconv.Itoa(db.Port()), "-u", db.User,
		"-p"+db.Password, "--routines", "--triggers", "--skip-lock-tables", "--skip-comments", "--skip-extended-insert",
		"--skip-add-drop-table", "--skip-add-locks", "--skip-disable-keys", "--skip-set-charset", "--skip-tz-utc", db.Name).Output()
	if err != nil {
		t.Fatalf("mariadb-dump: %v", err)
	}
	stmts, err := Statements(string(out))
	if err != nil {
		t.Fatal(err)
	}
	var tables, inserts, code []string
	definer := regexp.MustCompile("(/\\*!50017 )?DEFINER=`[^`]*`@`[^`]*`(\\*/)? ?")
	tableCharset := regexp.MustCompile(` DEFAULT CHARSET=\w+( COLLATE=\w+)?`)
	returnsCharset := regexp.MustCompile(` CHARSET \w+ COLLATE \w+`)
	for _, s := range stmts {
		switch {
		case strings.HasPrefix(s, "CREATE TABLE"):
			tables = append(tables, tableCharset.ReplaceAllString(s, ""))
		case strings.HasPrefix(s, "INSERT INTO"):
			inserts = append(inserts, s)
		case strings.HasPrefix(s, "/*!50003 CREATE*/"):
			// A trigger: /*!50003 CREATE*/ /*!50017 DEFINER=…*/ /*!50003 TRIGGER … */
			s = definer.ReplaceAllString(s, "")
			s = strings.Replace(s, "/*!50003 CREATE*/ /*!50003 TRIGGER", "CREATE TRIGGER", 1)
			code = append(code, strings.TrimSpace(strings.TrimSuffix(s, "*/")))
		case strings.HasPrefix(s, "CREATE DEFINER="):
			// A procedure or function; the character set of a function's
			// result is the server's default, as in Kea's script.
			s = definer.ReplaceAllString(s, "")
			first, rest, _ := strings.Cut(s, "\n")
			code = append(code, returnsCharset.ReplaceAllString(first, "")+"\n"+rest)
		case strings.HasPrefix(s, "/*") || strings.HasPrefix(s, "SET "):
			// The dump's session settings and restores.
		default:
			t.Fatalf("a statement of the dump the generator does not know: %.200s", s)
		}
	}
	var b strings.Builder
	b.WriteString(schemaHeader)
	b.WriteString("\nSET FOREIGN_KEY_CHECKS = 0;\n\n")
	for _, s := range tables {
		b.WriteString(s + ";\n\n")
	}
	// Lookup rows with id 0 keep it.
	b.WriteString("SET @xdhcp_sql_mode = @@SESSION.sql_mode;\n")
	b.WriteString("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_AUTO_VALUE_ON_ZERO');\n")
	for _, s := range inserts {
		if strings.Contains(s, "modification_ts") || strings.HasPrefix(s, "INSERT INTO `dhcp4_server`") || strings.HasPrefix(s, "INSERT INTO `dhcp6_server`") {
			s = regexp.MustCompile(`'`+stampRE.String()+`'`).ReplaceAllString(s, "NOW()")
		}
		b.WriteString(s + ";\n")
	}
	b.WriteString("SET SESSION sql_mode = @xdhcp_sql_mode;\n")
	// Triggers and routines record the client's character set: the mysql
	// client kea-admin runs talks utf8 (utf8mb3) under a UTF-8 locale.
	b.WriteString("SET NAMES utf8;\n\nDELIMITER $$\n")
	for _, s := range code {
		b.WriteString("\n" + s + "\n$$\n")
	}
	b.WriteString("\nDELIMITER ;\n\nSET FOREIGN_KEY_CHECKS = 1;\n")
	if err := os.WriteFile("schema.mysql", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("schema.mysql written")
}
