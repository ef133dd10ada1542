package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// tableView renders the arguments of a successful answer as a table.
type tableView func(w io.Writer, args json.RawMessage, loc *time.Location) error

// tableViews are the commands with a table view; every other command is
// printed as JSON whatever -o says.
var tableViews = map[string]tableView{
	"lease4-get":               leaseView(false),
	"lease4-get-all":           leaseView(true),
	"lease4-get-page":          leasePageView,
	"lease4-get-by-hw-address": leaseView(true),
	"lease4-get-by-client-id":  leaseView(true),
	"lease4-get-by-hostname":   leaseView(true),
	"statistic-get":            statisticView,
	"statistic-get-all":        statisticView,
	"status-get":               statusView,
	"ha-heartbeat":             heartbeatView,
}

// newTable returns a writer that aligns tab-separated columns; its Flush
// writes them out.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// row writes one table row.
func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// orDash shows an empty cell as "-" so columns stay readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lease is what the lease table shows of a Kea lease map.
type lease struct {
	IPAddress string `json:"ip-address"`
	HWAddress string `json:"hw-address"`
	ClientID  string `json:"client-id"`
	SubnetID  uint32 `json:"subnet-id"`
	ValidLft  int64  `json:"valid-lft"`
	CLTT      int64  `json:"cltt"`
	Hostname  string `json:"hostname"`
	State     int    `json:"state"`
}

// leaseStates are Kea's lease state names.
var leaseStates = map[int]string{0: "default", 1: "declined", 2: "expired-reclaimed"}

// infiniteLifetime is Kea's valid-lft of a lease that never expires.
const infiniteLifetime = 0xffffffff

func (l lease) expires(loc *time.Location) string {
	if l.ValidLft == infiniteLifetime {
		return "never"
	}
	return time.Unix(l.CLTT+l.ValidLft, 0).In(loc).Format(time.DateTime)
}

func (l lease) state() string {
	if s, ok := leaseStates[l.State]; ok {
		return s
	}
	return strconv.Itoa(l.State)
}

func writeLeases(w io.Writer, leases []lease, loc *time.Location) error {
	tw := newTable(w)
	row(tw, "IP ADDRESS", "HW ADDRESS", "CLIENT ID", "SUBNET", "STATE", "EXPIRES", "HOSTNAME")
	for _, l := range leases {
		row(tw, l.IPAddress, orDash(l.HWAddress), orDash(l.ClientID), strconv.FormatUint(uint64(l.SubnetID), 10),
			l.state(), l.expires(loc), orDash(l.Hostname))
	}
	return tw.Flush()
}

// leaseView shows {"leases": [...]} (list) or one lease map (!list).
func leaseView(list bool) tableView {
	return func(w io.Writer, args json.RawMessage, loc *time.Location) error {
		var leases []lease
		if list {
			var a struct {
				Leases []lease `json:"leases"`
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return fmt.Errorf("decode leases: %w", err)
			}
			leases = a.Leases
		} else {
			var l lease
			if err := json.Unmarshal(args, &l); err != nil {
				return fmt.Errorf("decode lease: %w", err)
			}
			leases = []lease{l}
		}
		return writeLeases(w, leases, loc)
	}
}

// leasePageView shows one page and how to ask for the next.
func leasePageView(w io.Writer, args json.RawMessage, loc *time.Location) error {
	var a struct {
		Leases []lease `json:"leases"`
		Count  int     `json:"count"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return fmt.Errorf("decode leases: %w", err)
	}
	if err := writeLeases(w, a.Leases, loc); err != nil {
		return err
	}
	if n := len(a.Leases); n > 0 {
		_, err := fmt.Fprintf(w, "\n%d leases on this page; the next page: lease4-get-page from=%s limit=%d\n",
			n, a.Leases[n-1].IPAddress, n)
		return err
	}
	return nil
}

// statisticView shows each statistic's latest sample, in natural name
// order (subnet[2] before subnet[10]).
func statisticView(w io.Writer, args json.RawMessage, _ *time.Location) error {
	var stats map[string][][]json.RawMessage
	if err := json.Unmarshal(args, &stats); err != nil {
		return fmt.Errorf("decode statistics: %w", err)
	}
	names := make([]string, 0, len(stats))
	for n := range stats {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	tw := newTable(w)
	row(tw, "NAME", "VALUE", "SAMPLED")
	for _, n := range names {
		value, at := "-", "-"
		if samples := stats[n]; len(samples) > 0 && len(samples[0]) == 2 {
			value = scalar(samples[0][0])
			at = scalar(samples[0][1])
		}
		row(tw, n, value, at)
	}
	return tw.Flush()
}

// scalar prints a JSON string without quotes and anything else as is.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// naturalLess orders strings with their digit runs compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// haRelationship is one entry of status-get's "high-availability".
type haRelationship struct {
	Mode    string `json:"ha-mode"`
	Servers struct {
		Local struct {
			Role   string   `json:"role"`
			State  string   `json:"state"`
			Scopes []string `json:"scopes"`
		} `json:"local"`
		Remote *struct {
			Role           string   `json:"role"`
			LastState      string   `json:"last-state"`
			LastScopes     []string `json:"last-scopes"`
			InTouch        bool     `json:"in-touch"`
			Age            float64  `json:"age"`
			Interrupted    bool     `json:"communication-interrupted"`
			Unacked        int64    `json:"unacked-clients"`
			UnackedLeft    int64    `json:"unacked-clients-left"`
			Connecting     int64    `json:"connecting-clients"`
			AnalyzedPacket int64    `json:"analyzed-packets"`
		} `json:"remote"`
	} `json:"ha-servers"`
}

// statusView shows the daemon's state, then one HA table per
// relationship.
func statusView(w io.Writer, args json.RawMessage, _ *time.Location) error {
	var s struct {
		PID            *int64           `json:"pid"`
		Uptime         *int64           `json:"uptime"`
		Reload         *int64           `json:"reload"`
		MultiThreading *bool            `json:"multi-threading-enabled"`
		ThreadPool     *int64           `json:"thread-pool-size"`
		DHCPState      *dhcpState       `json:"dhcp-state"`
		XDP            []xdpAttach      `json:"xdp"`
		HA             []haRelationship `json:"high-availability"`
	}
	if err := json.Unmarshal(args, &s); err != nil {
		return fmt.Errorf("decode status: %w", err)
	}
	tw := newTable(w)
	if s.PID != nil {
		row(tw, "pid:", strconv.FormatInt(*s.PID, 10))
	}
	if s.Uptime != nil {
		row(tw, "uptime:", (time.Duration(*s.Uptime) * time.Second).String())
	}
	if s.Reload != nil {
		row(tw, "since reload:", (time.Duration(*s.Reload) * time.Second).String())
	}
	if s.DHCPState != nil {
		row(tw, "dhcp:", s.DHCPState.String())
	}
	if s.MultiThreading != nil {
		mt := "off"
		if *s.MultiThreading {
			mt = "on, threads: auto"
			if s.ThreadPool != nil && *s.ThreadPool > 0 {
				mt = fmt.Sprintf("on, %d threads", *s.ThreadPool)
			}
		}
		row(tw, "multi-threading:", mt)
	}
	if s.XDP != nil {
		xs := []string{"not attached"}
		if len(s.XDP) > 0 {
			xs = xs[:0]
		}
		for _, x := range s.XDP {
			xs = append(xs, x.Interface+" "+x.Mode)
		}
		row(tw, "xdp:", strings.Join(xs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range s.HA {
		if err := writeHA(w, r); err != nil {
			return err
		}
	}
	return nil
}

type dhcpState struct {
	Enabled    bool     `json:"enabled"`
	DisabledBy []string `json:"disabled-by"`
}

func (d dhcpState) String() string {
	if d.Enabled {
		return "enabled"
	}
	if len(d.DisabledBy) == 0 {
		return "disabled"
	}
	return "disabled by " + strings.Join(d.DisabledBy, ", ")
}

type xdpAttach struct {
	Interface string `json:"interface"`
	Mode      string `json:"mode"`
}

func scopes(s []string) string { return orDash(strings.Join(s, ",")) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeHA(w io.Writer, r haRelationship) error {
	if _, err := fmt.Fprintf(w, "\nhigh availability (%s):\n", r.Mode); err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "SERVER", "ROLE", "STATE", "SCOPES", "IN TOUCH", "AGE", "INTERRUPTED", "UNACKED", "CONNECTING", "ANALYZED")
	l := r.Servers.Local
	row(tw, "local", l.Role, l.State, scopes(l.Scopes), "-", "-", "-", "-", "-", "-")
	if p := r.Servers.Remote; p != nil {
		row(tw, "remote", p.Role, p.LastState, scopes(p.LastScopes), yesNo(p.InTouch),
			(time.Duration(p.Age) * time.Second).String(), yesNo(p.Interrupted),
			fmt.Sprintf("%d (%d left)", p.Unacked, p.UnackedLeft),
			strconv.FormatInt(p.Connecting, 10), strconv.FormatInt(p.AnalyzedPacket, 10))
	}
	return tw.Flush()
}

// heartbeatView shows a partner's heartbeat answer.
func heartbeatView(w io.Writer, args json.RawMessage, _ *time.Location) error {
	var h struct {
		State    string   `json:"state"`
		DateTime string   `json:"date-time"`
		Scopes   []string `json:"scopes"`
		Unsent   int64    `json:"unsent-update-count"`
	}
	if err := json.Unmarshal(args, &h); err != nil {
		return fmt.Errorf("decode heartbeat: %w", err)
	}
	tw := newTable(w)
	row(tw, "STATE", "SCOPES", "DATE-TIME", "UNSENT UPDATES")
	row(tw, orDash(h.State), scopes(h.Scopes), orDash(h.DateTime), strconv.FormatInt(h.Unsent, 10))
	return tw.Flush()
}
