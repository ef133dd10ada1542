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

// KnownDifferences is the one table of differences between Kea 2.2 and
// xdhcpd that the differential suite accepts. Anything else fails it.
var KnownDifferences = []Known{
	// Deliberate: xdhcp's choice, listed in the README.
	{Case: "advanced/*-direct/*", Field: "answer", Kind: Deliberate,
		Reason: "with `dhcp-socket-type: udp` Kea's sockets are bound to the interface address and never hear a directly connected client's broadcast, so such a client gets no answer; xdhcpd reads whole frames whatever the socket type and answers it",
		Switch: "none: xdhcpd answers a directly connected client whatever `dhcp-socket-type` says (a client Kea would leave unanswered has nowhere else to go)"},
	// Pending: each row goes when the change named by Owner lands.
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
