package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"xdhcp/config/optiondef"
)

// HostsDatabase is one host reservation database (hosts-database, or an
// entry of hosts-databases), with Kea 2.2's parameters for MySQL and
// PostgreSQL. Reservations are read from it for every packet that needs
// them, after the configuration's own.
type HostsDatabase struct {
	Type     string // "mysql" or "postgresql"
	Name     string // the database
	Host     string // default "localhost"; a path is a unix socket (directory for PostgreSQL)
	Port     int    // 0: the client library's default (3306, 5432)
	User     string
	Password string
	// ConnectTimeout is Kea's connect-timeout (seconds; default 5).
	ConnectTimeout time.Duration
	// ReadOnly: the server never writes to the database (reservation-add
	// and reservation-del fail).
	ReadOnly bool
	// The reconnect parameters and on-fail, as Kea documents them.
	MaxReconnectTries int
	ReconnectWaitTime time.Duration // given in ms
	OnFail            string
	// TLS: the CA certificate, the client's certificate and key, the
	// cipher list (MySQL).
	TrustAnchor, CertFile, KeyFile, CipherList string
}

// hostsDatabases parses hosts-database and hosts-databases (Kea refuses
// both together).
func (p *parser) hostsDatabases(o *jobj, c *Config) {
	_, one := o.vals["hosts-database"]
	_, many := o.vals["hosts-databases"]
	if one && many {
		p.errorf(o.child("hosts-databases"), "hosts-database and hosts-databases cannot both be set")
		return
	}
	if one {
		if d := p.sub(o, "hosts-database"); d != nil {
			if db, ok := p.hostsDatabase(d); ok {
				c.HostsDatabases = append(c.HostsDatabases, db)
			}
		}
		return
	}
	p.list(o, "hosts-databases", func(_ string, it *jobj) {
		if db, ok := p.hostsDatabase(it); ok {
			c.HostsDatabases = append(c.HostsDatabases, db)
		}
	})
}

// hostsDatabase parses one host database map.
func (p *parser) hostsDatabase(d *jobj) (HostsDatabase, bool) {
	defer p.finish(d)
	d.ignore("comment", "user-context")
	db := HostsDatabase{Host: "localhost", ConnectTimeout: 5 * time.Second, OnFail: "stop-retry-exit"}
	ok := true
	t := p.str(d, "type")
	switch {
	case t == nil:
		if _, has := d.vals["type"]; !has {
			p.errorf(d.child("type"), "missing: the database type (mysql or postgresql) is required")
		}
		ok = false
	case *t == "mysql" || *t == "postgresql":
		db.Type = *t
	case *t == "memfile":
		p.errorf(d.child("type"), "%q: host reservations are kept in \"mysql\" or \"postgresql\"", *t)
		ok = false
	default:
		p.oneOf(d.child("type"), *t, "memfile", "mysql", "postgresql")
		ok = false
	}
	if s := p.str(d, "name"); s != nil {
		db.Name = *s
	}
	if db.Name == "" && ok {
		p.errorf(d.child("name"), "missing: the database name is required")
		ok = false
	}
	for key, dst := range map[string]*string{"host": &db.Host, "user": &db.User, "password": &db.Password,
		"trust-anchor": &db.TrustAnchor, "cert-file": &db.CertFile, "key-file": &db.KeyFile, "cipher-list": &db.CipherList} {
		if s := p.str(d, key); s != nil {
			*dst = *s
		}
	}
	if v := p.integer(d, "port", 0, 65535); v != nil {
		db.Port = int(*v)
	}
	if v := p.integer(d, "connect-timeout", 1, 1<<31-1); v != nil {
		db.ConnectTimeout = time.Duration(*v) * time.Second
	}
	db.ReadOnly = boolOr(p.boolean(d, "readonly"), false)
	db.MaxReconnectTries = intOr(p.integer(d, "max-reconnect-tries", 0, 1<<31-1), 0)
	if v := p.integer(d, "reconnect-wait-time", 0, 1<<31-1); v != nil {
		db.ReconnectWaitTime = time.Duration(*v) * time.Millisecond
	}
	if s := p.str(d, "on-fail"); s != nil && p.oneOf(d.child("on-fail"), *s, "stop-retry-exit", "serve-retry-exit", "serve-retry-continue") {
		db.OnFail = *s
	}
	if (db.CertFile == "") != (db.KeyFile == "") {
		p.errorf(d.path, "cert-file and key-file go together")
		ok = false
	}
	// persist and lfc-interval belong to the lease file.
	for _, k := range []string{"persist", "lfc-interval"} {
		if _, has := d.vals[k]; has {
			d.used[k] = true
			p.errorf(d.child(k), "applies to the memfile lease database, not to a host database")
			ok = false
		}
	}
	return db, ok
}

// ParseHostReservation parses the reservation a reservation-add command
// carries, with this configuration's option definitions: the keys of a
// configuration reservation plus subnet-id (mandatory: 0 is a global
// reservation) and user-context (kept as given).
func (c *Config) ParseHostReservation(raw json.RawMessage) (*Reservation, json.RawMessage, error) {
	p := &parser{diag: &diag{}, defs: c.defs, ipUnique: c.IPReservationsUnique}
	if p.defs == nil {
		p.defs = newDefTable(nil)
	}
	o := p.object("reservation", raw)
	if o == nil {
		return nil, nil, errors.New("'reservation' must be a map")
	}
	id, ctx, err := takeHostKeys(o)
	if err != nil {
		return nil, nil, err
	}
	r := p.reservation("reservation", o, id)
	if len(p.errs) > 0 || r == nil {
		return nil, nil, errors.Join(p.errs...)
	}
	if !r.IP.IsValid() && r.Hostname == "" && len(r.Options) == 0 && len(r.ClientClasses) == 0 &&
		!r.NextServer.IsValid() && r.ServerHostname == "" && r.BootFileName == "" {
		// Kea 2.2 refuses a host that gives the client nothing.
		return nil, nil, errors.New("specified reservation must include at least one resource, i.e. hostname, IPv4 address, IPv6 address/prefix, options")
	}
	return r, ctx, nil
}

// HostOption builds a reservation's option from what a host database
// row holds (Kea's dhcp4_options): with formatted text, the text is
// encoded by the option's definition as csv-format data is; else the
// binary value is the payload. Options of the dhcp4 space and of vendor
// spaces are sent; an option of another space is refused, as is one in
// text without a definition.
func (c *Config) HostOption(space string, code uint8, formatted string, value []byte, persistent bool) (Option, error) {
	defs := c.defs
	if defs == nil {
		defs = newDefTable(nil)
	}
	if space == "" {
		space = optiondef.Space
	}
	vendor, isVendor := optiondef.VendorOf(space)
	if space != optiondef.Space && !isVendor {
		return Option{}, fmt.Errorf("option %d of space %s: only dhcp4 and vendor-N options of a reservation are sent", code, space)
	}
	if space == optiondef.Space && (code == 0 || code == 255) {
		return Option{}, fmt.Errorf("option %d is reserved (pad/end)", code)
	}
	o := Option{Code: code, AlwaysSend: persistent, VendorSpace: isVendor, Vendor: vendor}
	def := defs.code(space, code)
	if def != nil {
		o.Name = def.Name
	}
	switch {
	case formatted != "" && def == nil:
		return Option{}, fmt.Errorf("option %d of space %s has formatted data %q and no definition", code, space, formatted)
	case formatted != "":
		b, err := encodeOption(def, formatted, false)
		if err != nil {
			return Option{}, fmt.Errorf("option %d of space %s: %q: %w", code, space, formatted, err)
		}
		o.Data = b
	default:
		o.Data = append([]byte(nil), value...)
	}
	if len(o.Data) > maxOptionLen && isVendor {
		return Option{}, fmt.Errorf("option %d of space %s: %d bytes, more than a vendor option holds", code, space, len(o.Data))
	}
	return o, nil
}

// OptionSpace is the space an option of a reservation belongs to: dhcp4,
// or vendor-N for a sub-option of option 125.
func (o Option) OptionSpace() string {
	if o.VendorSpace {
		return optiondef.VendorSpace(o.Vendor)
	}
	return optiondef.Space
}
