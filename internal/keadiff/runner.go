package keadiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// KeaBinary is Debian's Kea 2.2 DHCPv4 server.
const KeaBinary = "/usr/sbin/kea-dhcp4"

// answerWait bounds the wait for one answer; a request neither server
// answers costs this much.
const answerWait = 1500 * time.Millisecond

// Client is one simulated client of a scenario.
type Client struct {
	Name string
	MAC  net.HardwareAddr
	// Subnet is the index (in Plan.Subnets) of the subnet whose link
	// carries the client: direct on the server interface in that subnet
	// (the first interface when none is), or relayed with a giaddr in it.
	Subnet  int
	Relayed bool
	// Giaddr, when valid, is the relay address instead of the subnet's.
	Giaddr netip.Addr
	// Options go into every message the client sends (a relay's option 82
	// included); without option 55 the client asks for every option.
	Options []dhcpv4.Option
	// Broadcast sets the broadcast flag.
	Broadcast bool
	// BOOTP sends one BOOTREQUEST (no option 53) instead of DISCOVER and
	// REQUEST.
	BOOTP bool
	// HType overrides the hardware type (1, Ethernet, by default).
	HType uint8
}

// Case is one request sent to both servers and the two answers.
type Case struct {
	Name    string // scenario/client/message
	Kea, XD *Reply
	Diffs   []Diff
}

// Runner holds one scenario's two servers.
type Runner struct {
	t       testing.TB
	Name    string
	Plan    *Plan
	Kea, XD *Side
	// Adapted says what Adapt changed in the configuration.
	Adapted []string
	// KeaRefused says why kea-dhcp4 -t refused the adapted configuration,
	// or why kea-dhcp4 did not start on it (nothing runs then). XDRefused
	// says the same of xdhcpd, which is recorded as a difference of case
	// "<scenario>/-/config".
	KeaRefused, XDRefused string
	Cases                 []Case
}

// XDPMode is the packet path xdhcpd runs on in the comparison: socket mode
// ("off") unless KEADIFF_XDP_MODE names another xdhcp.xdp.mode ("auto"
// attaches XDP to the lab's veth, so that renewals take the fast path).
func XDPMode() string {
	if m := os.Getenv("KEADIFF_XDP_MODE"); m != "" {
		return m
	}
	return "off"
}

// Start builds both labs for the configuration doc (decoded, unadapted),
// checks it with kea-dhcp4 -t and xdhcpd -t, and runs kea-dhcp4 and the
// xdhcpd binary on it when both accept it. The two configurations
// differ only in their directories and in xdhcpd's "xdhcp" section, which
// selects the packet path (XDPMode; Kea refuses an unknown top-level key).
func Start(t testing.TB, name string, doc map[string]any, xdhcpd string) *Runner {
	t.Helper()
	if _, err := exec.LookPath(KeaBinary); err != nil {
		t.Skipf("kea-dhcp4 is not installed: %v", err)
	}
	plan, err := PlanOf(doc)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{t: t, Name: name, Plan: plan}
	r.Kea = newSide(t, "kea", "kd-k", plan)
	r.XD = newSide(t, "xdhcpd", "kd-x", plan)

	kdoc, xdoc := clone(t, doc), clone(t, doc)
	if r.Adapted, err = Adapt(kdoc, r.Kea.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Adapt(xdoc, r.XD.dir); err != nil {
		t.Fatal(err)
	}
	xdoc["xdhcp"] = map[string]any{"xdp": map[string]any{"mode": XDPMode()}}
	kcfg, xcfg := r.Kea.writeConfig(kdoc), r.XD.writeConfig(xdoc)
	keaEnv := []string{"KEA_PIDFILE_DIR=" + r.Kea.dir, "KEA_LOCKFILE_DIR=" + r.Kea.dir}
	if r.KeaRefused = r.Kea.check(keaEnv, KeaBinary, "-t", kcfg); r.KeaRefused != "" {
		return r
	}
	refused := func(why string) *Runner {
		r.XDRefused = why
		r.Cases = append(r.Cases, Case{Name: name + "/-/config",
			Diffs: []Diff{{Field: "config", Kea: "accepted", XD: "refused: " + why}}})
		return r
	}
	if why := r.XD.check(nil, xdhcpd, "-t", xcfg); why != "" {
		return refused(why)
	}
	if err := r.Kea.launch([]string{KeaBinary, "-c", kcfg}, keaEnv, "DHCP4_STARTED"); err != nil {
		r.KeaRefused = err.Error()
		return r
	}
	if err := r.XD.launch([]string{xdhcpd, "-c", xcfg}, nil, "xdhcpd serving"); err != nil {
		return refused(err.Error())
	}
	return r
}

func clone(t testing.TB, doc map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// route says how a client's messages reach the servers.
type route struct {
	link   int
	giaddr netip.Addr // invalid: direct
	from   netip.Addr // direct: the client's own address (a unicast renewal)
}

func (r *Runner) routeOf(c Client) (route, error) {
	if c.Subnet < 0 || c.Subnet >= len(r.Plan.Subnets) {
		return route{}, fmt.Errorf("client %s: subnet index %d out of range", c.Name, c.Subnet)
	}
	s := r.Plan.Subnets[c.Subnet]
	rt := route{link: max(r.Plan.IfaceFor(s), 0)}
	if !c.Relayed {
		return rt, nil
	}
	rt.giaddr = c.Giaddr
	if !rt.giaddr.IsValid() {
		g, err := r.Plan.RelayFor(s)
		if err != nil {
			return rt, err
		}
		rt.giaddr = g
	}
	for _, side := range []*Side{r.Kea, r.XD} {
		if err := side.addAddr(rt.link, rt.giaddr); err != nil {
			return rt, err
		}
	}
	return rt, nil
}

// frame returns how side puts a message of c on its link.
func (rt route) frame(side *Side, c Client) Frame {
	if rt.giaddr.IsValid() {
		return Frame{SrcMAC: side.cliMAC[rt.link], DstMAC: side.srvMAC[rt.link],
			SrcIP: rt.giaddr, DstIP: side.plan.Ifaces[rt.link].Addr.Addr(), SrcPort: 67}
	}
	src := side.cliMAC[rt.link]
	if len(c.MAC) == 6 {
		src = c.MAC
	}
	if rt.from.IsValid() {
		return Frame{SrcMAC: src, DstMAC: side.srvMAC[rt.link],
			SrcIP: rt.from, DstIP: side.plan.Ifaces[rt.link].Addr.Addr(), SrcPort: 68}
	}
	return Frame{SrcMAC: src, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		SrcIP: netip.IPv4Unspecified(), DstIP: netip.AddrFrom4([4]byte{255, 255, 255, 255}), SrcPort: 68}
}

// allOptions is the parameter request list of a client that names none:
// every code, so that every option the configuration would give is sent.
func allOptions() dhcpv4.Option {
	var codes dhcpv4.OptionCodeList
	for c := 1; c < 255; c++ {
		codes = append(codes, dhcpv4.GenericOptionCode(c))
	}
	return dhcpv4.OptParameterRequestList(codes...)
}

// message builds one request of c of type typ (none for BOOTP) with the
// extra options (a REQUEST's requested address and server identifier,
// which differ per server) before the client's own.
func (r *Runner) message(c Client, rt route, xid dhcpv4.TransactionID, typ dhcpv4.MessageType, extra ...dhcpv4.Option) (*dhcpv4.DHCPv4, error) {
	m, err := dhcpv4.New(dhcpv4.WithTransactionID(xid), dhcpv4.WithHwAddr(c.MAC))
	if err != nil {
		return nil, err
	}
	if c.HType != 0 {
		m.HWType = iana.HWType(c.HType)
	}
	if c.Broadcast {
		m.SetBroadcast()
	}
	if rt.giaddr.IsValid() {
		m.GatewayIPAddr = rt.giaddr.AsSlice()
		m.HopCount = 1
	}
	if !c.BOOTP {
		m.UpdateOption(dhcpv4.OptMessageType(typ))
	}
	for _, o := range extra {
		m.UpdateOption(o)
	}
	hasPRL := false
	for _, o := range c.Options {
		m.UpdateOption(o)
		hasPRL = hasPRL || o.Code.Code() == 55
	}
	if !hasPRL && !c.BOOTP {
		m.UpdateOption(allOptions())
	}
	return m, nil
}

// roundTrip sends the message built for each side and waits for both
// answers.
func (r *Runner) roundTrip(c Client, rt route, build func(side *Side) (*dhcpv4.DHCPv4, error)) (kea, xd *Reply, err error) {
	return r.roundTripVia(c, func(*Side) route { return rt }, build)
}

// roundTripVia is roundTrip with a route per side.
func (r *Runner) roundTripVia(c Client, via func(*Side) route, build func(side *Side) (*dhcpv4.DHCPv4, error)) (kea, xd *Reply, err error) {
	var out [2]*Reply
	var wg sync.WaitGroup
	for i, side := range []*Side{r.Kea, r.XD} {
		m, err := build(side)
		if err != nil {
			return nil, nil, err
		}
		ch := side.l.expect(m.TransactionID)
		rt := via(side)
		if err := side.links[rt.link].send(rt.frame(side, c).Encode(m.ToBytes())); err != nil {
			return nil, nil, fmt.Errorf("send to %s: %w", side.Name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = side.l.await(m.TransactionID, ch, answerWait)
		}()
	}
	wg.Wait()
	return out[0], out[1], nil
}

// Exchange runs client c against both servers: DISCOVER, then REQUEST for
// the address each server offered, then its renewal and an INFORM from
// that address (or BOOTREQUEST alone), records the cases and returns them.
func (r *Runner) Exchange(c Client) []Case {
	r.t.Helper()
	rt, err := r.routeOf(c)
	if err != nil {
		r.t.Fatal(err)
	}
	xid, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		r.t.Fatal(err)
	}
	first := "DISCOVER"
	if c.BOOTP {
		first = "BOOTREQUEST"
	}
	kea, xd, err := r.roundTrip(c, rt, func(*Side) (*dhcpv4.DHCPv4, error) {
		return r.message(c, rt, xid, dhcpv4.MessageTypeDiscover)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	cases := []Case{r.record(c, first, kea, xd)}
	if c.BOOTP || (kea == nil && xd == nil) {
		return cases
	}
	offers := map[*Side]*Reply{r.Kea: kea, r.XD: xd}
	xid2, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		r.t.Fatal(err)
	}
	kea2, xd2, err := r.roundTrip(c, rt, func(side *Side) (*dhcpv4.DHCPv4, error) {
		o := offers[side]
		if o == nil { // ask for what the other one offered
			o = kea
			if o == nil {
				o = xd
			}
		}
		return r.message(c, rt, xid2, dhcpv4.MessageTypeRequest,
			dhcpv4.OptRequestedIPAddress(o.Msg.YourIPAddr),
			dhcpv4.OptServerIdentifier(o.Msg.ServerIdentifier()))
	})
	if err != nil {
		r.t.Fatal(err)
	}
	cases = append(cases, r.record(c, "REQUEST", kea2, xd2))
	if kea2 == nil && xd2 == nil {
		return cases
	}
	acks := map[*Side]*Reply{r.Kea: kea2, r.XD: xd2}
	return append(cases, r.fromAddress(c, rt, acks, dhcpv4.MessageTypeRequest, "RENEW"),
		r.fromAddress(c, rt, acks, dhcpv4.MessageTypeInform, "INFORM"))
}

// fromAddress sends a message of a client that has the address each server
// acknowledged (the other's when one did not) in ciaddr: a renewal
// (REQUEST) or an INFORM, unicast from that address when the client is
// direct, through the relay otherwise (as a relay forwards a REBINDING
// client's broadcast).
func (r *Runner) fromAddress(c Client, rt route, acks map[*Side]*Reply, typ dhcpv4.MessageType, name string) Case {
	r.t.Helper()
	addr := func(side *Side) netip.Addr {
		a := acks[side]
		if a == nil {
			a = acks[r.Kea]
			if a == nil {
				a = acks[r.XD]
			}
		}
		ip, _ := netip.AddrFromSlice(a.Msg.YourIPAddr.To4())
		return ip
	}
	xid, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		r.t.Fatal(err)
	}
	via := func(side *Side) route {
		if rt.giaddr.IsValid() {
			return rt
		}
		return route{link: rt.link, from: addr(side)}
	}
	for _, side := range []*Side{r.Kea, r.XD} {
		// A server sending through the kernel (Kea's UDP sockets) must
		// be able to resolve the client's address.
		if a := addr(side); a.IsValid() && !a.IsUnspecified() {
			if err := side.addAddr(rt.link, a); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	kea, xd, err := r.roundTripVia(c, via, func(side *Side) (*dhcpv4.DHCPv4, error) {
		m, err := r.message(c, rt, xid, typ)
		if err == nil {
			m.ClientIPAddr = addr(side).AsSlice()
		}
		return m, err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.record(c, name, kea, xd)
}

func (r *Runner) record(c Client, msg string, kea, xd *Reply) Case {
	cs := Case{Name: r.Name + "/" + c.Name + "/" + msg, Kea: kea, XD: xd, Diffs: Compare(r.Plan, kea, xd)}
	r.Cases = append(r.Cases, cs)
	return cs
}

// Summary is one line per answer, for a test log.
func (cs Case) Summary() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: kea %s, xdhcpd %s", cs.Name, describe(cs.Kea), describe(cs.XD))
	for _, d := range cs.Diffs {
		fmt.Fprintf(&b, "\n    %s: kea %s / xdhcpd %s", d.Field, d.Kea, d.XD)
	}
	return b.String()
}

func describe(r *Reply) string {
	if r == nil {
		return "no answer"
	}
	codes := make([]int, 0, len(r.Msg.Options))
	for c := range r.Msg.Options {
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	typ := "BOOTREPLY"
	if t := r.Msg.MessageType(); t != dhcpv4.MessageTypeNone {
		typ = t.String()
	}
	return fmt.Sprintf("%s %s to %s:%d options %v", typ, r.Msg.YourIPAddr, r.DstIP, r.DstPort, codes)
}
