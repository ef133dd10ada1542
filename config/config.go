package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// DefaultPath is where xdhcpd looks for its configuration when none is given.
const DefaultPath = "/etc/xdhcp/kea-dhcp4.conf"

// Defaults of the Dhcp4 globals (Kea 2.2 unless noted).
const (
	defaultDeclineProbation   = 86400 * time.Second
	defaultLFCInterval        = 3600 * time.Second
	defaultLeaseFile          = "/var/lib/kea/kea-leases4.csv"
	defaultParkedPacketLimit  = 256
	defaultSampleCount        = 20
	defaultPacketQueueSize    = 64
	defaultControlAddress     = "127.0.0.1"
	defaultControlPort        = 8000
	defaultAuthRealm          = "kea-dhcpv4-server"
	defaultBPFFS              = "/sys/fs/bpf/xdhcp"
	defaultOverloadHigh       = 0.75
	defaultOverloadLow        = 0.25
	defaultCommitBatch        = 1024
	maxSubnetID               = 4294967294 // Kea's SUBNET_ID_MAX
	defaultReclaimTimerWait   = 10 * time.Second
	defaultFlushReclaimedWait = 25 * time.Second
	defaultHoldReclaimed      = 3600 * time.Second
	defaultMaxReclaimLeases   = 100
	defaultMaxReclaimTime     = 250 * time.Millisecond
	defaultUnwarnedCycles     = 5
)

//go:embed default.json
var defaultJSON []byte

// Default returns the embedded demo configuration (a copy: callers may
// modify it).
func Default() []byte { return bytes.Clone(defaultJSON) }

// Load reads and parses the configuration file at path. Kea's
// <?include "file"?> directives are expanded (also inside included files);
// as in Kea, a relative name is opened relative to the working directory.
func Load(path string) (*Config, error) {
	c, err := Check(path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Check is Load for xdhcpd -t: when the file has errors it also returns
// what it could decode, so that the warnings are shown beside the errors,
// as kea-dhcp4 -t shows them. The Config is nil only when the file cannot
// be read or its syntax is broken.
func Check(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	c, err := parseWithWarnings(data, path, os.ReadFile)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse parses and validates a Kea configuration document (Kea's JSON with
// comments) whose top-level object holds a "Dhcp4" section, a "Dhcp6"
// section (Config.Dhcp6), or both. All validation
// errors are returned together (errors.Join of *FieldError); a syntax
// error is one *SyntaxError. Kea keys xdhcp does not implement yet end up
// in Config.Warnings. Include directives need a file system and are
// rejected here: use Load.
func Parse(data []byte) (*Config, error) { return parse(data, "", nil) }

func parse(data []byte, file string, include includeFunc) (*Config, error) {
	c, err := parseWithWarnings(data, file, include)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parseWithWarnings is parse that also returns what it decoded, warnings
// included, when the document has errors (nil only on a syntax error).
func parseWithWarnings(data []byte, file string, include includeFunc) (*Config, error) {
	plain, syntaxWarns, err := keaJSON(data, file, include)
	if err != nil {
		return nil, err
	}
	top := json.RawMessage(plain)
	p := &parser{diag: &diag{warns: syntaxWarns}, defs: newDefTable(nil)}
	root := p.object("", top)
	if root == nil {
		return nil, errors.Join(p.errs...)
	}
	c := &Config{Raw: top}
	dhcp4, has4 := root.take("Dhcp4")
	dhcp6, has6 := root.take("Dhcp6")
	switch {
	case has4:
		c.HasDhcp4 = true
		if o := p.object("Dhcp4", dhcp4); o != nil {
			p.dhcp4(o, c)
		}
	case has6:
		// A Dhcp6-only document: the Dhcp4 fields get Kea's defaults
		// (no subnet), read from an empty section nobody checks.
		q := &parser{diag: &diag{}, defs: newDefTable(nil)}
		q.dhcp4(&jobj{path: "Dhcp4", vals: map[string]json.RawMessage{}, used: map[string]bool{}, skipped: map[string]bool{}}, c)
	default:
		p.errorf("Dhcp4", "missing: the document must have a Dhcp4 section (or a Dhcp6 one)")
	}
	if has6 {
		if o := p.object("Dhcp6", dhcp6); o != nil {
			c.Dhcp6 = p.dhcp6(o)
		}
	}
	if x := p.sub(root, "xdhcp"); x != nil {
		if p.xdhcpSeen {
			p.errorf("xdhcp", "set both here and in Dhcp4.xdhcp")
		} else {
			p.xdhcp(x, &c.XDHCP)
		}
	}
	if !p.xdhcpSeen {
		p.xdhcpDefaults(&c.XDHCP)
	}
	p.controlAgent(root, c)
	p.controlSocketSecurity(c)
	for _, k := range root.keys {
		if root.used[k] {
			continue
		}
		switch k {
		case "Control-agent":
			p.warnf(k, "section for another Kea component, ignored by xdhcp")
		default:
			// kea-dhcp4 2.2 reads a file holding Dhcp4 alone; other
			// sections are a syntax error there, so they are here.
			p.errorf(k, "unknown top-level section: Kea 2.2's kea-dhcp4 accepts only Dhcp4 here (and xdhcp its own xdhcp section)")
		}
		root.used[k] = true
	}
	c.Warnings = p.warns
	c.defs = p.defs
	return c, errors.Join(p.errs...)
}

// parser carries the state of one Parse run on top of the diagnostics.
type parser struct {
	*diag
	defs      *defTable
	xdhcpSeen bool
	haSeen    bool // the HA hook was parsed: a second one is an error
	// classNames are the classes defined so far, in order.
	classNames map[string]bool
	// classRefs are class names used by subnets, pools and reservations,
	// checked once every class is known.
	classRefs []classRef
	// ipUnique mirrors ip-reservations-unique while reservations are parsed.
	ipUnique bool
	// ctlPaths are the JSON paths of c.ControlSockets, for the checks
	// made once the whole document is read.
	ctlPaths []string
}

type classRef struct{ path, name string }

func (p *parser) refClass(path, name string) {
	addClassRef(&p.classRefs, path, name)
}

// dhcp4 parses the Dhcp4 section into c.
func (p *parser) dhcp4(o *jobj, c *Config) {
	defer p.finish(o)
	o.ignore("comment", "user-context")

	// Definitions first: option-data anywhere may use them.
	p.optionDefs(o, "option-def", p.defs, false)

	c.IPReservationsUnique = boolOr(p.boolean(o, "ip-reservations-unique"), true)
	p.ipUnique = c.IPReservationsUnique
	c.EarlyGlobalReservationsLookup = boolOr(p.boolean(o, "early-global-reservations-lookup"), false)
	c.EchoClientID = boolOr(p.boolean(o, "echo-client-id"), true)

	p.interfaces(o, c)
	p.leaseDatabase(o, &c.LeaseDatabase, defaultLeaseFile)
	p.hostsDatabases(o, c)
	c.ConfigControl = p.configControl(o)
	p.hostIdentifiers(o, c)

	global := p.parseScope(o, true)
	p.classes(o, c)
	c.Options = p.optionData(o, "option-data", p.defs)
	var resPaths []string
	p.list(o, "reservations", func(path string, it *jobj) {
		if r := p.reservation(path, it, 0); r != nil {
			c.Reservations = append(c.Reservations, r)
			resPaths = append(resPaths, path)
		}
	})
	p.checkReservationsAt(resPaths, c.Reservations)
	p.networks(o, c, global)
	p.checkClassRefs(c)

	p.serverScalars(o, c)
	p.expired(o, c)
	p.multiThreading(o, c)
	p.controlSockets(o, c)
	p.hooks(o, c)
	p.loggers(o, c)
	if x := p.sub(o, "xdhcp"); x != nil {
		p.xdhcpSeen = true
		p.xdhcp(x, &c.XDHCP)
	}
}

// serverScalars parses the top-level numbers and names Dhcp4 and Dhcp6
// write alike (Dhcp6 reads them into a scratch Config).
func (p *parser) serverScalars(o *jobj, c *Config) {
	c.DeclineProbationPeriod = defaultDeclineProbation
	if v := p.integer(o, "decline-probation-period", 0, 1<<32-1); v != nil {
		c.DeclineProbationPeriod = time.Duration(*v) * time.Second
	}
	c.ParkedPacketLimit = intOr(p.integer(o, "parked-packet-limit", 0, 1<<31-1), defaultParkedPacketLimit)
	c.StatisticDefaultSampleCount = intOr(p.integer(o, "statistic-default-sample-count", 0, 1<<31-1), defaultSampleCount)
	if v := p.integer(o, "statistic-default-sample-age", 0, 1<<32-1); v != nil {
		c.StatisticDefaultSampleAge = time.Duration(*v) * time.Second
	}
	if s := p.str(o, "server-tag"); s != nil {
		c.ServerTag = *s
	}
}

// interfaces parses interfaces-config.
func (p *parser) interfaces(o *jobj, c *Config) {
	c.DHCPSocketType = "raw"
	ic := p.sub(o, "interfaces-config")
	if ic == nil {
		return
	}
	defer p.finish(ic)
	ic.ignore("comment", "user-context")
	names, _ := p.strList(ic, "interfaces")
	for i, n := range names {
		path := ic.child("interfaces") + "[" + strconv.Itoa(i) + "]"
		spec := InterfaceSpec{Name: n}
		if name, addr, ok := cutLast(n, '/'); ok {
			a, err := parseIPv4(addr)
			if err != nil {
				p.errorf(path, "%q: %v after '/'", n, err)
				continue
			}
			spec.Name, spec.Addr = name, a
		}
		if spec.Name == "" {
			p.errorf(path, "empty interface name")
			continue
		}
		c.Interfaces = append(c.Interfaces, spec)
		if spec.Name != "*" {
			c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: path, Name: spec.Name})
		}
	}
	if t := p.str(ic, "dhcp-socket-type"); t != nil && p.oneOf(ic.child("dhcp-socket-type"), *t, "raw", "udp") {
		c.DHCPSocketType = *t
	}
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// leaseDatabase parses lease-database into db: memfile, postgresql or
// mysql. file is the family's default lease file.
func (p *parser) leaseDatabase(o *jobj, db *LeaseDatabase, file string) {
	db.Type, db.Persist, db.Name, db.LFCInterval, db.OnFail = "memfile", true, file, defaultLFCInterval, "stop-retry-exit"
	ld := p.sub(o, "lease-database")
	if ld == nil {
		return
	}
	defer p.finish(ld)
	ld.ignore("comment", "user-context")
	if t := p.str(ld, "type"); t != nil && p.oneOf(ld.child("type"), *t, "memfile", "mysql", "postgresql") {
		db.Type = *t
	}
	if db.Type != "memfile" {
		p.databaseConnection(ld, db)
	} else {
		db.Persist = boolOr(p.boolean(ld, "persist"), true)
		// An empty name means the default file, as in Kea.
		if s := p.str(ld, "name"); s != nil && *s != "" {
			db.Name = *s
		}
		if v := p.integer(ld, "lfc-interval", 0, 1<<32-1); v != nil {
			db.LFCInterval = time.Duration(*v) * time.Second
		}
		db.MaxRowErrors = intOr(p.integer(ld, "max-row-errors", 0, 1<<31-1), 0)
	}
	if s := p.str(ld, "on-fail"); s != nil && p.oneOf(ld.child("on-fail"), *s, "stop-retry-exit", "serve-retry-exit", "serve-retry-continue") {
		db.OnFail = *s
	}
	db.MaxReconnectTries = intOr(p.integer(ld, "max-reconnect-tries", 0, 1<<31-1), 0)
	if v := p.integer(ld, "reconnect-wait-time", 0, 1<<31-1); v != nil {
		db.ReconnectWaitTime = time.Duration(*v) * time.Millisecond
	}
}

// databaseConnection parses the connection parameters of a database
// lease-database (Kea 2.2's set; the memfile keys are accepted and
// ignored, as Kea does).
func (p *parser) databaseConnection(ld *jobj, db *LeaseDatabase) {
	db.Persist, db.LFCInterval = true, 0
	db.Name, db.Host = "", "localhost"
	if s := p.str(ld, "name"); s != nil {
		db.Name = *s
	}
	if db.Name == "" {
		p.errorf(ld.child("name"), "a %s lease database needs the database name", db.Type)
	}
	if s := p.str(ld, "host"); s != nil && *s != "" {
		db.Host = *s
	}
	db.Port = intOr(p.integer(ld, "port", 0, 65535), 0)
	for _, f := range []struct {
		key string
		dst *string
	}{{"user", &db.User}, {"password", &db.Password}, {"trust-anchor", &db.TrustAnchor},
		{"cert-file", &db.CertFile}, {"key-file", &db.KeyFile}, {"cipher-list", &db.CipherList}} {
		if s := p.str(ld, f.key); s != nil {
			*f.dst = *s
		}
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"connect-timeout", &db.ConnectTimeout}, {"read-timeout", &db.ReadTimeout}, {"write-timeout", &db.WriteTimeout},
		{"tcp-user-timeout", &db.TCPUserTimeout}} {
		if v := p.integer(ld, f.key, 0, 1<<31-1); v != nil {
			*f.dst = time.Duration(*v) * time.Second
		}
	}
	db.RetryOnStartup = boolOr(p.boolean(ld, "retry-on-startup"), false)
	if db.KeyFile != "" && db.CertFile == "" || db.CertFile != "" && db.KeyFile == "" {
		p.errorf(ld.child("cert-file"), "cert-file and key-file go together")
	}
	ld.ignore("persist", "lfc-interval", "max-row-errors")
}

// hostIdentifiers parses host-reservation-identifiers.
func (p *parser) hostIdentifiers(o *jobj, c *Config) {
	list, ok := p.strList(o, "host-reservation-identifiers")
	if !ok {
		c.HostReservationIdentifiers = []string{"hw-address", "duid", "circuit-id", "client-id"}
		return
	}
	for i, id := range list {
		path := o.child("host-reservation-identifiers") + "[" + strconv.Itoa(i) + "]"
		switch id {
		case "hw-address", "duid", "circuit-id", "client-id", "flex-id":
			if slices.Contains(c.HostReservationIdentifiers, id) {
				p.errorf(path, "identifier %q is listed twice", id)
				continue
			}
			c.HostReservationIdentifiers = append(c.HostReservationIdentifiers, id)
		default:
			p.errorf(path, "%q is not a host reservation identifier", id)
		}
	}
}

func (p *parser) expired(o *jobj, c *Config) {
	e := &c.ExpiredLeases
	*e = ExpiredLeasesProcessing{
		ReclaimTimerWaitTime:    defaultReclaimTimerWait,
		FlushReclaimedTimerWait: defaultFlushReclaimedWait,
		HoldReclaimedTime:       defaultHoldReclaimed,
		MaxReclaimLeases:        defaultMaxReclaimLeases,
		MaxReclaimTime:          defaultMaxReclaimTime,
		UnwarnedReclaimCycles:   defaultUnwarnedCycles,
	}
	x := p.sub(o, "expired-leases-processing")
	if x == nil {
		return
	}
	defer p.finish(x)
	x.ignore("comment", "user-context")
	secs := func(key string, dst *time.Duration, unit time.Duration) {
		if v := p.integer(x, key, 0, 1<<32-1); v != nil {
			*dst = time.Duration(*v) * unit
		}
	}
	secs("reclaim-timer-wait-time", &e.ReclaimTimerWaitTime, time.Second)
	secs("flush-reclaimed-timer-wait-time", &e.FlushReclaimedTimerWait, time.Second)
	secs("hold-reclaimed-time", &e.HoldReclaimedTime, time.Second)
	secs("max-reclaim-time", &e.MaxReclaimTime, time.Millisecond)
	e.MaxReclaimLeases = intOr(p.integer(x, "max-reclaim-leases", 0, 1<<31-1), e.MaxReclaimLeases)
	e.UnwarnedReclaimCycles = intOr(p.integer(x, "unwarned-reclaim-cycles", 0, 1<<31-1), e.UnwarnedReclaimCycles)
}

func (p *parser) multiThreading(o *jobj, c *Config) {
	// xdhcp defaults to multi-threaded like Kea 2.4+; Kea 2.2's false is
	// accepted when written explicitly.
	c.MultiThreading = MultiThreading{Enable: true, PacketQueueSize: defaultPacketQueueSize}
	mt := p.sub(o, "multi-threading")
	if mt == nil {
		return
	}
	defer p.finish(mt)
	mt.ignore("comment", "user-context")
	c.MultiThreading.Enable = boolOr(p.boolean(mt, "enable-multi-threading"), true)
	c.MultiThreading.ThreadPoolSize = intOr(p.integer(mt, "thread-pool-size", 0, 65535), 0)
	c.MultiThreading.PacketQueueSize = intOr(p.integer(mt, "packet-queue-size", 0, 1<<31-1), defaultPacketQueueSize)
}

func (p *parser) loggers(o *jobj, c *Config) {
	p.list(o, "loggers", func(path string, it *jobj) {
		defer p.finish(it)
		it.ignore("comment", "user-context")
		var l Logger
		if s := p.str(it, "name"); s != nil {
			l.Name = *s
		} else {
			p.errorf(path, "logger needs a name")
		}
		l.Severity = "INFO"
		if s := p.str(it, "severity"); s != nil && p.oneOf(it.child("severity"), *s, "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "NONE") {
			l.Severity = *s
		}
		l.DebugLevel = intOr(p.integer(it, "debuglevel", 0, 99), 0)
		outputs := func(key string) {
			p.list(it, key, func(op string, oo *jobj) {
				defer p.finish(oo)
				oo.ignore("comment", "user-context")
				o := LogOutput{
					MaxSize: int64(intOr(p.integer(oo, "maxsize", 0, 1<<50), 10240000)),
					MaxVer:  int(intOr(p.integer(oo, "maxver", 0, 1000), 1)),
					// Kea's flush (default true) is !Buffered.
					Buffered: !boolOr(p.boolean(oo, "flush"), true),
				}
				if s := p.str(oo, "pattern"); s != nil {
					o.Pattern = *s
				}
				o.Format = "text"
				if s := p.str(oo, "format"); s != nil && p.oneOf(oo.child("format"), *s, "text", "json") {
					o.Format = *s
				}
				if s := p.str(oo, "output"); s != nil {
					o.Output = *s
					l.Outputs = append(l.Outputs, *s)
					l.OutputOptions = append(l.OutputOptions, o)
				} else {
					p.errorf(op, "output option needs an output")
				}
			})
		}
		outputs("output_options")
		outputs("output-options") // Kea 3 spelling
		c.Loggers = append(c.Loggers, l)
	})
}

// Hook libraries that xdhcp implements natively or hands to another package.
const (
	hookLeaseCmds = "libdhcp_lease_cmds.so"
	hookHA        = "libdhcp_ha.so"
	hookFlexID    = "libdhcp_flex_id.so"
	hookStatCmds  = "libdhcp_stat_cmds.so"
	// Forensic logging and run-script: their parameters are read by the
	// packages that implement them, when the daemon starts.
	hookLegalLog  = "libdhcp_legal_log.so"
	hookRunScript = "libdhcp_run_script.so"
	// BOOTP: the engine serves BOOTP requests itself when it is listed.
	hookBOOTP = "libdhcp_bootp.so"
)

func (p *parser) hooks(o *jobj, c *Config) {
	p.list(o, "hooks-libraries", func(path string, it *jobj) {
		defer p.finish(it)
		it.ignore("comment", "user-context")
		lib := p.str(it, "library")
		if lib == nil || *lib == "" {
			p.errorf(path+".library", "missing hook library path")
			return
		}
		h := Hook{Library: *lib}
		if raw, ok := it.take("parameters"); ok {
			if kindOf(raw) != "object" {
				p.errorf(path+".parameters", "expected a JSON object, got %s", kindOf(raw))
			} else {
				h.Parameters = append(json.RawMessage(nil), raw...)
			}
		}
		switch base := filepath.Base(*lib); {
		case (base == hookLeaseCmds || base == hookHA || base == hookLegalLog || base == hookRunScript ||
			base == hookStatCmds || base == hookFlexID || base == hookBOOTP) && hookPathProblem(*lib) != "":
			// Kea 2.6.3 refuses a hook outside its hooks directory.
			p.errorf(path+".library", "%s: %s", *lib, hookPathProblem(*lib))
			return
		case base == hookLeaseCmds, base == hookLegalLog, base == hookRunScript, base == hookStatCmds:
		case base == hookFlexID:
			p.flexIDHook(path, h.Parameters, c)
		case base == hookBOOTP:
			c.BOOTP = true
		case base == hookHA:
			p.haHook(path, h.Parameters, c)
		default:
			p.warnf(path+".library", "%s: hook library not supported by xdhcp, ignored", *lib)
		}
		c.Hooks = append(c.Hooks, h)
	})
}

// CheckInterfaces reports, as kea-dhcp4 -t and kea-dhcp6 -t do, every
// interface the configuration (Dhcp4 and Dhcp6) names that exists reports
// missing on this system.
func (c *Config) CheckInterfaces(exists func(name string) bool) error {
	var errs []error
	refs := c.InterfaceRefs
	if c.Dhcp6 != nil {
		refs = append(slices.Clip(refs), c.Dhcp6.InterfaceRefs...)
	}
	for _, r := range refs {
		if !exists(r.Name) {
			errs = append(errs, &FieldError{Path: r.Path, Msg: fmt.Sprintf("interface %q does not exist on this system", r.Name)})
		}
	}
	if c.Dhcp6 != nil {
		errs = append(errs, c.Dhcp6.checkUnicast(exists)...)
	}
	return errors.Join(errs...)
}

// SubnetByID returns the subnet with the given id, or nil.
func (c *Config) SubnetByID(id uint32) *Subnet {
	for _, s := range c.Subnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Class returns the client class with the given name, or nil.
func (c *Config) Class(name string) *Class {
	for _, cl := range c.Classes {
		if cl.Name == name {
			return cl
		}
	}
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int64, def int) int {
	if p == nil {
		return def
	}
	return int(*p)
}

func itoa(i int) string { return strconv.Itoa(i) }
