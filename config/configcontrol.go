package config

import "time"

// defaultConfigFetchWait is Kea's config-fetch-wait-time default.
const defaultConfigFetchWait = 30 * time.Second

// ConfigControl is Kea's config-control: the configuration databases
// (Kea's configuration backend) whose subnets, shared networks, options,
// option definitions, client classes and global parameters for this
// server's server-tag are merged into the file's configuration, and how
// often they are polled for changes.
type ConfigControl struct {
	// Databases take the connection parameters of a host database.
	Databases []HostsDatabase
	// FetchWait is config-fetch-wait-time (seconds in the file; default
	// 30). 0 disables polling: the databases are read at start and on
	// reload only.
	FetchWait time.Duration
}

// configControl parses config-control (of the Dhcp4 or the Dhcp6
// section): nil without a configuration database.
func (p *parser) configControl(o *jobj) *ConfigControl {
	cc := p.sub(o, "config-control")
	if cc == nil {
		return nil
	}
	defer p.finish(cc)
	cc.ignore("comment", "user-context")
	out := &ConfigControl{FetchWait: defaultConfigFetchWait}
	if v := p.integer(cc, "config-fetch-wait-time", 0, 1<<31-1); v != nil {
		out.FetchWait = time.Duration(*v) * time.Second
	}
	p.list(cc, "config-databases", func(_ string, it *jobj) {
		if db, ok := p.hostsDatabase(it); ok {
			out.Databases = append(out.Databases, db)
		}
	})
	if len(out.Databases) > 1 {
		// Kea 2.2 reads the first database only too.
		p.warnf(cc.child("config-databases"), "only the first configuration database is read")
	}
	if len(out.Databases) == 0 {
		return nil
	}
	return out
}
