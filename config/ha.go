package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// HAMode is the HA mode of a relationship.
type HAMode string

// Kea's HA modes.
const (
	HAModeLoadBalancing HAMode = "load-balancing"
	HAModeHotStandby    HAMode = "hot-standby"
	HAModePassiveBackup HAMode = "passive-backup"
)

// HARole is a peer's role in a relationship.
type HARole string

// Kea's peer roles.
const (
	HARolePrimary   HARole = "primary"
	HARoleSecondary HARole = "secondary"
	HARoleStandby   HARole = "standby"
	HARoleBackup    HARole = "backup"
)

// HAPause is a state-machine pause setting (state-machine.states[].pause).
type HAPause string

// Pause settings.
const (
	HAPauseNever  HAPause = "never"
	HAPauseOnce   HAPause = "once"
	HAPauseAlways HAPause = "always"
)

// HAStates are the names of the HA states a server can be in, the ones
// state-machine.states[].state may name.
var HAStates = []string{
	"waiting", "syncing", "ready", "load-balancing", "hot-standby", "partner-down",
	"partner-in-maintenance", "in-maintenance", "communication-recovery", "terminated",
	"backup", "passive-backup",
}

// Kea 2.2's HA defaults.
const (
	HADefaultHeartbeatDelay          = 10 * time.Second
	HADefaultMaxResponseDelay        = 60 * time.Second
	HADefaultMaxAckDelay             = 10 * time.Second
	HADefaultMaxUnackedClients       = 10
	HADefaultDelayedUpdatesLimitLB   = 100
	HADefaultSyncTimeout             = 60 * time.Second
	HADefaultSyncPageLimit           = 10000
	HADefaultMaxRejectedLeaseUpdates = 10
)

// haMaxMillis bounds the timer parameters. Kea 2.2 stores heartbeat-delay,
// max-response-delay and max-ack-delay in 16 bits (at most 65535 ms);
// later Kea lifted that. We accept larger values, but the Kea side of a
// mixed pair must stay within 65535.
const haMaxMillis = 1<<31 - 1

// HAPeer is one peers[] entry of an HA relationship.
type HAPeer struct {
	Name string
	// URL is the peer's command URL; its host is an IP literal.
	URL          *url.URL
	Role         HARole
	AutoFailover bool // default true
	// TLS files (the peer's own, else the relationship's).
	TrustAnchor, CertFile, KeyFile string
	// Basic authentication sent to this peer ("" = none). The password
	// comes from basic-auth-password or basic-auth-password-file.
	BasicAuthUser, BasicAuthPassword string
}

// Addr is the host:port the peer's URL names (default port 80/443).
func (p *HAPeer) Addr() string {
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

// HAMultiThreading is the HA multi-threading block.
type HAMultiThreading struct {
	Enable                bool
	HTTPDedicatedListener bool
	// Thread counts, resolved: 0 in the configuration means the DHCP
	// thread count (the CPU count when that is 0 too).
	HTTPListenerThreads, HTTPClientThreads int
}

// HARelationship is one relationship: one entry of the high-availability
// list.
type HARelationship struct {
	ThisServerName string
	Mode           HAMode
	Peers          []HAPeer // in configuration order

	HeartbeatDelay   time.Duration // 0 disables heartbeats
	MaxResponseDelay time.Duration
	MaxAckDelay      time.Duration
	// MaxUnackedClients 0 means no traffic analysis: partner-down as soon
	// as communication is interrupted.
	MaxUnackedClients int
	// MaxRejectedLeaseUpdates (Kea 2.3.1 and later; 0 = unlimited): a
	// partner that rejects more distinct leases than this sends the
	// relationship to terminated.
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

	MultiThreading HAMultiThreading
	// Pause per state name (absent = never).
	Pause map[string]HAPause

	// Subnets are the subnet IDs this relationship replicates. Nil means
	// every subnet (the single-relationship case).
	Subnets []uint32
}

// This returns this server's own peer entry.
func (c *HARelationship) This() *HAPeer { return c.Peer(c.ThisServerName) }

// Peer returns the peer called name, or nil.
func (c *HARelationship) Peer(name string) *HAPeer {
	for i := range c.Peers {
		if c.Peers[i].Name == name {
			return &c.Peers[i]
		}
	}
	return nil
}

// Partner is the failover partner of this server (the other primary /
// secondary / standby), or nil for a backup or in passive-backup.
func (c *HARelationship) Partner() *HAPeer {
	me := c.This()
	if me == nil || me.Role == HARoleBackup || c.Mode == HAModePassiveBackup {
		return nil
	}
	for i := range c.Peers {
		p := &c.Peers[i]
		if p.Name != me.Name && p.Role != HARoleBackup {
			return p
		}
	}
	return nil
}

// HA is the validated configuration of the libdhcp_ha.so hook: one or more
// relationships.
//
// With several relationships (hub-and-spoke, which Kea 2.2 cannot do),
// subnets are assigned the way later Kea does: a subnet (or its shared
// network) carries "user-context": {"ha-server-name": "<name>"} naming a
// peer of the relationship that replicates it. With one relationship every
// subnet belongs to it.
type HA struct {
	Relationships []*HARelationship
	// Warnings are non-fatal findings (e.g. subnets no relationship covers).
	Warnings []string
}

// ParseHA validates the parameters of a libdhcp_ha.so entry
// ({"high-availability": [...]}) with Kea 2.2's defaults, without the rest
// of a configuration (no subnets to assign). dhcpThreads resolves the 0
// ("same as DHCP") thread counts. All errors are reported, each with its
// JSON path.
func ParseHA(params json.RawMessage, dhcpThreads int) (*HA, error) {
	d := &diag{}
	h := d.ha("parameters", params, dhcpThreads)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return h, nil
}

// haHook parses the HA hook's parameters at path into c.HA, once the
// subnets and multi-threading are known.
func (p *parser) haHook(path string, params json.RawMessage, c *Config) {
	if p.haSeen {
		p.errorf(path+".library", "%s configured twice", hookHA)
		return
	}
	p.haSeen = true
	dhcpThreads := 1
	if c.MultiThreading.Enable {
		dhcpThreads = c.MultiThreading.ThreadPoolSize
		if dhcpThreads <= 0 {
			dhcpThreads = runtime.NumCPU()
		}
	}
	n0 := len(p.errs)
	h := p.ha(path+".parameters", params, dhcpThreads)
	if len(p.errs) > n0 {
		return
	}
	p.assignHASubnets(path+".parameters.high-availability", h, c)
	c.HA = h
}

// haFinish reports every key of an HA object that was not consumed as an
// error: HA settings are checked strictly, as Kea's hook does.
func (d *diag) haFinish(o *jobj) {
	for _, k := range o.keys {
		if !o.used[k] {
			d.errorf(o.child(k), "unknown parameter")
		}
	}
}

func (d *diag) ha(path string, params json.RawMessage, dhcpThreads int) *HA {
	if params == nil {
		params = json.RawMessage(`{}`)
	}
	top := d.object(path, params)
	if top == nil {
		return nil
	}
	top.ignore("comment", "user-context")
	defer d.haFinish(top)
	raw, ok := top.take("high-availability")
	if !ok {
		d.errorf(path, "missing high-availability")
		return nil
	}
	listPath := top.child("high-availability")
	items, ok := d.array(listPath, raw)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(listPath, "empty list")
		return nil
	}
	n0 := len(d.errs)
	h := &HA{}
	for i, it := range items {
		at := fmt.Sprintf("%s[%d]", listPath, i)
		if o := d.object(at, it); o != nil {
			if r := d.haRelationship(at, o, dhcpThreads); r != nil {
				h.Relationships = append(h.Relationships, r)
			}
		}
	}
	if len(d.errs) == n0 && len(h.Relationships) > 1 {
		// One server name per relationship; a peer (the hub) may appear in
		// several, but the relationships must not share a partner.
		seen := map[string]int{}
		for i, r := range h.Relationships {
			if part := r.Partner(); part != nil {
				if j, dup := seen[part.Name]; dup {
					d.errorf(fmt.Sprintf("%s[%d]", listPath, i), "partner %q already in relationship %d", part.Name, j)
				}
				seen[part.Name] = i
			}
		}
	}
	return h
}

// ms reads a duration in milliseconds, def when absent.
func (d *diag) ms(o *jobj, key string, def time.Duration) time.Duration {
	if v := d.integer(o, key, 0, haMaxMillis); v != nil {
		return time.Duration(*v) * time.Millisecond
	}
	return def
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func (d *diag) haRelationship(at string, o *jobj, dhcpThreads int) *HARelationship {
	o.ignore("comment", "user-context")
	n0 := len(d.errs)
	c := &HARelationship{Pause: map[string]HAPause{}}
	c.ThisServerName = strOr(d.str(o, "this-server-name"), "")
	if c.ThisServerName == "" {
		d.errorf(o.child("this-server-name"), "missing (required)")
	}
	if mode := strOr(d.str(o, "mode"), ""); mode == "" {
		d.errorf(o.child("mode"), "missing (required)")
	} else if m := HAMode(mode); m == HAModeLoadBalancing || m == HAModeHotStandby || m == HAModePassiveBackup {
		c.Mode = m
	} else {
		d.errorf(o.child("mode"), "unsupported value %q (want load-balancing, hot-standby or passive-backup)", mode)
	}
	c.HeartbeatDelay = d.ms(o, "heartbeat-delay", HADefaultHeartbeatDelay)
	c.MaxResponseDelay = d.ms(o, "max-response-delay", HADefaultMaxResponseDelay)
	c.MaxAckDelay = d.ms(o, "max-ack-delay", HADefaultMaxAckDelay)
	c.MaxUnackedClients = intOr(d.integer(o, "max-unacked-clients", 0, 1<<31-1), HADefaultMaxUnackedClients)
	c.MaxRejectedLeaseUpdates = intOr(d.integer(o, "max-rejected-lease-updates", 0, 1<<31-1), HADefaultMaxRejectedLeaseUpdates)
	defDelayed := 0
	if c.Mode == HAModeLoadBalancing {
		defDelayed = HADefaultDelayedUpdatesLimitLB
	}
	c.DelayedUpdatesLimit = intOr(d.integer(o, "delayed-updates-limit", 0, 1<<31-1), defDelayed)
	c.SyncLeases = boolOr(d.boolean(o, "sync-leases"), true)
	c.SyncTimeout = d.ms(o, "sync-timeout", HADefaultSyncTimeout)
	if c.SyncTimeout == 0 {
		d.errorf(o.child("sync-timeout"), "must be positive")
	}
	c.SyncPageLimit = intOr(d.integer(o, "sync-page-limit", 1, 1<<31-1), HADefaultSyncPageLimit)
	c.SendLeaseUpdates = boolOr(d.boolean(o, "send-lease-updates"), true)
	c.WaitBackupAck = boolOr(d.boolean(o, "wait-backup-ack"), false)
	c.TrustAnchor = strOr(d.str(o, "trust-anchor"), "")
	c.CertFile = strOr(d.str(o, "cert-file"), "")
	c.KeyFile = strOr(d.str(o, "key-file"), "")
	c.RequireClientCerts = boolOr(d.boolean(o, "require-client-certs"), true)
	c.RestrictCommands = boolOr(d.boolean(o, "restrict-commands"), false)
	d.haTLSTriple(at, c.TrustAnchor, c.CertFile, c.KeyFile)

	if mt := d.sub(o, "multi-threading"); mt != nil {
		mt.ignore("comment", "user-context")
		c.MultiThreading.Enable = boolOr(d.boolean(mt, "enable-multi-threading"), false)
		c.MultiThreading.HTTPDedicatedListener = boolOr(d.boolean(mt, "http-dedicated-listener"), false)
		c.MultiThreading.HTTPListenerThreads = intOr(d.integer(mt, "http-listener-threads", 0, 65535), 0)
		c.MultiThreading.HTTPClientThreads = intOr(d.integer(mt, "http-client-threads", 0, 65535), 0)
		d.haFinish(mt)
	}
	if c.MultiThreading.HTTPListenerThreads == 0 {
		c.MultiThreading.HTTPListenerThreads = max(dhcpThreads, 1)
	}
	if c.MultiThreading.HTTPClientThreads == 0 {
		c.MultiThreading.HTTPClientThreads = max(dhcpThreads, 1)
	}

	if sm := d.sub(o, "state-machine"); sm != nil {
		d.haStateMachine(sm, c)
	}
	if _, ok := o.vals["peers"]; !ok {
		d.errorf(o.child("peers"), "missing (required)")
	}
	d.list(o, "peers", func(path string, it *jobj) {
		if pc := d.haPeer(path, it, c); pc != nil {
			c.Peers = append(c.Peers, *pc)
		}
	})
	d.haFinish(o)
	if len(d.errs) > n0 {
		return nil
	}
	d.haValidate(at, c)
	if len(d.errs) > n0 {
		return nil
	}
	return c
}

func (d *diag) haTLSTriple(at, ca, cert, key string) {
	set := 0
	for _, s := range []string{ca, cert, key} {
		if s != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		d.errorf(at, "trust-anchor, cert-file and key-file must be configured all together or not at all")
	}
}

func (d *diag) haStateMachine(o *jobj, c *HARelationship) {
	o.ignore("comment", "user-context")
	d.list(o, "states", func(path string, it *jobj) {
		it.ignore("comment", "user-context")
		name := strOr(d.str(it, "state"), "")
		if !slices.Contains(HAStates, name) {
			d.errorf(it.child("state"), "unknown state %q", name)
		}
		pause := HAPause(strOr(d.str(it, "pause"), string(HAPauseNever)))
		switch pause {
		case HAPauseNever, HAPauseOnce, HAPauseAlways:
		default:
			d.errorf(it.child("pause"), "unsupported value %q (want always, once or never)", pause)
		}
		if _, dup := c.Pause[name]; dup {
			d.errorf(it.child("state"), "duplicated configuration for the %q state", name)
		}
		c.Pause[name] = pause
		d.haFinish(it)
	})
	d.haFinish(o)
}

func (d *diag) haPeer(at string, o *jobj, c *HARelationship) *HAPeer {
	// Kea's own TLS example sets require-client-certs on each peer, where
	// Kea ignores it (it is a relationship parameter); so do we.
	o.ignore("comment", "user-context", "require-client-certs")
	n0 := len(d.errs)
	pc := &HAPeer{}
	pc.Name = strOr(d.str(o, "name"), "")
	if pc.Name == "" {
		d.errorf(o.child("name"), "missing (required)")
	}
	rawURL := strOr(d.str(o, "url"), "")
	if rawURL == "" {
		d.errorf(o.child("url"), "missing (required)")
	} else if u, err := url.Parse(rawURL); err != nil {
		d.errorf(o.child("url"), "invalid URL %q: %v", rawURL, err)
	} else {
		pc.URL = u
		if u.Scheme != "http" && u.Scheme != "https" {
			d.errorf(o.child("url"), "unsupported scheme %q (want http or https)", u.Scheme)
		}
		// Kea rejects host names: peers are addressed by IP literal.
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			d.errorf(o.child("url"), "host %q is not an IPv4 or IPv6 address literal", u.Hostname())
		}
	}
	if role := HARole(strOr(d.str(o, "role"), "")); role == "" {
		d.errorf(o.child("role"), "missing (required)")
	} else if role == HARolePrimary || role == HARoleSecondary || role == HARoleStandby || role == HARoleBackup {
		pc.Role = role
	} else {
		d.errorf(o.child("role"), "unsupported value %q (want primary, secondary, standby or backup)", role)
	}
	pc.AutoFailover = boolOr(d.boolean(o, "auto-failover"), true)
	pc.TrustAnchor = strOr(d.str(o, "trust-anchor"), c.TrustAnchor)
	pc.CertFile = strOr(d.str(o, "cert-file"), c.CertFile)
	pc.KeyFile = strOr(d.str(o, "key-file"), c.KeyFile)
	d.haTLSTriple(at, pc.TrustAnchor, pc.CertFile, pc.KeyFile)
	if pc.URL != nil && pc.URL.Scheme == "https" && pc.CertFile == "" {
		d.errorf(o.child("url"), "https requires trust-anchor, cert-file and key-file (here or in the relationship)")
	}
	pc.BasicAuthUser = strOr(d.str(o, "basic-auth-user"), "")
	pw := strOr(d.str(o, "basic-auth-password"), "")
	pwFile := strOr(d.str(o, "basic-auth-password-file"), "")
	if strings.Contains(pc.BasicAuthUser, ":") {
		d.errorf(o.child("basic-auth-user"), "must not contain ':'")
	}
	switch {
	case pw != "" && pwFile != "":
		d.errorf(at, "basic-auth-password and basic-auth-password-file are mutually exclusive")
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			d.errorf(o.child("basic-auth-password-file"), "read: %v", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if pc.BasicAuthUser == "" && pw != "" {
		d.errorf(at, "basic-auth-password without basic-auth-user")
	}
	pc.BasicAuthPassword = pw
	d.haFinish(o)
	if len(d.errs) > n0 {
		return nil
	}
	return pc
}

// haValidate applies Kea's relationship rules.
func (d *diag) haValidate(at string, c *HARelationship) {
	count := map[HARole]int{}
	names := map[string]bool{}
	for _, pc := range c.Peers {
		if names[pc.Name] {
			d.errorf(at+".peers", "peer name %q used twice", pc.Name)
		}
		names[pc.Name] = true
		count[pc.Role]++
	}
	if c.This() == nil {
		d.errorf(at+".this-server-name", "%q is not the name of any peer", c.ThisServerName)
	}
	if count[HARolePrimary] != 1 {
		d.errorf(at+".peers", "exactly one primary server is required, found %d", count[HARolePrimary])
	}
	switch c.Mode {
	case HAModeLoadBalancing:
		if count[HARoleSecondary] != 1 || count[HARoleStandby] != 0 {
			d.errorf(at+".peers", "load-balancing needs one primary, one secondary and no standby")
		}
	case HAModeHotStandby:
		if count[HARoleStandby] != 1 || count[HARoleSecondary] != 0 {
			d.errorf(at+".peers", "hot-standby needs one primary, one standby and no secondary")
		}
	case HAModePassiveBackup:
		if count[HARoleStandby]+count[HARoleSecondary] != 0 {
			d.errorf(at+".peers", "passive-backup allows only a primary and backups")
		}
	}
	if c.WaitBackupAck && c.Mode != HAModePassiveBackup {
		d.errorf(at+".wait-backup-ack", "can be true only in passive-backup mode")
	}
	if c.DelayedUpdatesLimit > 0 && c.Mode != HAModeLoadBalancing {
		d.errorf(at+".delayed-updates-limit", "can be positive only in load-balancing mode")
	}
	if me := c.This(); me != nil && c.MultiThreading.Enable && c.MultiThreading.HTTPDedicatedListener && me.URL == nil {
		d.errorf(at+".this-server-name", "the dedicated listener needs this server's url")
	}
}

// assignHASubnets maps subnets to relationships (see HA).
func (p *parser) assignHASubnets(at string, h *HA, c *Config) {
	if len(h.Relationships) == 1 {
		return
	}
	tags, err := haSubnetTags(c.Raw)
	if err != nil {
		p.errorf(at, "read subnet user-context ha-server-name: %v", err)
		return
	}
	inRels := func(name string) int {
		n := 0
		for _, r := range h.Relationships {
			if r.Peer(name) != nil {
				n++
			}
		}
		return n
	}
	for _, sn := range c.Subnets {
		name := tags[sn.ID]
		if name == "" {
			h.Warnings = append(h.Warnings, fmt.Sprintf("subnet %d (%s): no user-context ha-server-name: not replicated by HA", sn.ID, sn.Prefix))
			continue
		}
		found := false
		for _, r := range h.Relationships {
			if r.Peer(name) != nil && (name != r.ThisServerName || inRels(name) == 1) {
				r.Subnets = append(r.Subnets, sn.ID)
				found = true
				break
			}
		}
		if !found {
			p.errorf(at, "subnet %d: ha-server-name %q names no relationship's peer (or only this server, which is in several)", sn.ID, name)
		}
	}
	for _, r := range h.Relationships {
		if r.Subnets == nil {
			r.Subnets = []uint32{}
		}
	}
}

// haSubnetTags reads user-context.ha-server-name of every subnet (or of its
// shared network) from the raw configuration document.
func haSubnetTags(raw json.RawMessage) (map[uint32]string, error) {
	type haTag struct {
		UserContext struct {
			HAServerName string `json:"ha-server-name"`
		} `json:"user-context"`
	}
	type subnet struct {
		ID uint32 `json:"id"`
		haTag
	}
	var doc struct {
		Dhcp4 struct {
			Subnet4        []subnet `json:"subnet4"`
			SharedNetworks []struct {
				haTag
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
