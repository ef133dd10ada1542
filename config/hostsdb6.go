package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"xdhcp/config/optiondef"
)

// HostOption6Row is one option of a DHCPv6 reservation as a host database
// keeps it (a row of Kea's dhcp6_options): formatted text, encoded by the
// option's definition as csv-format data is, or else the binary value.
type HostOption6Row struct {
	Code       uint16
	Space      string // "" is dhcp6
	Formatted  string
	Value      []byte
	Persistent bool // always-send
}

// HostOptions6 builds a DHCPv6 reservation's options from its host
// database rows with this configuration's option definitions, exactly
// as the option-data of a reservation in the file is built: options of
// a space another row of the host encapsulates become its sub-options,
// vendor-N options go inside vendor-opts, and an option of a space only
// another level encapsulates is packed there. A row the configuration
// could not take is an error.
func (c *Config6) HostOptions6(rows []HostOption6Row) ([]Option6, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	entries := make([]map[string]any, len(rows))
	for i, r := range rows {
		e := map[string]any{"code": r.Code, "always-send": r.Persistent}
		if r.Space != "" {
			e["space"] = r.Space
		}
		if r.Formatted != "" {
			e["data"] = r.Formatted
		} else {
			e["data"], e["csv-format"] = hex.EncodeToString(r.Value), false
		}
		entries[i] = e
	}
	raw, err := json.Marshal(map[string]any{"option-data": entries})
	if err != nil {
		return nil, err
	}
	d := &diag{}
	o := d.object("host", raw)
	if o == nil {
		return nil, errors.Join(d.errs...)
	}
	defs := c.defs
	if defs == nil {
		defs = newDef6Table(nil)
	}
	opts := d.optionData6(o, "option-data", defs)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return opts, nil
}

// ParseHostReservation6 parses the DHCPv6 reservation a reservation-add
// command carries, with this section's option definitions: the keys of a
// Dhcp6 reservation plus subnet-id (mandatory: 0 is a global
// reservation) and user-context (kept as given).
func (c *Config6) ParseHostReservation6(raw json.RawMessage) (*Reservation6, json.RawMessage, error) {
	defs := c.defs
	if defs == nil {
		defs = newDef6Table(nil)
	}
	q := &parser6{parser: &parser{diag: &diag{}}, defs: defs, classNames: map[string]bool{}, ipUnique: c.IPReservationsUnique}
	o := q.object("reservation", raw)
	if o == nil {
		return nil, nil, errors.New("'reservation' must be a map")
	}
	id, ctx, err := takeHostKeys(o)
	if err != nil {
		return nil, nil, err
	}
	r := q.reservation6("reservation", o, id)
	if len(q.errs) > 0 || r == nil {
		return nil, nil, errors.Join(q.errs...)
	}
	if len(r.IPAddresses) == 0 && len(r.Prefixes) == 0 && r.Hostname == "" && len(r.Options) == 0 && len(r.ClientClasses) == 0 {
		return nil, nil, errors.New("specified reservation must include at least one resource, i.e. hostname, IPv4 address, IPv6 address/prefix, options")
	}
	return r, ctx, nil
}

// takeHostKeys takes from a reservation-add reservation the keys a
// reservation of the file lacks: subnet-id (mandatory) and user-context.
func takeHostKeys(o *jobj) (subnet uint32, userContext json.RawMessage, err error) {
	sid, has := o.take("subnet-id")
	if !has {
		return 0, nil, errors.New("Mandatory 'subnet-id' parameter missing.")
	}
	id, err := strconv.ParseUint(string(sid), 10, 32)
	if err != nil || id == 1<<32-1 {
		return 0, nil, fmt.Errorf("subnet-id: %s is invalid, must be between 0 and 4294967294 (inclusive).", sid)
	}
	ctx, _ := o.take("user-context")
	return uint32(id), ctx, nil
}

// OptionSpace is the space a DHCPv6 option belongs to, as a host database
// keeps it: dhcp6, vendor-N for an option of a vendor's space, or the
// space of an option packed into another level's.
func (o Option6) OptionSpace() string {
	switch {
	case o.VendorSpace:
		return optiondef.VendorSpace(o.Vendor)
	case o.Space != "":
		return o.Space
	}
	return optiondef.Space6
}
