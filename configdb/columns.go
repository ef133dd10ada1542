package configdb

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
)

// kind says how a JSON value is stored in a column.
type kind uint8

const (
	kString  kind = iota
	kInt          // integer column
	kBool         // tinyint(1) in MySQL, boolean in PostgreSQL
	kFloat        // float / double precision
	kAddr         // an IPv4 address: unsigned integer in MySQL, inet in PostgreSQL
	kJSON         // JSON text (user-context)
	kRelay        // relay {"ip-addresses": [...]} stored as a JSON list of addresses
	kList         // a JSON list of strings (require-client-classes)
	kReplace      // ddns-replace-client-name stored as Kea's enum number
	kBytes        // text stored as binary (interface-id: bytea, varbinary)
)

// column maps a Kea JSON key to a column of a configuration table.
type column struct {
	key, col string
	kind     kind
}

// networkColumns4 are the columns dhcp4_subnet and dhcp4_shared_network
// share, in Kea 2.2's schema.
var networkColumns4 = append([]column{
	{"boot-file-name", "boot_file_name", kString},
	{"match-client-id", "match_client_id", kBool},
	{"next-server", "next_server", kAddr},
	{"server-hostname", "server_hostname", kString},
	{"authoritative", "authoritative", kBool},
}, networkColumnsBoth...)

// networkColumns6 are the columns dhcp6_subnet and dhcp6_shared_network
// share.
var networkColumns6 = append([]column{
	{"preferred-lifetime", "preferred_lifetime", kInt},
	{"min-preferred-lifetime", "min_preferred_lifetime", kInt},
	{"max-preferred-lifetime", "max_preferred_lifetime", kInt},
	{"rapid-commit", "rapid_commit", kBool},
	{"interface-id", "interface_id", kBytes},
}, networkColumnsBoth...)

// networkColumnsBoth are the network columns of both families.
var networkColumnsBoth = []column{
	{"client-class", "client_class", kString},
	{"interface", "interface", kString},
	{"rebind-timer", "rebind_timer", kInt},
	{"relay", "relay", kRelay},
	{"renew-timer", "renew_timer", kInt},
	{"require-client-classes", "require_client_classes", kList},
	{"user-context", "user_context", kJSON},
	{"valid-lifetime", "valid_lifetime", kInt},
	{"calculate-tee-times", "calculate_tee_times", kBool},
	{"t1-percent", "t1_percent", kFloat},
	{"t2-percent", "t2_percent", kFloat},
	{"min-valid-lifetime", "min_valid_lifetime", kInt},
	{"max-valid-lifetime", "max_valid_lifetime", kInt},
	{"ddns-send-updates", "ddns_send_updates", kBool},
	{"ddns-override-no-update", "ddns_override_no_update", kBool},
	{"ddns-override-client-update", "ddns_override_client_update", kBool},
	{"ddns-replace-client-name", "ddns_replace_client_name", kReplace},
	{"ddns-generated-prefix", "ddns_generated_prefix", kString},
	{"ddns-qualifying-suffix", "ddns_qualifying_suffix", kString},
	{"reservations-global", "reservations_global", kBool},
	{"reservations-in-subnet", "reservations_in_subnet", kBool},
	{"reservations-out-of-pool", "reservations_out_of_pool", kBool},
	{"cache-threshold", "cache_threshold", kFloat},
	{"cache-max-age", "cache_max_age", kInt},
}

// classColumns are dhcp4_client_class's, besides name and test.
var classColumns4 = []column{
	{"next-server", "next_server", kAddr},
	{"server-hostname", "server_hostname", kString},
	{"boot-file-name", "boot_file_name", kString},
	{"valid-lifetime", "valid_lifetime", kInt},
	{"min-valid-lifetime", "min_valid_lifetime", kInt},
	{"max-valid-lifetime", "max_valid_lifetime", kInt},
	{"user-context", "user_context", kJSON},
}

// networkColumns6 are the columns dhcp6_subnet and dhcp6_shared_network
// share.

// classColumns6 are dhcp6_client_class's, besides name and test.
var classColumns6 = []column{
	{"valid-lifetime", "valid_lifetime", kInt},
	{"min-valid-lifetime", "min_valid_lifetime", kInt},
	{"max-valid-lifetime", "max_valid_lifetime", kInt},
	{"preferred-lifetime", "preferred_lifetime", kInt},
	{"min-preferred-lifetime", "min_preferred_lifetime", kInt},
	{"max-preferred-lifetime", "max_preferred_lifetime", kInt},
	{"user-context", "user_context", kJSON},
}

// networkColumns are the subnet and shared network columns of d's family.
func (d *DB) networkColumns() []column {
	if d.v6 {
		return networkColumns6
	}
	return networkColumns4
}

// classColumns are the client class columns of d's family.
func (d *DB) classColumns() []column {
	if d.v6 {
		return classColumns6
	}
	return classColumns4
}

// replaceModes are Kea's numbering of ddns-replace-client-name.
var replaceModes = []string{"never", "always", "when-present", "when-not-present"}

// arg turns a JSON value into the argument stored in c's column.
func (c column) arg(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() error { return fmt.Errorf("%s: %v is not a valid value", c.key, v) }
	switch c.kind {
	case kString, kAddr:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		return s, nil
	case kBytes:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		return []byte(s), nil
	case kInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		i, err := n.Int64()
		if err != nil {
			return nil, bad()
		}
		return i, nil
	case kFloat:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		f, err := n.Float64()
		if err != nil {
			return nil, bad()
		}
		return f, nil
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case kJSON:
		if _, ok := v.(map[string]any); !ok {
			return nil, bad()
		}
		b, _ := json.Marshal(v)
		return string(b), nil
	case kList:
		l, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		b, _ := json.Marshal(l)
		return string(b), nil
	case kRelay:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		addrs := []any{}
		if l, ok := m["ip-addresses"].([]any); ok {
			addrs = l
		} else if a, ok := m["ip-address"].(string); ok {
			addrs = []any{a}
		}
		b, _ := json.Marshal(addrs)
		return string(b), nil
	case kReplace:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		for i, m := range replaceModes {
			if m == s {
				return i, nil
			}
		}
		return nil, bad()
	}
	return nil, bad()
}

// sel is the column as selected (addresses as text).
func (c column) sel(d *DB, prefix string) string {
	if c.kind == kAddr {
		return d.addrOut(prefix + c.col)
	}
	return prefix + c.col
}

// holder returns what a row's value of c is scanned into.
func (c column) holder() any {
	switch c.kind {
	case kInt, kReplace:
		return new(sql.NullInt64)
	case kFloat:
		return new(sql.NullFloat64)
	case kBool:
		return new(sql.NullBool)
	default:
		return new(sql.NullString)
	}
}

// value turns a scanned holder back into the JSON value (nil: NULL, the
// key is left out).
func (c column) value(h any) (any, error) {
	switch v := h.(type) {
	case *sql.NullInt64:
		if !v.Valid {
			return nil, nil
		}
		if c.kind == kReplace {
			if v.Int64 < 0 || int(v.Int64) >= len(replaceModes) {
				return nil, fmt.Errorf("%s: %d is not a mode", c.col, v.Int64)
			}
			return replaceModes[v.Int64], nil
		}
		return json.Number(strconv.FormatInt(v.Int64, 10)), nil
	case *sql.NullFloat64:
		if !v.Valid {
			return nil, nil
		}
		// float columns (MySQL) hold single precision: round to what
		// was written.
		return json.Number(strconv.FormatFloat(float64(float32(v.Float64)), 'g', -1, 32)), nil
	case *sql.NullBool:
		if !v.Valid {
			return nil, nil
		}
		return v.Bool, nil
	case *sql.NullString:
		if !v.Valid {
			return nil, nil
		}
		switch c.kind {
		case kJSON:
			var m map[string]any
			if err := decode([]byte(v.String), &m); err != nil {
				return nil, fmt.Errorf("%s: %w", c.col, err)
			}
			return m, nil
		case kList:
			var l []any
			if err := decode([]byte(v.String), &l); err != nil {
				return nil, fmt.Errorf("%s: %w", c.col, err)
			}
			if len(l) == 0 {
				return nil, nil
			}
			return l, nil
		case kRelay:
			var l []any
			if err := decode([]byte(v.String), &l); err != nil {
				return nil, fmt.Errorf("%s: %w", c.col, err)
			}
			if len(l) == 0 {
				return nil, nil
			}
			return map[string]any{"ip-addresses": l}, nil
		}
		return v.String, nil
	}
	return nil, fmt.Errorf("%s: unexpected holder %T", c.col, h)
}

// decode is json.Unmarshal keeping numbers as json.Number.
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
