// Package legallog is forensic logging as Kea's libdhcp_legal_log.so does
// it: one line per lease assigned, renewed, released or declined, in Kea's
// default format or built from the configured expressions, in files named
// and rotated as Kea names and rotates them. Unlike Kea, a record formatted
// before its lease is committed is written and fdatasync'ed in the lease's
// group commit (see Log.WriteRecords), so no ACK leaves before its record
// is durable. With a database output ("type": "mysql" or "postgresql") the
// records are rows of Kea's logs table, committed in the same discipline
// (see db.go).
package legallog

import (
	"encoding/json"
	"fmt"
	"math"

	"xdhcp/config/classify"
	"xdhcp/internal/uring"
)

// Library is the hooks-libraries file name that selects forensic logging.
const Library = "libdhcp_legal_log.so"

// TimeUnit is the rotation period's unit.
type TimeUnit uint8

const (
	Day TimeUnit = iota
	Second
	Month
	Year
)

// Params are the library's parameters, by Kea's names.
type Params struct {
	// RingGate, when set, holds the log's io_uring syncs back until it
	// opens (see uring.Gate); it is not a library parameter.
	RingGate   *uring.Gate
	Path       string // "path": the directory of the files
	BaseName   string // "base-name"
	Unit       TimeUnit
	Count      uint32 // "count": rotation period in Units; 0 never rotates
	Prerotate  string // script run with the closed file's name
	Postrotate string // script run with the new file's name
	// Request and Response are request-parser-format and
	// response-parser-format; either replaces Kea's default line.
	Request, Response *classify.StringExpr
	// TimestampFormat is strftime(3) plus %Q.
	TimestampFormat string
	// DurableBeforeReply ("durable-before-reply", default false; not a
	// Kea parameter) decides what the replies of records written outside
	// a lease commit wait for: renewals answered from the fast path's
	// cache or by lease reuse, and every record of response-parser-format.
	// Such a renewal changes no lease; the record of the lease it repeats
	// was made durable with that lease. By default the reply waits until
	// the record is written (a crash of the process loses none) and the
	// record is synced within syncInterval (a power loss may lose those of
	// that last interval). True holds the reply until the record is
	// durable too, at a device write per receive batch.
	DurableBeforeReply bool
	// Type is the output: "logfile" (the default), or a database, "mysql"
	// or "postgresql", whose connection parameters (Kea's lease-database
	// names: name, host, port, user, password, …) the caller reads from
	// Raw, the entry's parameters, and gives to OpenDB as a RowWriter.
	Type string
	Raw  json.RawMessage
}

// IsDatabase reports whether the records go to a database's logs table.
func (p Params) IsDatabase() bool { return p.Type == "mysql" || p.Type == "postgresql" }

// Defaults of Kea's legal log.
const (
	DefaultPath            = "/var/lib/kea"
	DefaultBaseName        = "kea-legal"
	DefaultTimestampFormat = "%Y-%m-%d %H:%M:%S %Z"
)

// ParseParams reads a hooks-libraries entry's parameters (nil: none).
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{Path: DefaultPath, BaseName: DefaultBaseName, Count: 1, TimestampFormat: DefaultTimestampFormat,
		Type: "logfile", Raw: raw}
	var in struct {
		Path       *string  `json:"path"`
		BaseName   *string  `json:"base-name"`
		TimeUnit   *string  `json:"time-unit"`
		Count      *float64 `json:"count"`
		Prerotate  *string  `json:"prerotate"`
		Postrotate *string  `json:"postrotate"`
		Request    *string  `json:"request-parser-format"`
		Response   *string  `json:"response-parser-format"`
		Timestamp  *string  `json:"timestamp-format"`
		Type       *string  `json:"type"`
		Durable    *bool    `json:"durable-before-reply"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return p, fmt.Errorf("%s parameters: %w", Library, err)
		}
	}
	if in.Type != nil {
		switch *in.Type {
		case "logfile", "mysql", "postgresql":
			p.Type = *in.Type
		default:
			return p, fmt.Errorf("%s: type %q: expected logfile, mysql or postgresql", Library, *in.Type)
		}
	}
	if in.Durable != nil {
		p.DurableBeforeReply = *in.Durable
	}
	if in.Path != nil {
		p.Path = *in.Path
	}
	if in.BaseName != nil {
		p.BaseName = *in.BaseName
	}
	if p.Path == "" {
		return p, fmt.Errorf("%s: path cannot be blank", Library)
	}
	if p.BaseName == "" {
		return p, fmt.Errorf("%s: file name cannot be blank", Library)
	}
	if in.TimeUnit != nil {
		switch *in.TimeUnit {
		case "second":
			p.Unit = Second
		case "day":
			p.Unit = Day
		case "month":
			p.Unit = Month
		case "year":
			p.Unit = Year
		default:
			return p, fmt.Errorf("%s: unknown time unit type: %s, expected one of: second, day, month, year", Library, *in.TimeUnit)
		}
	}
	if in.Count != nil {
		c := *in.Count
		if c != math.Trunc(c) || c < 0 || c > math.MaxUint32 {
			return p, fmt.Errorf("%s: count value: %v is out of range, expected value: 0..%d", Library, c, uint32(math.MaxUint32))
		}
		p.Count = uint32(c)
	}
	if in.Prerotate != nil {
		p.Prerotate = *in.Prerotate
	}
	if in.Postrotate != nil {
		p.Postrotate = *in.Postrotate
	}
	for _, x := range []struct {
		src  *string
		dst  **classify.StringExpr
		name string
	}{{in.Request, &p.Request, "request-parser-format"}, {in.Response, &p.Response, "response-parser-format"}} {
		if x.src == nil || *x.src == "" {
			continue
		}
		e, err := classify.CompileString(*x.src)
		if err != nil {
			return p, fmt.Errorf("%s: %s: %w", Library, x.name, err)
		}
		*x.dst = e
	}
	if in.Timestamp != nil && *in.Timestamp != "" {
		p.TimestampFormat = *in.Timestamp
	}
	return p, nil
}
