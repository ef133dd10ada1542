package ha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"xdhcp/config"
)

// Mode is the HA mode of a relationship.
type Mode string

// Kea's HA modes.
const (
	ModeLoadBalancing Mode = "load-balancing"
	ModeHotStandby    Mode = "hot-standby"
	ModePassiveBackup Mode = "passive-backup"
)

// Role is a peer's role in a relationship.
type Role string

// Kea's peer roles.
const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
	RoleStandby   Role = "standby"
	RoleBackup    Role = "backup"
)

// Pause is a state-machine pause setting (state-machine.states[].pause).
type Pause string

// Pause settings.
const (
	PauseNever  Pause = "never"
	PauseOnce   Pause = "once"
	PauseAlways Pause = "always"
)

// HookLibrary is the base name of Kea's HA hook; the entry is recognised by
// it and never loaded.
const HookLibrary = "libdhcp_ha.so"

// Kea 2.2 defaults (kea-2.2-reference.md §2.5).
const (
	DefaultHeartbeatDelay          = 10 * time.Second
	DefaultMaxResponseDelay        = 60 * time.Second
	DefaultMaxAckDelay             = 10 * time.Second
	DefaultMaxUnackedClients       = 10
	DefaultDelayedUpdatesLimitLB   = 100
	DefaultSyncTimeout             = 60 * time.Second
	DefaultSyncPageLimit           = 10000
	DefaultMaxRejectedLeaseUpdates = 10
	// RequestTimeout is Kea's fixed HTTP client timeout for every HA request
	// but lease4-get-page (TIMEOUT_DEFAULT_HTTP_CLIENT_REQUEST).
	RequestTimeout = 10 * time.Second
)

// PeerConfig is one peers[] entry.
type PeerConfig struct {
	Name string
	// URL is the peer's command URL; its host is an IP literal.
	URL          *url.URL
	Role         Role
	AutoFailover bool // default true
	// TLS files (the peer's own, else the relationship's).
	TrustAnchor, CertFile, KeyFile string
	// Basic authentication sent to this peer ("" = none). The password
	// comes from basic-auth-password or basic-auth-password-file.
	BasicAuthUser, BasicAuthPassword string
}

// Addr is the host:port the peer's URL names (default port 80/443).
func (p *PeerConfig) Addr() string {
	port := p.URL.Port()
	if port == "" {
		port = "80"
		if p.URL.Scheme == "https" {
			port = "443"
		}
	}
	h := p.URL.Hostname()
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + port
	}
	return h + ":" + port
}

// MultiThreading is the HA multi-threading block.
type MultiThreading struct {
	Enable                bool
	HTTPDedicatedListener bool
	// Thread counts, resolved: 0 in the configuration means the DHCP
	// thread count (the CPU count when that is 0 too).
	HTTPListenerThreads, HTTPClientThreads int
}

// RelConfig is one relationship: one entry of the high-availability list.
type RelConfig struct {
	ThisServerName string
	Mode           Mode
	Peers          []PeerConfig // in configuration order

	HeartbeatDelay   time.Duration // 0 disables heartbeats
	MaxResponseDelay time.Duration
	MaxAckDelay      time.Duration
	// MaxUnackedClients 0 means no traffic analysis: partner-down as soon
	// as communication is interrupted.
	MaxUnackedClients int
	// MaxRejectedLeaseUpdates (Kea ≥2.3.1; 0 = unlimited): a partner that
	// rejects more distinct leases than this sends the relationship to
	// terminated.
	MaxRejectedLeaseUpdates int
	// DelayedUpdatesLimit > 0 enables communication-recovery (LB only).
	DelayedUpdatesLimit int
	SyncLeases          bool
	SyncTimeout         time.Duration
	SyncPageLimit       int
	SendLeaseUpdates    bool
	WaitBackupAck       bool

	TrustAnchor, CertFile, KeyFile string
	RequireClientCerts             bool // default true (dedicated listener)
	RestrictCommands               bool

	MultiThreading MultiThreading
	// Pause per state (absent = never).
	Pause map[State]Pause

	// Subnets are the subnet IDs this relationship replicates. Nil means
	// every subnet (the single-relationship case).
	Subnets []uint32
}

// This returns this server's own peer entry.
func (c *RelConfig) This() *PeerConfig { return c.peer(c.ThisServerName) }

func (c *RelConfig) peer(name string) *PeerConfig {
	for i := range c.Peers {
		if c.Peers[i].Name == name {
			return &c.Peers[i]
		}
	}
	return nil
}

// Partner is the failover partner of this server (the other primary /
// secondary / standby), or nil for a backup or in passive-backup.
func (c *RelConfig) Partner() *PeerConfig {
	me := c.This()
	if me == nil || me.Role == RoleBackup || c.Mode == ModePassiveBackup {
		return nil
	}
	for i := range c.Peers {
		p := &c.Peers[i]
		if p.Name != me.Name && p.Role != RoleBackup {
			return p
		}
	}
	return nil
}

// Config is the validated HA configuration: one or more relationships.
type Config struct {
	Relationships []*RelConfig
	// Warnings are non-fatal findings (e.g. subnets no relationship covers).
	Warnings []string
}

// FromConfig extracts the HA configuration from a Dhcp4 configuration: the
// "high-availability" list of the libdhcp_ha.so hook entry. It returns nil
// and no error when no such hook is configured.
//
// With several relationships (hub-and-spoke, which Kea 2.2 cannot do),
// subnets are assigned the way later Kea does: a subnet (or its shared
// network) carries "user-context": {"ha-server-name": "<name>"} naming a peer
// of the relationship that replicates it. With one relationship every subnet
// belongs to it.
func FromConfig(cfg *config.Config) (*Config, error) {
	var params json.RawMessage
	found := false
	for _, h := range cfg.Hooks {
		if path.Base(h.Library) == HookLibrary {
			if found {
				return nil, errors.New("hooks-libraries: " + HookLibrary + " configured twice")
			}
			params, found = h.Parameters, true
		}
	}
	if !found {
		return nil, nil
	}
	dhcpThreads := 1
	if cfg.MultiThreading.Enable {
		dhcpThreads = cfg.MultiThreading.ThreadPoolSize
		if dhcpThreads <= 0 {
			dhcpThreads = runtime.NumCPU()
		}
	}
	c, err := Parse(params, dhcpThreads)
	if err != nil {
		return nil, err
	}
	if err := c.assignSubnets(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse validates the parameters of the libdhcp_ha.so entry
// ({"high-availability": [...]}) with Kea 2.2's defaults. dhcpThreads
// resolves the 0 ("same as DHCP") thread counts. All errors are reported,
// each with its JSON path.
func Parse(params json.RawMessage, dhcpThreads int) (*Config, error) {
	p := &cparser{}
	top := p.object("parameters", params)
	if top == nil {
		return nil, errors.Join(p.errs...)
	}
	raw, ok := top["high-availability"]
	if !ok {
		return nil, errors.New("parameters: missing high-availability")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("parameters.high-availability: expected a list: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("parameters.high-availability: empty list")
	}
	for k := range top {
		if k != "high-availability" && k != "comment" && k != "user-context" {
			p.errorf("parameters."+k, "unknown parameter")
		}
	}
	c := &Config{}
	for i, r := range list {
		rc := p.relationship(fmt.Sprintf("high-availability[%d]", i), r, dhcpThreads)
		if rc != nil {
			c.Relationships = append(c.Relationships, rc)
		}
	}
	if len(p.errs) == 0 && len(c.Relationships) > 1 {
		// One server name per relationship; a peer (the hub) may appear in
		// several, but the relationships must not share a partner.
		seen := map[string]int{}
		for i, r := range c.Relationships {
			if part := r.Partner(); part != nil {
				if j, dup := seen[part.Name]; dup {
					p.errorf(fmt.Sprintf("high-availability[%d]", i), "partner %q already in relationship %d", part.Name, j)
				}
				seen[part.Name] = i
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

type cparser struct{ errs []error }

func (p *cparser) errorf(at, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
}

func (p *cparser) object(at string, raw json.RawMessage) map[string]json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		p.errorf(at, "expected a map")
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.errorf(at, "%v", err)
		return nil
	}
	return m
}

// fields decodes typed values out of an object and flags unknown keys.
type fields struct {
	p    *cparser
	at   string
	m    map[string]json.RawMessage
	used map[string]bool
}

func (p *cparser) fields(at string, m map[string]json.RawMessage) *fields {
	return &fields{p: p, at: at, m: m, used: map[string]bool{"comment": true, "user-context": true}}
}

func (f *fields) raw(k string) (json.RawMessage, bool) {
	f.used[k] = true
	v, ok := f.m[k]
	return v, ok
}

func (f *fields) str(k string, def string) string {
	v, ok := f.raw(k)
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		f.p.errorf(f.at+"."+k, "expected a string")
		return def
	}
	return s
}

func (f *fields) boolean(k string, def bool) bool {
	v, ok := f.raw(k)
	if !ok {
		return def
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		f.p.errorf(f.at+"."+k, "expected a boolean")
		return def
	}
	return b
}

// integer reads a whole number in [lo, hi].
func (f *fields) integer(k string, def, lo, hi int64) int64 {
	v, ok := f.raw(k)
	if !ok {
		return def
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		f.p.errorf(f.at+"."+k, "expected an integer")
		return def
	}
	i, err := n.Int64()
	if err != nil {
		f.p.errorf(f.at+"."+k, "expected an integer, got %s", n)
		return def
	}
	if i < lo || i > hi {
		f.p.errorf(f.at+"."+k, "value %d out of range [%d, %d]", i, lo, hi)
		return def
	}
	return i
}

func (f *fields) ms(k string, def time.Duration, hi int64) time.Duration {
	return time.Duration(f.integer(k, int64(def/time.Millisecond), 0, hi)) * time.Millisecond
}

func (f *fields) finish() {
	keys := make([]string, 0, len(f.m))
	for k := range f.m {
		if !f.used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		f.p.errorf(f.at+"."+k, "unknown parameter")
	}
}

// maxMillis bounds the timer parameters. Kea 2.2 stores heartbeat-delay,
// max-response-delay and max-ack-delay in 16 bits (≤ 65535 ms); Kea 3.3
// lifted that (the reference's §1.6). We accept larger values, but keep
// the Kea side of a mixed pair within 65535.
const maxMillis = 1<<31 - 1

func (p *cparser) relationship(at string, raw json.RawMessage, dhcpThreads int) *RelConfig {
	m := p.object(at, raw)
	if m == nil {
		return nil
	}
	n0 := len(p.errs)
	f := p.fields(at, m)
	c := &RelConfig{Pause: map[State]Pause{}}
	c.ThisServerName = f.str("this-server-name", "")
	if c.ThisServerName == "" {
		p.errorf(at+".this-server-name", "missing (required)")
	}
	mode := f.str("mode", "")
	switch Mode(mode) {
	case ModeLoadBalancing, ModeHotStandby, ModePassiveBackup:
		c.Mode = Mode(mode)
	case "":
		p.errorf(at+".mode", "missing (required)")
	default:
		p.errorf(at+".mode", "unsupported value %q (want load-balancing, hot-standby or passive-backup)", mode)
	}
	c.HeartbeatDelay = f.ms("heartbeat-delay", DefaultHeartbeatDelay, maxMillis)
	c.MaxResponseDelay = f.ms("max-response-delay", DefaultMaxResponseDelay, maxMillis)
	c.MaxAckDelay = f.ms("max-ack-delay", DefaultMaxAckDelay, maxMillis)
	c.MaxUnackedClients = int(f.integer("max-unacked-clients", DefaultMaxUnackedClients, 0, 1<<31-1))
	c.MaxRejectedLeaseUpdates = int(f.integer("max-rejected-lease-updates", DefaultMaxRejectedLeaseUpdates, 0, 1<<31-1))
	defDelayed := int64(0)
	if c.Mode == ModeLoadBalancing {
		defDelayed = DefaultDelayedUpdatesLimitLB
	}
	c.DelayedUpdatesLimit = int(f.integer("delayed-updates-limit", defDelayed, 0, 1<<31-1))
	c.SyncLeases = f.boolean("sync-leases", true)
	c.SyncTimeout = f.ms("sync-timeout", DefaultSyncTimeout, maxMillis)
	if c.SyncTimeout == 0 {
		p.errorf(at+".sync-timeout", "must be positive")
	}
	c.SyncPageLimit = int(f.integer("sync-page-limit", DefaultSyncPageLimit, 1, 1<<31-1))
	c.SendLeaseUpdates = f.boolean("send-lease-updates", true)
	c.WaitBackupAck = f.boolean("wait-backup-ack", false)
	c.TrustAnchor = f.str("trust-anchor", "")
	c.CertFile = f.str("cert-file", "")
	c.KeyFile = f.str("key-file", "")
	c.RequireClientCerts = f.boolean("require-client-certs", true)
	c.RestrictCommands = f.boolean("restrict-commands", false)
	checkTLSTriple(p, at, c.TrustAnchor, c.CertFile, c.KeyFile)

	if v, ok := f.raw("multi-threading"); ok {
		if mm := p.object(at+".multi-threading", v); mm != nil {
			mf := p.fields(at+".multi-threading", mm)
			c.MultiThreading.Enable = mf.boolean("enable-multi-threading", false)
			c.MultiThreading.HTTPDedicatedListener = mf.boolean("http-dedicated-listener", false)
			c.MultiThreading.HTTPListenerThreads = int(mf.integer("http-listener-threads", 0, 0, 65535))
			c.MultiThreading.HTTPClientThreads = int(mf.integer("http-client-threads", 0, 0, 65535))
			mf.finish()
		}
	}
	if c.MultiThreading.HTTPListenerThreads == 0 {
		c.MultiThreading.HTTPListenerThreads = max(dhcpThreads, 1)
	}
	if c.MultiThreading.HTTPClientThreads == 0 {
		c.MultiThreading.HTTPClientThreads = max(dhcpThreads, 1)
	}

	if v, ok := f.raw("state-machine"); ok {
		p.stateMachine(at+".state-machine", v, c)
	}
	if v, ok := f.raw("peers"); ok {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			p.errorf(at+".peers", "expected a list")
		}
		for i, pr := range list {
			if pc := p.peer(fmt.Sprintf("%s.peers[%d]", at, i), pr, c); pc != nil {
				c.Peers = append(c.Peers, *pc)
			}
		}
	} else {
		p.errorf(at+".peers", "missing (required)")
	}
	f.finish()
	if len(p.errs) > n0 {
		return nil
	}
	p.validate(at, c)
	if len(p.errs) > n0 {
		return nil
	}
	return c
}

func checkTLSTriple(p *cparser, at, ca, cert, key string) {
	set := 0
	for _, s := range []string{ca, cert, key} {
		if s != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		p.errorf(at, "trust-anchor, cert-file and key-file must be configured all together or not at all")
	}
}

func (p *cparser) stateMachine(at string, raw json.RawMessage, c *RelConfig) {
	m := p.object(at, raw)
	if m == nil {
		return
	}
	f := p.fields(at, m)
	if v, ok := f.raw("states"); ok {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			p.errorf(at+".states", "expected a list")
		}
		for i, s := range list {
			sat := fmt.Sprintf("%s.states[%d]", at, i)
			sm := p.object(sat, s)
			if sm == nil {
				continue
			}
			sf := p.fields(sat, sm)
			name := sf.str("state", "")
			st, ok := ParseState(name)
			if !ok || st == StateUnavailable {
				p.errorf(sat+".state", "unknown state %q", name)
			}
			pause := Pause(sf.str("pause", string(PauseNever)))
			switch pause {
			case PauseNever, PauseOnce, PauseAlways:
			default:
				p.errorf(sat+".pause", "unsupported value %q (want always, once or never)", pause)
			}
			if _, dup := c.Pause[st]; dup {
				p.errorf(sat+".state", "duplicated configuration for the %q state", name)
			}
			c.Pause[st] = pause
			sf.finish()
		}
	}
	f.finish()
}

func (p *cparser) peer(at string, raw json.RawMessage, c *RelConfig) *PeerConfig {
	m := p.object(at, raw)
	if m == nil {
		return nil
	}
	n0 := len(p.errs)
	f := p.fields(at, m)
	pc := &PeerConfig{}
	pc.Name = f.str("name", "")
	if pc.Name == "" {
		p.errorf(at+".name", "missing (required)")
	}
	rawURL := f.str("url", "")
	if rawURL == "" {
		p.errorf(at+".url", "missing (required)")
	} else if u, err := url.Parse(rawURL); err != nil {
		p.errorf(at+".url", "invalid URL %q: %v", rawURL, err)
	} else {
		pc.URL = u
		if u.Scheme != "http" && u.Scheme != "https" {
			p.errorf(at+".url", "unsupported scheme %q (want http or https)", u.Scheme)
		}
		// Kea rejects host names: peers are addressed by IP literal.
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			p.errorf(at+".url", "host %q is not an IPv4 or IPv6 address literal", u.Hostname())
		}
	}
	role := Role(f.str("role", ""))
	switch role {
	case RolePrimary, RoleSecondary, RoleStandby, RoleBackup:
		pc.Role = role
	case "":
		p.errorf(at+".role", "missing (required)")
	default:
		p.errorf(at+".role", "unsupported value %q (want primary, secondary, standby or backup)", role)
	}
	pc.AutoFailover = f.boolean("auto-failover", true)
	pc.TrustAnchor = f.str("trust-anchor", c.TrustAnchor)
	pc.CertFile = f.str("cert-file", c.CertFile)
	pc.KeyFile = f.str("key-file", c.KeyFile)
	checkTLSTriple(p, at, pc.TrustAnchor, pc.CertFile, pc.KeyFile)
	if pc.URL != nil && pc.URL.Scheme == "https" && pc.CertFile == "" {
		p.errorf(at+".url", "https requires trust-anchor, cert-file and key-file (here or in the relationship)")
	}
	pc.BasicAuthUser = f.str("basic-auth-user", "")
	pw := f.str("basic-auth-password", "")
	pwFile := f.str("basic-auth-password-file", "")
	if strings.Contains(pc.BasicAuthUser, ":") {
		p.errorf(at+".basic-auth-user", "must not contain ':'")
	}
	switch {
	case pw != "" && pwFile != "":
		p.errorf(at, "basic-auth-password and basic-auth-password-file are mutually exclusive")
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			p.errorf(at+".basic-auth-password-file", "read: %v", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if pc.BasicAuthUser == "" && pw != "" {
		p.errorf(at, "basic-auth-password without basic-auth-user")
	}
	pc.BasicAuthPassword = pw
	f.finish()
	if len(p.errs) > n0 {
		return nil
	}
	return pc
}

// validate applies Kea's relationship rules (ha_config.cc validate).
func (p *cparser) validate(at string, c *RelConfig) {
	count := map[Role]int{}
	names := map[string]bool{}
	for _, pc := range c.Peers {
		if names[pc.Name] {
			p.errorf(at+".peers", "peer name %q used twice", pc.Name)
		}
		names[pc.Name] = true
		count[pc.Role]++
	}
	if c.This() == nil {
		p.errorf(at+".this-server-name", "%q is not the name of any peer", c.ThisServerName)
	}
	if count[RolePrimary] != 1 {
		p.errorf(at+".peers", "exactly one primary server is required, found %d", count[RolePrimary])
	}
	switch c.Mode {
	case ModeLoadBalancing:
		if count[RoleSecondary] != 1 || count[RoleStandby] != 0 {
			p.errorf(at+".peers", "load-balancing needs one primary, one secondary and no standby")
		}
	case ModeHotStandby:
		if count[RoleStandby] != 1 || count[RoleSecondary] != 0 {
			p.errorf(at+".peers", "hot-standby needs one primary, one standby and no secondary")
		}
	case ModePassiveBackup:
		if count[RoleStandby]+count[RoleSecondary] != 0 {
			p.errorf(at+".peers", "passive-backup allows only a primary and backups")
		}
	}
	if c.WaitBackupAck && c.Mode != ModePassiveBackup {
		p.errorf(at+".wait-backup-ack", "can be true only in passive-backup mode")
	}
	if c.DelayedUpdatesLimit > 0 && c.Mode != ModeLoadBalancing {
		p.errorf(at+".delayed-updates-limit", "can be positive only in load-balancing mode")
	}
	if me := c.This(); me != nil && c.MultiThreading.Enable && c.MultiThreading.HTTPDedicatedListener && me.URL == nil {
		p.errorf(at+".this-server-name", "the dedicated listener needs this server's url")
	}
}

// assignSubnets maps subnets to relationships (see FromConfig).
func (c *Config) assignSubnets(cfg *config.Config) error {
	if len(c.Relationships) == 1 {
		return nil
	}
	tags, err := subnetTags(cfg.Raw)
	if err != nil {
		return fmt.Errorf("read subnet user-context ha-server-name: %w", err)
	}
	var errs []error
	for _, sn := range cfg.Subnets {
		name := tags[sn.ID]
		if name == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("subnet %d (%s): no user-context ha-server-name: not replicated by HA", sn.ID, sn.Prefix))
			continue
		}
		found := false
		for _, r := range c.Relationships {
			if r.peer(name) != nil && (name != r.ThisServerName || countRel(c, name) == 1) {
				r.Subnets = append(r.Subnets, sn.ID)
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("subnet %d: ha-server-name %q names no relationship's peer (or only this server, which is in several)", sn.ID, name))
		}
	}
	for _, r := range c.Relationships {
		if r.Subnets == nil {
			r.Subnets = []uint32{}
		}
	}
	return errors.Join(errs...)
}

func countRel(c *Config, name string) int {
	n := 0
	for _, r := range c.Relationships {
		if r.peer(name) != nil {
			n++
		}
	}
	return n
}

// subnetTags reads user-context.ha-server-name of every subnet (or of its
// shared network) from the raw configuration document.
func subnetTags(raw json.RawMessage) (map[uint32]string, error) {
	type subnet struct {
		ID          uint32 `json:"id"`
		UserContext struct {
			HAServerName string `json:"ha-server-name"`
		} `json:"user-context"`
	}
	var doc struct {
		Dhcp4 struct {
			Subnet4        []subnet `json:"subnet4"`
			SharedNetworks []struct {
				UserContext struct {
					HAServerName string `json:"ha-server-name"`
				} `json:"user-context"`
				Subnet4 []subnet `json:"subnet4"`
			} `json:"shared-networks"`
		} `json:"Dhcp4"`
	}
	out := map[uint32]string{}
	if len(raw) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for _, s := range doc.Dhcp4.Subnet4 {
		out[s.ID] = s.UserContext.HAServerName
	}
	for _, n := range doc.Dhcp4.SharedNetworks {
		for _, s := range n.Subnet4 {
			name := s.UserContext.HAServerName
			if name == "" {
				name = n.UserContext.HAServerName
			}
			out[s.ID] = name
		}
	}
	return out, nil
}
