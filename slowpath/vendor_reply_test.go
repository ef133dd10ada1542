package slowpath

import (
	"bytes"
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/handoff"
)

// rawCapture keeps the replies' bytes.
type rawCapture struct{ out [][]byte }

func (c *rawCapture) Send(_ *handoff.Meta, payload []byte) error {
	c.out = append(c.out, append([]byte(nil), payload...))
	return nil
}

// replyOptions lists the options of a reply in wire order.
func replyOptions(t *testing.T, b []byte) (codes []byte, vals map[byte][]byte) {
	t.Helper()
	vals = map[byte][]byte{}
	for i := offOptions; i < len(b) && b[i] != 255; {
		if b[i] == 0 {
			i++
			continue
		}
		c, n := b[i], int(b[i+1])
		codes = append(codes, c)
		vals[c] = b[i+2 : i+2+n]
		i += 2 + n
	}
	return codes, vals
}

const vendorConfig = `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "lease-database": { "type": "memfile", "persist": false },
  "valid-lifetime": 3600,
  ECHO
  "option-def": [
    { "name": "acs", "code": 1, "space": "vendor-encapsulated-options-space", "type": "string" },
    { "name": "cfg", "code": 3, "space": "vendor-4491", "type": "string" },
    { "name": "acme-url", "code": 7, "space": "vendor-9999", "type": "string" } ],
  "option-data": [
    { "name": "domain-name-servers", "data": "192.0.2.53" },
    { "name": "domain-name", "data": "example.org" },
    { "name": "vendor-encapsulated-options" },
    { "name": "acs", "space": "vendor-encapsulated-options-space", "data": "http://acs" },
    { "name": "tftp-servers", "space": "vendor-4491", "data": "192.0.2.69" },
    { "name": "cfg", "space": "vendor-4491", "data": "modem.cfg", "always-send": true },
    { "name": "acme-url", "space": "vendor-9999", "data": "http://acme" } ],
  "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
    "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ] } }`

func vendorHarness(t *testing.T, echo string) (*harness, *rawCapture) {
	h := newHarness(t, strings.Replace(vendorConfig, "ECHO", echo, 1))
	raw := &rawCapture{}
	return h, raw
}

// send runs m through h and returns the raw reply.
func (h *harness) sendRaw(t *testing.T, raw *rawCapture, m *dhcpv4.DHCPv4) []byte {
	t.Helper()
	p := requestPacket(m, raw)
	raw.out = nil
	if r := h.srv.decode(p); r != nil {
		h.srv.process(r)
	}
	if len(raw.out) != 1 {
		t.Fatalf("%d replies", len(raw.out))
	}
	return raw.out[0]
}

// TestReplyOptionsAsKea: the reply carries what Kea 2.2 puts in it, in
// Kea's order (53 first, then by code, 82 last): the client identifier
// and subnet selection echoed, routers, DNS servers and domain name sent
// unasked, option 43 built from its sub-options when asked for, option
// 125 with the DOCSIS sub-options the modem asks for plus the always-send
// ones, for the modem's enterprise number only.
func TestReplyOptionsAsKea(t *testing.T) {
	h, raw := vendorHarness(t, "")
	cid := []byte{1, 2, 0, 0, 0, 0, 7}
	// DOCSIS: enterprise 4491, sub-option 1 (ORO) asking for 2.
	vivso := []byte{0, 0, 0x11, 0x8b, 4, 1, 2, 2, 99}
	m := discover("02:00:00:00:00:07",
		dhcpv4.WithRequestedOptions(dhcpv4.OptionVendorSpecificInformation, dhcpv4.OptionSubnetMask),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid)),
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(118), []byte{192, 0, 2, 0}),
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125), vivso),
		dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port1")))),
		dhcpv4.WithGatewayIP(net.ParseIP("192.0.2.254")))
	codes, vals := replyOptions(t, h.sendRaw(t, raw, m))
	wantCodes := []byte{53, 1, 3, 6, 15, 43, 51, 54, 61, 118, 125, 82}
	if !bytes.Equal(codes, wantCodes) {
		t.Fatalf("options %v, want %v", codes, wantCodes)
	}
	for code, want := range map[byte]string{
		61:  hex.EncodeToString(cid),
		118: "c0000200",
		43:  "010a" + hex.EncodeToString([]byte("http://acs")),
		// enterprise, length, 2 tftp-servers (asked), 3 cfg (always-send)
		125: "0000118b" + "11" + "0204c0000245" + "0309" + hex.EncodeToString([]byte("modem.cfg")),
	} {
		if got := hex.EncodeToString(vals[code]); got != want {
			t.Errorf("option %d = %s, want %s", code, got, want)
		}
	}

	// Another vendor: only its own always-send sub-options, none here.
	m = discover("02:00:00:00:00:08", dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125),
		[]byte{0, 0, 0x27, 0x0f, 0}))
	if _, vals = replyOptions(t, h.sendRaw(t, raw, m)); vals[125] != nil {
		t.Errorf("option 125 %x for a vendor with nothing asked", vals[125])
	}
}

func TestEchoClientIDOff(t *testing.T) {
	h, raw := vendorHarness(t, `"echo-client-id": false,`)
	m := discover("02:00:00:00:00:09", dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 9})))
	if _, vals := replyOptions(t, h.sendRaw(t, raw, m)); vals[61] != nil {
		t.Errorf("client id echoed with echo-client-id false: %x", vals[61])
	}
}

// FuzzVendorReply feeds requests whose option 125, 61 and 118 are
// arbitrary bytes to a server configured with vendor options: the reply
// assembly must not panic, and every reply must decode with a well-formed
// option 125 when it has one.
func FuzzVendorReply(f *testing.F) {
	f.Add([]byte{0, 0, 0x11, 0x8b, 3, 1, 1, 2}, []byte{1, 2, 3}, []byte{192, 0, 2, 0})
	f.Add([]byte{0, 0, 0x11, 0x8b, 9, 1, 1}, []byte{}, []byte{})
	f.Add([]byte{0, 0, 0x27, 0x0f, 0}, []byte{1}, []byte{1, 2})
	h, raw := vendorHarness(&testing.T{}, "")
	f.Fuzz(func(t *testing.T, vivso, cid, subnetSel []byte) {
		h.t = t
		mods := []dhcpv4.Modifier{
			dhcpv4.WithRequestedOptions(dhcpv4.OptionVendorSpecificInformation, dhcpv4.GenericOptionCode(125)),
			dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125), vivso),
		}
		if len(cid) > 0 {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionClientIdentifier, cid))
		}
		if len(subnetSel) > 0 {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(118), subnetSel))
		}
		m := discover("02:00:00:00:00:0a", mods...)
		p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, IfMAC: [6]byte{2, 0, 0, 0, 0, 1},
			Meta: handoff.Meta{SrcMAC: [6]byte(m.ClientHWAddr), SrcPort: 68, DstPort: 67}, Data: m.ToBytes(), Out: raw}
		raw.out = nil
		if r := h.srv.decode(p); r != nil {
			h.srv.process(r)
		}
		for _, b := range raw.out {
			if _, err := dhcpv4.FromBytes(b); err != nil {
				t.Fatalf("undecodable reply: %v", err)
			}
			_, vals := replyOptions(t, b)
			if v, ok := vals[125]; ok && (len(v) < 5 || int(v[4]) != len(v)-5) {
				t.Fatalf("malformed option 125 %x", v)
			}
		}
	})
}
