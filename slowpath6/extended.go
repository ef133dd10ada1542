package slowpath6

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"

	"xdhcp/dhcp6"
)

// extendedInfo is the lease's user context with store-extended-info on, as
// kea-dhcp6 2.2 writes it: the relay chain, outermost relay first, each
// with its hop count, link- and peer-address and its options (all but the
// Relay Message, in upper-case hex) — where the Remote-Id and
// Subscriber-Id a relay inserted are kept. The text is Kea's own JSON
// rendering (sorted keys, its spacing), so the lease file reads as Kea's.
func (ex *exchange) extendedInfo() string {
	var b strings.Builder
	b.WriteString(`{ "ISC": { "relays": [ `)
	for i := range ex.p.NRelays {
		r := &ex.p.Relays[i]
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{ "hop": `)
		b.WriteString(strconv.Itoa(int(r.HopCount)))
		b.WriteString(`, "link": "`)
		b.WriteString(netip.AddrFrom16(r.LinkAddr).String())
		b.WriteString(`"`)
		var opts []byte
		it := r.Options.Iter()
		for it.Next() {
			if it.Code == dhcp6.OptRelayMsg {
				continue
			}
			opts = append(opts, byte(it.Code>>8), byte(it.Code), byte(len(it.Data)>>8), byte(len(it.Data)))
			opts = append(opts, it.Data...)
		}
		if len(opts) > 0 {
			b.WriteString(`, "options": "0x`)
			b.WriteString(strings.ToUpper(hex.EncodeToString(opts)))
			b.WriteString(`"`)
		}
		b.WriteString(`, "peer": "`)
		b.WriteString(netip.AddrFrom16(r.PeerAddr).String())
		b.WriteString(`" }`)
	}
	b.WriteString(` ] } }`)
	return b.String()
}
