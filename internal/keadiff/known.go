package keadiff

import (
	"fmt"
	"path"
	"strings"
)

// Kind says why a known difference is accepted.
type Kind string

const (
	// Deliberate differences are xdhcp's choice (a safer default); the
	// README lists them with the setting that restores Kea's behaviour.
	Deliberate Kind = "deliberate"
	// Pending differences wait for a change under way elsewhere in the
	// project; each must go once that change lands (the suite then fails
	// on the row matching nothing).
	Pending Kind = "pending"
)

// Known is one accepted difference.
type Known struct {
	// Case and Field are path.Match patterns over a case name
	// ("scenario/client/message") and a Diff's field ("option 61").
	Case, Field string
	Kind        Kind
	Reason      string
	// Switch is the setting that restores Kea's behaviour (deliberate
	// differences only).
	Switch string
	// Owner is the piece of work expected to remove a pending row; "none"
	// when no change under way covers it yet.
	Owner string
}

const relayedInform = "Kea answers a relayed INFORM straight to ciaddr:68 (giaddr 0, no option 82), as RFC 2131 4.3.5 says; xdhcpd answers through the relay"

// KnownDifferences is the one table of differences between Kea 2.2 and
// xdhcpd that the differential suite accepts. Anything else fails it.
var KnownDifferences = []Known{
	// Pending: each row goes when the change named by Owner lands.
	{Case: "*/*/*", Field: "hops", Kind: Pending, Owner: "none",
		Reason: "Kea copies the request's hops into a relayed answer; xdhcpd sends 0"},
	{Case: "*/hostname/*", Field: "option 12", Kind: Pending, Owner: "none",
		Reason: "Kea sends the client's host-name (option 12) back; xdhcpd does not"},
	{Case: "*/*/*", Field: "option 125", Kind: Pending, Owner: "options (vendor options)",
		Reason: "Kea ends an empty vendor-4491 option 125 entry with its data-length byte (0), as RFC 3925 has it; xdhcpd leaves the byte out"},
	{Case: "all-options/-/config", Field: "config", Kind: Pending, Owner: "options (standard option table)",
		Reason: "xdhcpd refuses option-6rd and the 5-field form of an option Kea 2.2 accepts"},
	{Case: "advanced/*-direct/*", Field: "answer", Kind: Pending, Owner: "none",
		Reason: "with `dhcp-socket-type: udp` Kea's sockets are bound to the interface address and never hear a directly connected client's broadcast; xdhcpd reads frames whatever the socket type and answers it"},
	{Case: "isp-bootp/bootp*/BOOTREQUEST", Field: "answer", Kind: Pending, Owner: "none",
		Reason: "Kea with libdhcp_bootp.so answers BOOTP requests; xdhcpd does not"},
	{Case: "*/*/INFORM", Field: "option 1", Kind: Pending, Owner: "none",
		Reason: "Kea leaves the subnet mask out of its answer to an INFORM; xdhcpd sends it"},
	{Case: "*/*/INFORM", Field: "option 12", Kind: Pending, Owner: "none",
		Reason: "Kea leaves a reservation's hostname out of its answer to an INFORM; xdhcpd sends it"},
	{Case: "*/*/INFORM", Field: "to", Kind: Pending, Owner: "none",
		Reason: relayedInform},
	{Case: "*/*/INFORM", Field: "giaddr", Kind: Pending, Owner: "none",
		Reason: relayedInform},
	{Case: "*/*/INFORM", Field: "option 82", Kind: Pending, Owner: "none",
		Reason: relayedInform},
	{Case: "isp-relay82/subnet-lifetime-asks-long/*", Field: "option 5[19]", Kind: Pending, Owner: "none",
		Reason: "a subnet setting only valid-lifetime keeps the global max-valid-lifetime in Kea (a client asking more gets 7200, T2 1800); xdhcpd caps at the subnet's 1200 and leaves T2 out"},
}

// Explain matches every difference of cases against table and returns the
// unexplained ones (one line each) and, per row of table, how many
// differences it explained.
func Explain(table []Known, cases []Case) (unexplained []string, hits []int) {
	hits = make([]int, len(table))
	for _, cs := range cases {
		for _, d := range cs.Diffs {
			found := false
			for i, k := range table {
				if okC, _ := path.Match(k.Case, cs.Name); !okC {
					continue
				}
				if okF, _ := path.Match(k.Field, d.Field); okF {
					hits[i]++
					found = true
					break
				}
			}
			if !found {
				unexplained = append(unexplained, fmt.Sprintf("%s: %s: kea %s / xdhcpd %s", cs.Name, d.Field, d.Kea, d.XD))
			}
		}
	}
	return unexplained, hits
}

// DeliberateTable renders the deliberate rows of table as the README's
// Markdown table.
func DeliberateTable(table []Known) string {
	var b strings.Builder
	b.WriteString("| scenario | field | difference | restore Kea's behaviour |\n|---|---|---|---|\n")
	n := 0
	for _, k := range table {
		if k.Kind != Deliberate {
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Case, k.Field, k.Reason, k.Switch)
		n++
	}
	if n == 0 {
		b.WriteString("| – | – | none at present | – |\n")
	}
	return b.String()
}
