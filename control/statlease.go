package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"xdhcp/config"
	"xdhcp/internal/stats"
	"xdhcp/lease"
)

// StatLeaseSource is what stat-lease4-get reads: the running
// configuration (its subnets), the statistics registry (total and
// cumulative-assigned addresses) and the leases (assigned and declined are
// counted from them, as Kea's stat_cmds hook does).
type StatLeaseSource struct {
	Config func() *config.Config
	Stats  *stats.Registry
	Leases lease.Reader
	Now    func() time.Time // nil: time.Now
}

// RegisterStatLease registers stat-lease4-get, the command of Kea's
// libdhcp_stat_cmds.so, with its answers and error texts.
func RegisterStatLease(s *Server, src StatLeaseSource) {
	s.Handle("stat-lease4-get", src.get)
}

// statLeaseColumns are the columns of the result set, in Kea's order.
var statLeaseColumns = []string{"subnet-id", "total-addresses", "cumulative-assigned-addresses",
	"assigned-addresses", "declined-addresses"}

// subnetSelection is what the arguments select: every subnet, one, or an
// id range.
type subnetSelection struct {
	id          uint32 // one subnet when non-zero
	first, last uint32 // a range when first is non-zero
}

func (sel subnetSelection) label() string {
	switch {
	case sel.id != 0:
		return fmt.Sprintf("subnet-id=%d", sel.id)
	case sel.first != 0:
		return fmt.Sprintf("subnets %d through %d", sel.first, sel.last)
	}
	return "all subnets"
}

func (sel subnetSelection) has(id uint32) bool {
	switch {
	case sel.id != 0:
		return id == sel.id
	case sel.first != 0:
		return id >= sel.first && id <= sel.last
	}
	return true
}

// positive reads a JSON integer > 0, as Kea checks subnet ids.
func positive(raw json.RawMessage) (v int64, isInt bool) {
	if jsonType(raw) != "number" || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	return v, true
}

// parseStatLeaseArgs checks the arguments in Kea's order and words.
func parseStatLeaseArgs(req *Request) (subnetSelection, *Answer) {
	var sel subnetSelection
	fail := func(text string) (subnetSelection, *Answer) {
		a := Errorf("%s", text)
		return sel, &a
	}
	if len(req.Arguments) == 0 {
		return sel, nil
	}
	if jsonType(req.Arguments) != "map" {
		return fail("'arguments' parameter is not a map")
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal(req.Arguments, &args); err != nil {
		return fail("'arguments' parameter is not a map")
	}
	idRaw, hasID := args["subnet-id"]
	rangeRaw, hasRange := args["subnet-range"]
	if hasID && hasRange {
		return fail("cannot specify both subnet-id and subnet-range")
	}
	if hasID {
		v, ok := positive(idRaw)
		if !ok {
			return fail("'subnet-id' parameter is not integer")
		}
		if v <= 0 || v > 1<<32-1 {
			return fail("'subnet-id' parameter must be > 0")
		}
		sel.id = uint32(v)
	}
	if hasRange {
		var r map[string]json.RawMessage
		if jsonType(rangeRaw) != "map" || json.Unmarshal(rangeRaw, &r) != nil {
			return fail("subnet-range parameter is not a map")
		}
		first, ok := positive(r["first-subnet-id"])
		if !ok {
			return fail("'first-subnet-id' parameter missing or not an integer")
		}
		if first <= 0 || first > 1<<32-1 {
			return fail("'first-subnet-id' parameter must be > 0")
		}
		last, ok := positive(r["last-subnet-id"])
		if !ok {
			return fail("'last-subnet-id' parameter missing or not an integer")
		}
		if last <= 0 || last > 1<<32-1 {
			return fail("'last-subnet-id' parameter must be > 0")
		}
		if last < first {
			return fail("'last-subnet-id' must be greater than 'first-subnet-id'")
		}
		if last == first {
			return fail("LeaseStatsQuery: last_subnet_id_must be > first_subnet_id_")
		}
		sel.first, sel.last = uint32(first), uint32(last)
	}
	return sel, nil
}

func (src StatLeaseSource) get(_ context.Context, req *Request) Answer {
	sel, bad := parseStatLeaseArgs(req)
	if bad != nil {
		return *bad
	}
	var ids []uint32
	for _, sn := range src.Config().Subnets {
		if sel.has(sn.ID) {
			ids = append(ids, sn.ID)
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		text := "there are no existing subnets"
		switch {
		case sel.id != 0:
			text = fmt.Sprintf("subnet-id: %d does not exist", sel.id)
		case sel.first != 0:
			text = fmt.Sprintf("selected ID range: %d through %d includes no known subnets", sel.first, sel.last)
		}
		return Answer{Result: ResultEmpty, Arguments: map[string]any{},
			Text: fmt.Sprintf("stat-lease4-get[%s]: no matching data, %s", sel.label(), text)}
	}
	assigned, declined := src.countLeases(sel)
	rows := make([][]int64, 0, len(ids))
	for _, id := range ids {
		rows = append(rows, []int64{int64(id),
			src.stat(fmt.Sprintf("subnet[%d].total-addresses", id)),
			src.stat(fmt.Sprintf("subnet[%d].cumulative-assigned-addresses", id)),
			assigned[id], declined[id]})
	}
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	return Answer{
		Result: ResultSuccess,
		Text:   fmt.Sprintf("stat-lease4-get[%s]: %d rows found", sel.label(), len(rows)),
		Arguments: map[string]any{"result-set": map[string]any{
			"columns":   statLeaseColumns,
			"rows":      rows,
			"timestamp": now().Format(stats.TimeLayout),
		}},
	}
}

func (src StatLeaseSource) stat(name string) int64 {
	if s, ok := src.Stats.Get(name); ok && len(s) > 0 {
		return s[0].Value
	}
	return 0
}

// countLeases counts the leases of the selected subnets by state: in the
// default state (assigned, expired or not, until reclaimed) and declined.
func (src StatLeaseSource) countLeases(sel subnetSelection) (assigned, declined map[uint32]int64) {
	assigned, declined = map[uint32]int64{}, map[uint32]int64{}
	const page = 1024
	var from netip.Addr
	for {
		ls := src.Leases.Page(from, page)
		for i := range ls {
			l := &ls[i]
			if !sel.has(l.SubnetID) {
				continue
			}
			switch l.State {
			case lease.StateDefault:
				assigned[l.SubnetID]++
			case lease.StateDeclined:
				declined[l.SubnetID]++
			}
		}
		if len(ls) < page {
			return assigned, declined
		}
		from = ls[len(ls)-1].Addr
	}
}
