package pgsql

import (
	"context"
	"fmt"
)

// WriteLogs inserts forensic records into Kea's logs table (the forensic
// log's database output): one statement, so all of them or none.
func (d *Dialect) WriteLogs(ctx context.Context, addrs, texts []string) error {
	if len(addrs) != len(texts) {
		return fmt.Errorf("logs: %d addresses for %d records", len(addrs), len(texts))
	}
	if len(addrs) == 0 {
		return nil
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO logs(address, log) SELECT * FROM unnest($1::varchar[], $2::text[])`, addrs, texts)
	if err != nil {
		return fmt.Errorf("insert into logs: %w", err)
	}
	return nil
}
