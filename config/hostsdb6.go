package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
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
