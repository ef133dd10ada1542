package memfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// maxLineLen bounds one lease-file line. Kea has no such limit, but a line
// this long is garbage, and the bound keeps a corrupt file from costing
// unbounded memory.
const maxLineLen = 1 << 20

// maxLoggedRowErrors caps per-row warnings per file so a broken file does
// not flood the log; the total is logged at the end.
const maxLoggedRowErrors = 20

// loadResult describes one loaded lease file.
type loadResult struct {
	exists   bool
	columns  int   // header column count, 0 for an empty file
	current  int   // column count of the current schema
	rows     int   // rows applied
	bad      int   // rows rejected
	size     int64 // bytes in the file
	goodSize int64 // bytes up to the end of the last complete line
	torn     bool  // the file ends in a line without a newline
	// lastRow is the last complete line after the header, with its
	// newline (nil if none): storage fault recovery appends it again.
	lastRow []byte
}

// needsConversion reports whether the file was written with another schema
// and so has to be rewritten by LFC (as Kea does).
func (r *loadResult) needsConversion() bool {
	return r.exists && r.columns != 0 && r.columns != r.current
}

// rowErrors counts bad rows across the files of one load, to enforce
// max-row-errors over the whole load as Kea does per loader call.
type rowErrors struct {
	max   int
	count int
}

// rowFormat describes one lease file format: its columns in order (the
// current schema) and the fewest columns a file may have (the oldest
// schema Kea still reads).
type rowFormat struct {
	header     string
	columns    []string
	minColumns int
}

// parseHeader checks a lease file header and returns its column count.
// Kea's VersionedCSVFile accepts any prefix of the current columns that
// reaches the oldest schema, and a header with extra trailing columns
// written by a newer Kea (they are dropped, a "downgrade").
func (f *rowFormat) parseHeader(line []byte) (int, error) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	names := bytes.Split(line, []byte{','})
	if len(names) < f.minColumns {
		return 0, fmt.Errorf("header has %d columns, need at least %d (%s)", len(names), f.minColumns, f.header)
	}
	for i := 0; i < len(names) && i < len(f.columns); i++ {
		if string(names[i]) != f.columns[i] {
			return 0, fmt.Errorf("header column %d is %q, want %q", i+1, names[i], f.columns[i])
		}
	}
	return len(names), nil
}

// rowSink is where a loader puts the rows it reads.
type rowSink interface {
	format() *rowFormat
	// apply parses a row, split into its first n columns (n is within the
	// format's bounds; fields has a slot per current column), and applies
	// it: the lease replaces any at its address, or a valid lifetime of 0
	// removes the address.
	apply(fields [][]byte, n int) error
	// len is the number of leases held.
	len() int
}

// loadFile reads a lease file into x: the last row per address wins and a
// row with valid_lifetime 0 removes the address. A missing file is not an
// error. A last line without its newline (a torn append) is ignored.
func loadFile(path string, x rowSink, errs *rowErrors, log *slog.Logger) (loadResult, error) {
	var res loadResult
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("open lease file %s: %w", path, err)
	}
	defer f.Close()
	res.exists = true
	res, err = loadReader(f, path, x, errs, log)
	res.exists = true
	return res, err
}

func loadReader(rd io.Reader, path string, x rowSink, errs *rowErrors, log *slog.Logger) (loadResult, error) {
	var (
		res    loadResult
		r      = bufio.NewReaderSize(rd, 256<<10)
		long   []byte
		lineNo int
		format = x.format()
		fields = make([][]byte, len(format.columns))
	)
	res.current = len(format.columns)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Rare: a line longer than the buffer. Collect it, up to a bound.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				if len(long) <= maxLineLen {
					long = append(long, line...)
				}
			}
			line = long
		}
		res.size += int64(len(line))
		if err != nil && !errors.Is(err, io.EOF) {
			return res, fmt.Errorf("read lease file %s: %w", path, err)
		}
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		if !complete {
			if len(line) > 0 {
				res.torn = true
				if lineNo == 0 && bytes.HasPrefix([]byte(format.header), line) {
					// A crash while writing the header of a fresh file.
					log.Warn("lease file has a torn header; treating it as empty",
						"path", path)
					return res, nil
				}
				if lineNo == 0 {
					return res, fmt.Errorf("lease file %s: first line is not a lease file header", path)
				}
				log.Warn("ignoring torn last line of lease file (no newline; an interrupted append)",
					"path", path, "line", lineNo+1, "bytes", len(line))
			}
			break
		}
		res.goodSize = res.size
		lineNo++
		line = line[:len(line)-1]
		if lineNo == 1 {
			n, err := format.parseHeader(line)
			if err != nil {
				return res, fmt.Errorf("lease file %s: %w", path, err)
			}
			res.columns = n
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		res.lastRow = append(append(res.lastRow[:0], line...), '\n')
		var rowErr error
		if len(line) > maxLineLen {
			rowErr = fmt.Errorf("%w: longer than %d bytes", ErrBadRow, maxLineLen)
		} else if n := splitRow(line, fields); n != res.columns {
			rowErr = fmt.Errorf("%w: %d columns, header has %d", ErrBadRow, n, res.columns)
		} else {
			rowErr = x.apply(fields, min(n, len(fields)))
		}
		if rowErr != nil {
			res.bad++
			errs.count++
			if res.bad <= maxLoggedRowErrors {
				log.Warn("skipping bad lease row", "path", path, "line", lineNo, "err", rowErr)
			}
			if errs.max > 0 && errs.count > errs.max {
				return res, fmt.Errorf("lease file %s: more than max-row-errors (%d) bad rows, last at line %d: %w",
					path, errs.max, lineNo, rowErr)
			}
			continue
		}
		res.rows++
	}
	if res.bad > maxLoggedRowErrors {
		log.Warn("bad lease rows skipped", "path", path, "count", res.bad)
	}
	return res, nil
}
