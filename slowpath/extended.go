package slowpath

import (
	"encoding/json"
	"strings"

	"xdhcp/config"
)

// extendedInfo is the user context a lease written for r gets, given the
// context prev it had. With store-extended-info, Kea 2.2 keeps the relay
// agent information (option 82, sub-options in code order) as upper-case
// hex under ISC / relay-agent-info, leaving the rest of the context as it
// was; without it, or without option 82, the context is unchanged.
func extendedInfo(sn *config.Subnet, r *request, prev string) string {
	if !sn.StoreExtended || len(r.relay) == 0 {
		return prev
	}
	rai := r.relay // in code order already (see derive)
	const digits = "0123456789ABCDEF"
	var hex strings.Builder
	hex.WriteString("0x")
	for _, c := range rai {
		hex.WriteByte(digits[c>>4])
		hex.WriteByte(digits[c&15])
	}
	if prev == "" {
		// Kea's own text of this context, as its lease file shows it.
		return `{ "ISC": { "relay-agent-info": "` + hex.String() + `" } }`
	}
	var ctx map[string]any
	if err := json.Unmarshal([]byte(prev), &ctx); err != nil || ctx == nil {
		ctx = map[string]any{}
	}
	isc, _ := ctx["ISC"].(map[string]any)
	if isc == nil {
		isc = map[string]any{}
	}
	isc["relay-agent-info"] = hex.String()
	ctx["ISC"] = isc
	b, err := json.Marshal(ctx)
	if err != nil {
		return prev
	}
	return string(b)
}
