package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// logsChunk bounds the rows of one INSERT, so that a statement stays far
// below max_allowed_packet (a record is a few hundred bytes).
const logsChunk = 1000

// WriteLogs inserts forensic records into Kea's logs table (the forensic
// log's database output) in one transaction: all of them or none.
func (d *Dialect) WriteLogs(ctx context.Context, addrs, texts []string) error {
	if len(addrs) != len(texts) {
		return fmt.Errorf("logs: %d addresses for %d records", len(addrs), len(texts))
	}
	if len(addrs) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("insert into logs: %w", err)
	}
	defer tx.Rollback()
	var q strings.Builder
	args := make([]any, 0, 2*min(len(addrs), logsChunk))
	for from := 0; from < len(addrs); from += logsChunk {
		to := min(from+logsChunk, len(addrs))
		q.Reset()
		q.WriteString("INSERT INTO logs(address, log) VALUES ")
		args = args[:0]
		for i := from; i < to; i++ {
			if i > from {
				q.WriteByte(',')
			}
			q.WriteString("(?,?)")
			args = append(args, addrs[i], texts[i])
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert into logs: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert into logs: commit: %w", err)
	}
	return nil
}
