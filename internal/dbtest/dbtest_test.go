package dbtest

import (
	"strings"
	"testing"
)

// MariaDB's servers are exercised by the MySQL lease store's tests
// (lease/mysql): starting one here too would only cost time.
var pg = NewLazy(Postgres, Options{})

func TestMain(m *testing.M) { Main(m, pg) }

// Each server starts, hands out databases carrying Kea's schema at the
// version kea-admin 2.2 creates, owned by their own account, and keeps
// them apart.
func TestServers(t *testing.T) {
	for _, tc := range []struct {
		lazy    *Lazy
		version string
		query   string
	}{
		{pg, "13.0", "SELECT version || '.' || minor FROM schema_version"},
	} {
		t.Run(string(tc.lazy.kind), func(t *testing.T) {
			srv := tc.lazy.Get(t)
			a, b := srv.NewDB(t), srv.NewDB(t)
			if a.Name == b.Name {
				t.Fatalf("two databases share the name %s", a.Name)
			}
			out, err := a.Exec(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) != tc.version {
				t.Fatalf("schema version %q, want %q (kea-admin 2.2)", out, tc.version)
			}
			if _, err := a.Exec("INSERT INTO lease4 (address, hwaddr, valid_lifetime, expire, subnet_id, state) VALUES (167772161, '\\x01', 3600, '2030-01-01 00:00:00', 1, 0)"); err != nil {
				t.Fatal(err)
			}
			for db, want := range map[*DB]string{&a: "1", &b: "0"} {
				out, err := db.Exec("SELECT COUNT(*) FROM lease4")
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(out) != want {
					t.Errorf("%s holds %s leases, want %s", db.Name, out, want)
				}
			}
		})
	}
}
