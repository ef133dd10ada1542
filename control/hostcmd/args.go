package hostcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"xdhcp/host"
	"xdhcp/lease/leasejson"
)

// args are the arguments of one reservation command, parsed with Kea
// 2.2's rules and error texts.
type args struct {
	subnet    uint32
	hasSubnet bool
	byAddr    bool
	addr      netip.Addr
	idType    host.IDType
	id        []byte
	limit     int
	source    int
	from      uint64
	hostname  string
}

var errNotMap = errors.New("Parameters missing or are not a map.")

// argMap decodes the arguments object; nil arguments are errNotMap.
func argMap(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, errNotMap
	}
	return m, nil
}

// jsonInt reads an integer argument; ok is false when it is not one.
func jsonInt(raw json.RawMessage) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	return v, err == nil
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// subnetArg reads a mandatory subnet-id.
func subnetArg(m map[string]json.RawMessage) (uint32, error) {
	raw, ok := m["subnet-id"]
	if !ok {
		return 0, errors.New("Mandatory 'subnet-id' parameter missing.")
	}
	v, ok := jsonInt(raw)
	if !ok {
		return 0, errors.New("'subnet-id' parameter is not integer.")
	}
	if v < 0 || v >= math.MaxUint32 {
		return 0, fmt.Errorf("out of range value (%d) specified for parameter 'subnet-id'", v)
	}
	return uint32(v), nil
}

// optionalSubnet reads subnet-id where it may be left out.
func optionalSubnet(m map[string]json.RawMessage, a *args) error {
	if _, ok := m["subnet-id"]; !ok {
		return nil
	}
	v, err := subnetArg(m)
	a.subnet, a.hasSubnet = v, err == nil
	return err
}

// identifier reads identifier-type and identifier; prefix starts the
// texts of a missing one ("No 'ip-address' provided and " for
// reservation-get and -del).
func identifier(m map[string]json.RawMessage, prefix string, a *args) error {
	t, ok := jsonString(m["identifier-type"])
	if !ok {
		return fmt.Errorf("%s'identifier-type' is either missing or not a string.", prefix)
	}
	v, ok := jsonString(m["identifier"])
	if !ok {
		return fmt.Errorf("%s'identifier' is either missing or not a string.", prefix)
	}
	id, err := parseIdentifier(v)
	if err != nil {
		return errors.New("Unable to parse 'identifier' value.")
	}
	if len(id) == 0 {
		return errors.New("Unable to query for empty 'identifier'.")
	}
	it, ok := host.ParseIDType(t)
	if !ok {
		return errors.New("Value of 'identifier-type' was not recognized.")
	}
	a.idType, a.id = it, id
	return nil
}

// parseIdentifier reads an identifier as Kea does: 'quoted text' is the
// text's bytes, anything else hex (01:02:03, 010203, 0x010203).
func parseIdentifier(s string) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return []byte(s[1 : len(s)-1]), nil
	}
	return leasejson.ParseHex(s)
}

// getArgs parses reservation-get and reservation-del: subnet-id and
// either ip-address or identifier-type with identifier.
func getArgs(raw json.RawMessage) (args, error) {
	var a args
	m, err := argMap(raw)
	if err != nil {
		return a, err
	}
	if a.subnet, err = subnetArg(m); err != nil {
		return a, err
	}
	a.hasSubnet = true
	if raw, ok := m["ip-address"]; ok {
		s, ok := jsonString(raw)
		if !ok {
			return a, errors.New("'ip-address' is not a string.")
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return a, fmt.Errorf("Failed to convert string to address '%s': Invalid argument", s)
		}
		a.addr, a.byAddr = addr, true
		return a, nil
	}
	return a, identifier(m, "No 'ip-address' provided and ", &a)
}

// getAllArgs parses reservation-get-all.
func getAllArgs(raw json.RawMessage) (args, error) {
	var a args
	m, err := argMap(raw)
	if err != nil {
		return a, err
	}
	a.subnet, err = subnetArg(m)
	a.hasSubnet = true
	return a, err
}

// getPageArgs parses reservation-get-page: limit (mandatory), subnet-id,
// source-index and from (optional).
func getPageArgs(raw json.RawMessage) (args, error) {
	var a args
	m, err := argMap(raw)
	if err != nil {
		return a, err
	}
	lraw, ok := m["limit"]
	if !ok {
		return a, errors.New("missing parameter 'limit'")
	}
	l, ok := jsonInt(lraw)
	if !ok {
		return a, errors.New("invalid type specified for parameter 'limit'")
	}
	if l < 0 || l > math.MaxUint32 {
		return a, fmt.Errorf("out of range value (%d) specified for parameter 'limit'", l)
	}
	if l == 0 {
		return a, errors.New("page size of retrieved hosts must not be zero")
	}
	a.limit = int(min(l, 1<<20))
	if err := optionalSubnet(m, &a); err != nil {
		return a, err
	}
	if raw, ok := m["source-index"]; ok {
		v, ok := jsonInt(raw)
		if !ok {
			return a, errors.New("invalid type specified for parameter 'source-index'")
		}
		if v < 0 || v > 10 {
			return a, fmt.Errorf("out of range value (%d) specified for parameter 'source-index'", v)
		}
		a.source = int(v)
	}
	if raw, ok := m["from"]; ok {
		v, ok := jsonInt(raw)
		if !ok {
			return a, errors.New("invalid type specified for parameter 'from'")
		}
		a.from = uint64(v)
	}
	return a, nil
}

// byHostnameArgs parses reservation-get-by-hostname.
func byHostnameArgs(raw json.RawMessage) (args, error) {
	var a args
	m, err := argMap(raw)
	if err != nil {
		return a, err
	}
	hraw, ok := m["hostname"]
	if !ok {
		return a, errors.New("missing parameter 'hostname'")
	}
	if a.hostname, ok = jsonString(hraw); !ok {
		return a, errors.New("invalid type specified for parameter 'hostname'")
	}
	if err := optionalSubnet(m, &a); err != nil {
		return a, err
	}
	if a.hostname == "" {
		return a, errors.New("Empty hostname")
	}
	return a, nil
}

// byIDArgs parses reservation-get-by-id.
func byIDArgs(raw json.RawMessage) (args, error) {
	var a args
	m, err := argMap(raw)
	if err != nil {
		return a, err
	}
	if _, ok := jsonString(m["identifier-type"]); !ok {
		return a, errors.New("'identifier-type' is either missing or not a string.")
	}
	if _, ok := jsonString(m["identifier"]); !ok {
		return a, errors.New("'identifier' is either missing or not a string.")
	}
	if _, ok := m["subnet-id"]; ok {
		return a, errors.New("'subnet-id' is forbidden in reservation-get-by-id")
	}
	return a, identifier(m, "", &a)
}
