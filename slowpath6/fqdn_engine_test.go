package slowpath6_test

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath6"
)

// fqdnEngine is an engine on diffConfig's subnets with naming rules on
// subnet 1 (suffix, sanitizer, generated prefix as given) and a hostname
// on the reserved client's reservation.
func fqdnEngine(t testing.TB, rules config.HostnameRules) (*slowpath6.Server, *memStore, *stats.Registry) {
	t.Helper()
	cfg := engineConfig(t.TempDir())
	sn := subnet1(cfg)
	sn.Hostnames = rules
	for _, r := range sn.Reservations {
		if bytes.Equal(r.DUID, reservedDUID) {
			r.Hostname = "Res-Host"
		}
	}
	store, reg := newMemStore(), stats.New(0, 0)
	srv, err := slowpath6.New(cfg, slowpath6.Deps{Store: store, Stats: reg, ServerDUID: serverDUID})
	if err != nil {
		t.Fatal(err)
	}
	return srv, store, reg
}

// request is a Request for an address and a prefix carrying the Client
// FQDN option fqdn (none when nil).
func request(duid, fqdn []byte) []byte {
	var b dhcp6.Builder
	b.Header(dhcp6.Request, [3]byte{7, 8, 9})
	b.Option(dhcp6.OptClientID, duid)
	b.Option(dhcp6.OptServerID, serverDUID)
	if fqdn != nil {
		b.Option(dhcp6.OptClientFQDN, fqdn)
	}
	b.End(b.IA(dhcp6.OptIANA, 1, 0, 0))
	b.End(b.IA(dhcp6.OptIAPD, 2, 0, 0))
	return b.B
}

// TestFQDNReplyAndLease: the Reply's Client FQDN option and the host name
// its leases are stored with, for the cases kea-dhcp6 2.2 was compared on
// (see TestKeaFQDN) and the sanitizer's corners.
func TestFQDNReplyAndLease(t *testing.T) {
	rules := config.HostnameRules{Replace: "never", GeneratedPrefix: "gen", QualifyingSuffix: "Example.ORG",
		CharSet: regexp.MustCompile("[^A-Za-z0-9.-]"), CharReplacement: "x"}
	noSanitizer := rules
	noSanitizer.CharSet = nil
	always := rules
	always.Replace = "always"
	for _, c := range []struct {
		name     string
		rules    config.HostnameRules
		duid     []byte
		fqdn     string // hex; "" none
		wantOpt  string // hex of the reply's option; "" none; "gen": the generated name
		wantHost string // with {addr}: the address's text, colons as dashes
	}{
		{"partial, S", rules, nil, "01064d79486f7374", "06066d79686f7374076578616d706c65036f726700", "myhost.example.org."},
		{"full, no flags", rules, nil, "0004686f737400", "0404686f737400", "host."},
		{"N", rules, nil, "040171", "040171076578616d706c65036f726700", "q.example.org."},
		{"sanitized per label", rules, nil, "0103615f6203632064", "060361786203637864076578616d706c65036f726700", "axb.cxd.example.org."},
		{"no sanitizer: escaped", noSanitizer, nil, "000361206200", "040361206200", `a\032b.`},
		{"empty: generated", rules, nil, "01", "gen", "gen-{addr}.Example.ORG."},
		{"replace always", always, nil, "01064d79486f7374", "gen", "gen-{addr}.Example.ORG."},
		{"reservation, FQDN", rules, reservedDUID, "010171", "06087265732d686f7374076578616d706c65036f726700", "res-host.example.org."},
		{"reservation, no FQDN", rules, reservedDUID, "", "", "Res-Host"},
		{"no FQDN", rules, nil, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, store, _ := fqdnEngine(t, c.rules)
			duid := c.duid
			if duid == nil {
				duid = newClient().duid
			}
			var fqdn []byte
			if c.fqdn != "" {
				fqdn, _ = hex.DecodeString(c.fqdn)
			}
			out := &capture{}
			srv.ServeNow(packetOn(request(duid, fqdn), out))
			if len(out.sent) != 1 {
				t.Fatalf("%d replies", len(out.sent))
			}
			var p dhcp6.Packet
			if err := p.Parse(out.sent[0]); err != nil {
				t.Fatal(err)
			}
			got, ok := p.Msg.Options.Get(dhcp6.OptClientFQDN)
			if want, _ := hex.DecodeString(c.wantOpt); ok != (c.wantOpt != "") || c.wantOpt != "gen" && !bytes.Equal(got, want) {
				t.Errorf("reply's option %x (present %v), want %s", got, ok, c.wantOpt)
			}
			ls := store.filter(func(*lease.Lease6) bool { return true })
			if len(ls) != 2 {
				t.Fatalf("%d leases", len(ls))
			}
			for _, l := range ls {
				want := c.wantHost
				if c.wantOpt == "gen" && l.Type == lease.TypePD {
					want = "" // a generated name goes to the address's lease alone
				}
				if l.Type == lease.TypeNA && c.wantOpt == "gen" {
					want = strings.ReplaceAll(want, "{addr}", strings.ReplaceAll(l.Addr.String(), ":", "-"))
					name, _ := hex.DecodeString("06")
					for _, lb := range strings.Split(strings.ToLower(strings.TrimSuffix(want, ".")), ".") {
						name = append(append(name, byte(len(lb))), lb...)
					}
					if name = append(name, 0); !bytes.Equal(got, name) {
						t.Errorf("reply's option %x, want %x", got, name)
					}
				}
				if l.Hostname != want || l.FqdnFwd || l.FqdnRev {
					t.Errorf("%v lease: hostname %q fwd %v rev %v, want %q and no DNS updates", l.Addr, l.Hostname, l.FqdnFwd, l.FqdnRev, want)
				}
			}
		})
	}
}

// TestFQDNBadOptionDropped: a Client FQDN option with S and N both set,
// or a name running past the option, drops the request as unparsable.
func TestFQDNBadOptionDropped(t *testing.T) {
	srv, store, reg := fqdnEngine(t, config.HostnameRules{})
	for _, fqdn := range [][]byte{{5, 1, 'a'}, {1, 9, 'a'}, {}} {
		out := &capture{}
		srv.ServeNow(packetOn(request(newClient().duid, fqdn), out))
		if len(out.sent) != 0 {
			t.Errorf("option %x: answered", fqdn)
		}
	}
	if n := len(store.filter(func(*lease.Lease6) bool { return true })); n != 0 {
		t.Errorf("%d leases after bad options", n)
	}
	if got := reg.All()["pkt6-parse-failed"]; len(got) == 0 || got[0].Value != 3 {
		t.Errorf("pkt6-parse-failed %v, want 3", got)
	}
}

// FuzzServeFQDN: whatever the Client FQDN option of a Request, the engine
// answers or drops it; an answer parses and carries a well-formed option
// (flags N, or N and O) whose name is fully qualified.
func FuzzServeFQDN(f *testing.F) {
	srv, _, _ := fqdnEngine(f, config.HostnameRules{Replace: "never", GeneratedPrefix: "gen", QualifyingSuffix: "example.org",
		CharSet: regexp.MustCompile("[^A-Za-z0-9.-]"), CharReplacement: "."})
	for _, s := range []string{"01064d79486f7374", "0004686f737400", "01", "0103615f6203632064", "00013f"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	duid := newClient().duid
	f.Fuzz(func(t *testing.T, fqdn []byte) {
		out := &capture{}
		srv.ServeNow(packetOn(request(duid, fqdn), out))
		for _, s := range out.sent {
			var p dhcp6.Packet
			if err := p.Parse(s); err != nil {
				t.Fatalf("reply does not parse (%v): %x", err, s)
			}
			o, ok := p.Msg.Options.Get(dhcp6.OptClientFQDN)
			if !ok || len(o) < 2 || (o[0] != 4 && o[0] != 6) || o[len(o)-1] != 0 {
				t.Fatalf("reply's Client FQDN %x for %x", o, fqdn)
			}
		}
	})
}
