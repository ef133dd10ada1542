package keadiff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DebianHooks is where Debian's Kea 2.2 packages install their hook
// libraries.
const DebianHooks = "/usr/lib/x86_64-linux-gnu/kea/hooks"

// Decode reads the text of a Kea configuration file into a JSON document:
// comments ("#", "//", "/* */") and commas before a closing bracket, which
// Kea's parser accepts, are dropped; numbers keep their spelling.
func Decode(text []byte) (map[string]any, error) {
	plain, err := plainJSON(text)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode configuration: %w", err)
	}
	return doc, nil
}

// plainJSON removes what Kea's lexer accepts beyond JSON: comments outside
// strings, and a comma whose next token closes an object or array.
func plainJSON(text []byte) ([]byte, error) {
	var out []byte
	pendingComma := -1 // index in out of a comma not yet followed by a token
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			end, err := stringEnd(text, i)
			if err != nil {
				return nil, err
			}
			out = append(out, text[i:end]...)
			pendingComma = -1
			i = end - 1
		case c == '#' || c == '/' && i+1 < len(text) && text[i+1] == '/':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			out = append(out, '\n')
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := bytes.Index(text[i+2:], []byte("*/"))
			if end < 0 {
				return nil, errors.New("unterminated /* comment")
			}
			i += 2 + end + 1
			out = append(out, ' ')
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			out = append(out, c)
		case c == '}' || c == ']':
			if pendingComma >= 0 {
				out[pendingComma] = ' '
			}
			pendingComma = -1
			out = append(out, c)
		case c == ',':
			pendingComma = len(out)
			out = append(out, c)
		case c == '.' && lastToken(out) != 0 && strings.IndexByte(":,[", lastToken(out)) >= 0:
			// Kea reads ".5" as 0.5.
			pendingComma = -1
			out = append(out, '0', c)
		default:
			pendingComma = -1
			out = append(out, c)
		}
	}
	return out, nil
}

// lastToken is the last byte of out that is not white space, or 0.
func lastToken(out []byte) byte {
	t := bytes.TrimRight(out, " \t\r\n")
	if len(t) == 0 {
		return 0
	}
	return t[len(t)-1]
}

// stringEnd returns the index just past the JSON string starting at i.
func stringEnd(text []byte, i int) (int, error) {
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

// Adapt points the paths of a configuration into the lab directory dir and
// returns what it changed, one line each. Nothing else changes: the lab
// gives the servers the interface names the configuration uses.
//
//   - lease-database: a memfile lease file goes to dir; an SQL lease
//     database becomes a memfile in dir (the lab has no database server);
//     none (Kea's default file under /var/lib/kea) becomes a memfile in dir.
//   - hosts-database(s): removed (no database server in the lab).
//   - control-socket: the UNIX socket goes to dir; one is added where the
//     configuration has none, for readiness and lease queries.
//   - hooks-libraries: a library is taken from Debian's hook directory
//     when one of the same file name is installed there.
//   - loggers: outputs to files go to stdout (the harness keeps it).
func Adapt(doc map[string]any, dir string) ([]string, error) {
	d4, ok := doc["Dhcp4"].(map[string]any)
	if !ok {
		return nil, errors.New("no Dhcp4 object")
	}
	var did []string
	leases := filepath.Join(dir, "leases4.csv")
	switch db, _ := d4["lease-database"].(map[string]any); {
	case db == nil:
		d4["lease-database"] = map[string]any{"type": "memfile", "name": leases}
		did = append(did, "lease-database: memfile in the lab (none configured)")
	case db["type"] == "memfile":
		db["name"] = leases
		did = append(did, "lease-database.name: the lab's lease file")
	default:
		d4["lease-database"] = map[string]any{"type": "memfile", "name": leases}
		did = append(did, fmt.Sprintf("lease-database: %v replaced by memfile in the lab", db["type"]))
	}
	for _, k := range []string{"hosts-database", "hosts-databases"} {
		if _, ok := d4[k]; ok {
			delete(d4, k)
			did = append(did, k+": removed (no database server in the lab)")
		}
	}
	sock := filepath.Join(dir, "control.sock")
	if cs, ok := d4["control-socket"].(map[string]any); ok {
		cs["socket-type"], cs["socket-name"] = "unix", sock
		did = append(did, "control-socket.socket-name: in the lab")
	} else {
		d4["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		did = append(did, "control-socket: added (UNIX socket in the lab)")
	}
	if hooks, ok := d4["hooks-libraries"].([]any); ok {
		for i, h := range hooks {
			hm, _ := h.(map[string]any)
			lib, _ := hm["library"].(string)
			deb := filepath.Join(DebianHooks, filepath.Base(lib))
			if lib == "" || lib == deb {
				continue
			}
			if _, err := os.Stat(deb); err == nil {
				hm["library"] = deb
				did = append(did, fmt.Sprintf("hooks-libraries[%d].library: %s", i, deb))
			}
		}
	}
	loggers := asList(d4["loggers"])
	if lg, ok := doc["Logging"].(map[string]any); ok {
		loggers = append(loggers, asList(lg["loggers"])...)
	}
	for _, l := range loggers {
		lm, _ := l.(map[string]any)
		for _, o := range asList(lm["output_options"]) {
			om, _ := o.(map[string]any)
			if out, _ := om["output"].(string); out != "stdout" && out != "stderr" && !strings.HasPrefix(out, "syslog") {
				om["output"] = "stdout"
				did = append(did, fmt.Sprintf("loggers: output %s to stdout", out))
			}
		}
	}
	return did, nil
}

// Subnet is what the harness needs of one subnet4 entry.
type Subnet struct {
	ID      int64
	Prefix  netip.Prefix
	Pools   []Range
	Iface   string       // "interface" of the subnet or its shared network
	Relays  []netip.Addr // relay.ip-addresses of the subnet or its shared network
	Network string       // shared network name, "" outside one
	Hosts   []Host
}

// Range is an inclusive address range (one pool).
type Range struct{ First, Last netip.Addr }

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	return r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// Host is one reservation.
type Host struct {
	SubnetID                    int64 // 0 for a global reservation
	HWAddr, ClientID, CircuitID string
	FlexID                      string
	IP                          netip.Addr
}

// Plan is the configuration as the lab must mirror it.
type Plan struct {
	Subnets []Subnet
	Hosts   []Host // global reservations
	// Ifaces are the server's interfaces, in the order the lab creates
	// them, each with the address the lab gives it (invalid: none).
	Ifaces []Iface
	// Local are addresses the server must own besides its interfaces'
	// (the DHCP-DDNS sender address, this server's HA peer URL), put on
	// the lab's loopback.
	Local []netip.Addr
}

// Iface is one server interface of the lab.
type Iface struct {
	Name string
	Addr netip.Prefix
}

// PlanOf reads subnets, pools, reservations and interface names out of a
// configuration and chooses the lab's addresses: each server interface
// gets an address in the subnet bound to it (or the first unbound subnet),
// from the top of the subnet, outside every pool and reservation.
func PlanOf(doc map[string]any) (*Plan, error) {
	d4, _ := doc["Dhcp4"].(map[string]any)
	p := &Plan{}
	add := func(list []any, network, iface string, relays []netip.Addr) error {
		for _, s := range list {
			sm, _ := s.(map[string]any)
			sn, err := subnetOf(sm, network, iface, relays)
			if err != nil {
				return err
			}
			p.Subnets = append(p.Subnets, sn)
		}
		return nil
	}
	top, _ := d4["subnet4"].([]any)
	if err := add(top, "", "", nil); err != nil {
		return nil, err
	}
	nets, _ := d4["shared-networks"].([]any)
	for _, n := range nets {
		nm, _ := n.(map[string]any)
		name, _ := nm["name"].(string)
		iface, _ := nm["interface"].(string)
		list, _ := nm["subnet4"].([]any)
		if err := add(list, name, iface, relayAddrs(nm)); err != nil {
			return nil, err
		}
	}
	for _, h := range asList(d4["reservations"]) {
		p.Hosts = append(p.Hosts, hostOf(h, 0))
	}
	if dd, ok := d4["dhcp-ddns"].(map[string]any); ok {
		if s, ok := dd["sender-ip"].(string); ok {
			if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() && !ip.IsUnspecified() && !ip.IsLoopback() {
				p.Local = append(p.Local, ip)
			}
		}
	}
	p.Local = append(p.Local, haOwnURLAddrs(d4)...)
	return p, p.chooseIfaces(d4)
}

// haOwnURLAddrs are the addresses of this server's own peer URLs in the HA
// hook's relationships: xdhcpd serves that URL itself (Kea leaves it to
// kea-ctrl-agent, which the suite does not run), so the address must be
// the server's.
func haOwnURLAddrs(d4 map[string]any) []netip.Addr {
	var out []netip.Addr
	for _, h := range asList(d4["hooks-libraries"]) {
		hm, _ := h.(map[string]any)
		params, _ := hm["parameters"].(map[string]any)
		for _, r := range asList(params["high-availability"]) {
			rm, _ := r.(map[string]any)
			me, _ := rm["this-server-name"].(string)
			for _, peer := range asList(rm["peers"]) {
				pm, _ := peer.(map[string]any)
				name, _ := pm["name"].(string)
				raw, _ := pm["url"].(string)
				u, err := url.Parse(raw)
				if name != me || err != nil {
					continue
				}
				if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Is4() && !ip.IsLoopback() {
					out = append(out, ip)
				}
			}
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

func relayAddrs(m map[string]any) []netip.Addr {
	r, _ := m["relay"].(map[string]any)
	var out []netip.Addr
	for _, a := range asList(r["ip-addresses"]) {
		if s, ok := a.(string); ok {
			if ip, err := netip.ParseAddr(s); err == nil {
				out = append(out, ip)
			}
		}
	}
	if s, ok := r["ip-address"].(string); ok {
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

func subnetOf(m map[string]any, network, iface string, relays []netip.Addr) (Subnet, error) {
	s := Subnet{Network: network, Iface: iface, Relays: relays}
	if own, ok := m["interface"].(string); ok {
		s.Iface = own
	}
	if own := relayAddrs(m); len(own) > 0 {
		s.Relays = own
	}
	if id, ok := m["id"].(json.Number); ok {
		s.ID, _ = id.Int64()
	}
	str, _ := m["subnet"].(string)
	pfx, err := netip.ParsePrefix(str)
	if err != nil {
		return s, fmt.Errorf("subnet %q: %w", str, err)
	}
	s.Prefix = pfx.Masked()
	for _, pl := range asList(m["pools"]) {
		pm, _ := pl.(map[string]any)
		spec, _ := pm["pool"].(string)
		r, err := ParseRange(spec)
		if err != nil {
			return s, err
		}
		s.Pools = append(s.Pools, r)
	}
	for _, h := range asList(m["reservations"]) {
		s.Hosts = append(s.Hosts, hostOf(h, s.ID))
	}
	return s, nil
}

// ParseRange reads a pool as Kea writes it: "first - last" or a prefix.
func ParseRange(spec string) (Range, error) {
	spec = strings.TrimSpace(spec)
	if a, b, ok := strings.Cut(spec, "-"); ok {
		first, err1 := netip.ParseAddr(strings.TrimSpace(a))
		last, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err := errors.Join(err1, err2); err != nil {
			return Range{}, fmt.Errorf("pool %q: %w", spec, err)
		}
		return Range{first, last}, nil
	}
	pfx, err := netip.ParsePrefix(spec)
	if err != nil {
		return Range{}, fmt.Errorf("pool %q: %w", spec, err)
	}
	return Range{pfx.Masked().Addr(), lastOf(pfx)}, nil
}

// lastOf is the highest address of a prefix.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func hostOf(v any, subnet int64) Host {
	m, _ := v.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	h := Host{SubnetID: subnet, HWAddr: str("hw-address"), ClientID: str("client-id"),
		CircuitID: str("circuit-id"), FlexID: str("flex-id")}
	h.IP, _ = netip.ParseAddr(str("ip-address"))
	return h
}

// Reserved reports whether a is the address of a reservation.
func (p *Plan) Reserved(a netip.Addr) bool {
	for _, h := range p.allHosts() {
		if h.IP == a {
			return true
		}
	}
	return false
}

func (p *Plan) allHosts() []Host {
	hs := slices.Clone(p.Hosts)
	for _, s := range p.Subnets {
		hs = append(hs, s.Hosts...)
	}
	return hs
}

// PoolOf names the pool holding a ("subnet 1 pool 0"), or "" if none does.
func (p *Plan) PoolOf(a netip.Addr) string {
	for _, s := range p.Subnets {
		for i, r := range s.Pools {
			if r.Contains(a) {
				return fmt.Sprintf("subnet %d (%s) pool %d", s.ID, s.Prefix, i)
			}
		}
	}
	return ""
}

// used reports whether the lab must not take a: a pool, reservation,
// relay or lab interface address.
func (p *Plan) used(a netip.Addr) bool {
	return p.PoolOf(a) != "" || p.Reserved(a) || p.labUsed(a)
}

// labUsed reports whether a relay or a lab interface has a.
func (p *Plan) labUsed(a netip.Addr) bool {
	for _, s := range p.Subnets {
		if slices.Contains(s.Relays, a) {
			return true
		}
	}
	for _, i := range p.Ifaces {
		if i.Addr.IsValid() && i.Addr.Addr() == a {
			return true
		}
	}
	return false
}

// FreeAddr returns the highest host address of s that no pool,
// reservation, relay or lab interface uses; when pools and reservations
// take every address (some examples' pools cover the whole subnet), the
// highest one no relay or lab interface uses.
func (p *Plan) FreeAddr(s Subnet) (netip.Addr, error) {
	for _, taken := range []func(netip.Addr) bool{p.used, p.labUsed} {
		a := lastOf(s.Prefix).Prev()
		for range 4096 {
			if !a.IsValid() || !s.Prefix.Contains(a) || a == s.Prefix.Addr() {
				break
			}
			if !taken(a) {
				return a, nil
			}
			a = a.Prev()
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address for the lab in %s", s.Prefix)
}

// chooseIfaces names the server interfaces after the configuration and
// gives each an address.
func (p *Plan) chooseIfaces(d4 map[string]any) error {
	ic, _ := d4["interfaces-config"].(map[string]any)
	var names []string
	pinned := map[string]netip.Addr{}
	addName := func(n string) {
		if n != "" && n != "*" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, v := range asList(ic["interfaces"]) {
		s, _ := v.(string)
		name, addr, _ := strings.Cut(s, "/")
		if ip, err := netip.ParseAddr(addr); err == nil {
			pinned[name] = ip
		}
		addName(name)
	}
	for _, s := range p.Subnets {
		addName(s.Iface)
	}
	if len(names) == 0 {
		names = []string{"eth0"}
	}
	taken := map[int]bool{}
	for _, n := range names {
		ifc := Iface{Name: n}
		idx := -1
		for i, s := range p.Subnets {
			if s.Iface == n || (pinned[n].IsValid() && s.Prefix.Contains(pinned[n])) {
				idx = i
				break
			}
		}
		for i, s := range p.Subnets {
			if idx < 0 && s.Iface == "" && !taken[i] {
				idx = i
			}
		}
		switch {
		case pinned[n].IsValid() && idx >= 0:
			ifc.Addr = netip.PrefixFrom(pinned[n], p.Subnets[idx].Prefix.Bits())
		case pinned[n].IsValid():
			ifc.Addr = netip.PrefixFrom(pinned[n], 24)
		case idx >= 0:
			a, err := p.FreeAddr(p.Subnets[idx])
			if err != nil {
				return err
			}
			ifc.Addr = netip.PrefixFrom(a, p.Subnets[idx].Prefix.Bits())
		}
		if idx >= 0 {
			taken[idx] = true
		}
		p.Ifaces = append(p.Ifaces, ifc)
	}
	return nil
}

// IfaceFor returns the index of the server interface whose address lies in
// s, or -1.
func (p *Plan) IfaceFor(s Subnet) int {
	for i, ifc := range p.Ifaces {
		if ifc.Addr.IsValid() && s.Prefix.Contains(ifc.Addr.Addr()) {
			return i
		}
	}
	return -1
}

// RelayFor returns the giaddr a relay of subnet s uses: its configured
// relay address, else a free address of the subnet.
func (p *Plan) RelayFor(s Subnet) (netip.Addr, error) {
	if len(s.Relays) > 0 {
		return s.Relays[0], nil
	}
	a, err := p.FreeAddr(s)
	if err != nil {
		return a, err
	}
	// Claim it, so that the next relay of this subnet gets its own.
	for i := range p.Subnets {
		if p.Subnets[i].Prefix == s.Prefix && p.Subnets[i].ID == s.ID {
			p.Subnets[i].Relays = []netip.Addr{a}
		}
	}
	return a, nil
}
