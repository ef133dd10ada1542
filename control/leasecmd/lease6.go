package leasecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
)

// Options6 configures Commands6.
type Options6 struct {
	// Subnets returns the configured DHCPv6 subnets (called per command,
	// so a reconfiguration is seen at once).
	Subnets func() leasejson.Subnets6
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Changed, if set, is told of each lease a command wrote or removed,
	// after the commit: old is nil for a new lease, new is nil for a
	// deleted one. The DHCPv6 server adjusts its statistics and caches
	// with it, as Kea's lease_cmds adjusts its statistics.
	Changed func(old, new *lease.Lease6)
	// Reader, if set, answers the commands' reads instead of the store:
	// a lease database's own rows, whichever server wrote them.
	Reader lease.Reader6
	// Record, if set, formats the forensic record of a lease a command
	// changes (cmd: lease6-add, lease6-update or lease6-del; byDUID: the
	// deletion named the lease by its DUID), appended to dst. The record
	// travels with the lease operation, so it is durable with the lease.
	// lease6-bulk-apply records its leases as lease6-update and its
	// deletions named by address as lease6-del, as Kea's forensic log
	// does; lease6-wipe and a partner's lease synchronization write none.
	Record func(dst []byte, cmd string, l *lease.Lease6, byDUID bool) []byte
}

// Commands6 answers Kea 2.2's lease6 commands (lease6-get, -get-all,
// -get-page, -get-by-duid, -get-by-hostname, -add, -update, -del,
// -bulk-apply, -wipe) on a DHCPv6 lease store, with Kea's argument
// checks, answers and texts.
type Commands6 struct {
	store lease.Store6
	reads lease.Reader6
	opts  Options6
}

// New6 returns the lease6 commands on store.
func New6(store lease.Store6, opts Options6) *Commands6 {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Subnets == nil {
		opts.Subnets = func() leasejson.Subnets6 { return nil }
	}
	reads := opts.Reader
	if reads == nil {
		reads = store
	}
	return &Commands6{store: store, reads: reads, opts: opts}
}

// Register adds the commands to c.
func (h *Commands6) Register(c *control.Server) {
	c.Handle("lease6-get", h.get)
	c.Handle("lease6-get-all", h.getAll)
	c.Handle("lease6-get-page", h.getPage)
	c.Handle("lease6-get-by-duid", h.getByDUID)
	c.Handle("lease6-get-by-hostname", h.getByHostname)
	c.Handle("lease6-add", h.add)
	c.Handle("lease6-update", h.update)
	c.Handle("lease6-del", h.del)
	c.Handle("lease6-bulk-apply", h.bulkApply)
	c.Handle("lease6-wipe", h.wipe)
}

func leases6Answer(ls []lease.Lease6, withCount bool) control.Answer {
	out := make([]leasejson.Element6, len(ls))
	for i := range ls {
		out[i] = leasejson.Encode6(&ls[i])
	}
	args := map[string]any{"leases": out}
	if withCount {
		args["count"] = len(ls)
	}
	a := control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d IPv6 lease(s) found.", len(ls)), Arguments: args}
	if len(ls) == 0 {
		a.Result = control.ResultEmpty
	}
	return a
}

// Query kinds of Kea's lease command parameters (their numbers appear in
// one of its messages).
const (
	queryAddr     = 0
	queryHWAddr   = 1
	queryDUID     = 2
	queryClientID = 3
)

// typeV4 is the lease type "V4", which Kea's lease6 commands accept and
// which matches no DHCPv6 lease.
const typeV4 lease.Type = 3

// query6 is the lease a lease6-get or lease6-del (or a deleted lease of
// lease6-bulk-apply) names: by address and type, or by DUID, IAID, type
// and subnet.
type query6 struct {
	kind     int
	addr     netip.Addr
	typ      lease.Type
	duid     []byte
	iaid     uint32
	subnetID uint32
}

// parseQuery6 reads the parameters as Kea's lease_cmds getParameters does
// for DHCPv6, with its messages.
func parseQuery6(raw json.RawMessage) (query6, error) {
	q := query6{addr: netip.IPv6Unspecified(), typ: lease.TypeNA}
	m, ok := leasejson.ParseMap(raw)
	if !ok {
		return q, errors.New("Parameters missing or are not a map.")
	}
	if m.Has("update-ddns") {
		if _, err := m.Bool("update-ddns"); err != nil {
			return q, errors.New("'update-ddns' is not a boolean.")
		}
	}
	if m.Has("type") {
		txt, err := m.String("type")
		if err != nil {
			return q, errors.New("'type' is not a string.")
		}
		t, ok := leasejson.ParseType(txt)
		switch {
		case ok:
			q.typ = t
		case txt == "V4":
			q.typ = typeV4
		default:
			return q, fmt.Errorf("Invalid lease type specified: %s, only supported values are: IA_NA, IA_TA, IA_PD and V4", txt)
		}
	}
	if m.Has("ip-address") {
		txt, err := m.String("ip-address")
		if err != nil {
			return q, errors.New("'ip-address' is not a string.")
		}
		a, err := netip.ParseAddr(txt)
		if err != nil || a.Zone() != "" {
			return q, fmt.Errorf("Failed to convert string to address '%s': Invalid argument", txt)
		}
		if a.Is4() || a.Is4In6() {
			return q, fmt.Errorf("Invalid IPv6 address specified: %s", txt)
		}
		q.kind, q.addr = queryAddr, a
		return q, nil
	}
	if !m.Has("subnet-id") {
		return q, errors.New("Mandatory 'subnet-id' parameter missing.")
	}
	id, err := m.Uint("subnet-id", math.MaxUint32)
	if err != nil {
		return q, errors.New("'subnet-id' parameter is not integer.")
	}
	q.subnetID = uint32(id)
	if m.Has("iaid") {
		iaid, err := m.Uint("iaid", math.MaxUint32)
		if err != nil {
			return q, errors.New("'iaid' parameter is not integer.")
		}
		q.iaid = uint32(iaid)
	}
	identType, err := m.String("identifier-type")
	if err != nil {
		return q, errors.New("No 'ip-address' provided and 'identifier-type' is either missing or not a string.")
	}
	ident, err := m.String("identifier")
	if err != nil {
		return q, errors.New("No 'ip-address' provided and 'identifier' is either missing or not a string.")
	}
	switch identType {
	case "address":
		// Kea takes the kind but not the address: it looks up "::".
		q.kind = queryAddr
	case "hw-address":
		q.kind = queryHWAddr
		if _, err := leasejson.ParseHex(ident); err != nil {
			return q, fmt.Errorf("invalid hw-address %s: %v", ident, err)
		}
	case "client-id":
		q.kind = queryClientID
		id, err := leasejson.ParseHex(ident)
		switch {
		case err != nil:
			return q, fmt.Errorf("'%s' is not a valid string of hexadecimal digits", ident)
		case len(id) < 2:
			return q, fmt.Errorf("client-id is too short (%d), at least 2 is required", len(id))
		case len(id) > 255:
			return q, fmt.Errorf("client-id is too large (%d), at most 255 is required", len(id))
		}
	case "duid":
		q.kind = queryDUID
		if q.duid, err = leasejson.ParseDUID(ident); err != nil {
			return q, err
		}
	default:
		return q, fmt.Errorf("Incorrect identifier type: %s, the only supported values are: address, hw-address, duid", identType)
	}
	return q, nil
}

// lookup returns the lease q names, if any; del says which command asks
// (Kea words the kinds it refuses differently for each).
func (h *Commands6) lookup(q query6, del bool) (lease.Lease6, bool, error) {
	switch q.kind {
	case queryAddr:
		l, ok := h.reads.Get(q.addr)
		return l, ok && l.Type == q.typ, nil
	case queryDUID:
		ls := h.reads.ByIA(q.duid, q.iaid, q.typ, q.subnetID)
		if q.subnetID == 0 {
			// Subnet 0 is a subnet-id like any other to Kea.
			ls = nil
		}
		if len(ls) == 0 {
			return lease.Lease6{}, false, nil
		}
		return ls[0], true, nil
	case queryHWAddr:
		if del {
			return lease.Lease6{}, false, errors.New("Delete by hw-address is not allowed in v6.")
		}
		return lease.Lease6{}, false, errors.New("Query by hw-address is not allowed in v6.")
	case queryClientID:
		if !del {
			return lease.Lease6{}, false, errors.New("Query by client-id is not allowed in v6.")
		}
	}
	return lease.Lease6{}, false, fmt.Errorf("Unknown query type: %d", q.kind)
}

func (h *Commands6) get(_ context.Context, req *control.Request) control.Answer {
	q, err := parseQuery6(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	l, ok, err := h.lookup(q, false)
	switch {
	case err != nil:
		return control.Errorf("%v", err)
	case !ok:
		return control.Answer{Result: control.ResultEmpty, Text: "Lease not found."}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv6 lease found.", Arguments: leasejson.Encode6(&l)}
}

func (h *Commands6) getAll(_ context.Context, req *control.Request) control.Answer {
	want := map[uint32]bool{}
	if len(req.Arguments) > 0 {
		m, ok := leasejson.ParseMap(req.Arguments)
		if !ok {
			return control.Errorf("arguments must be a map")
		}
		raw, ok := m["subnets"]
		if !ok {
			return control.Errorf("'subnets' parameter not specified")
		}
		var ids []json.RawMessage
		if json.Unmarshal(raw, &ids) != nil || ids == nil {
			return control.Errorf("'subnets' parameter must be a list")
		}
		for _, raw := range ids {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return control.Errorf("listed subnet identifiers must be numbers")
			}
			if id, err := strconv.ParseUint(n.String(), 10, 32); err == nil {
				want[uint32(id)] = true
			}
		}
		if len(want) == 0 {
			return leases6Answer(nil, false)
		}
	}
	var ls []lease.Lease6
	h.reads.Range(func(l *lease.Lease6) bool {
		if len(want) == 0 || want[l.SubnetID] {
			ls = append(ls, l.Clone())
		}
		return true
	})
	return leases6Answer(ls, false)
}

// maxPage bounds one page (Kea takes any 32-bit size; a page of a million
// leases is already a 300 MB answer).
const maxPage = 1 << 20

func (h *Commands6) getPage(_ context.Context, req *control.Request) control.Answer {
	m, ok := leasejson.ParseMap(req.Arguments)
	if !ok {
		return control.Errorf("no parameters specified for the lease6-get-page command")
	}
	if !m.Has("from") {
		return control.Errorf("'from' parameter not specified")
	}
	fromText, err := m.String("from")
	if err != nil {
		return control.Errorf("'from' parameter must be a string")
	}
	from := netip.IPv6Unspecified()
	if fromText != "start" {
		a, err := netip.ParseAddr(fromText)
		if err != nil || a.Zone() != "" {
			return control.Errorf("'from' parameter value is neither 'start' keyword nor a valid IPv6 address")
		}
		if a.Is4() || a.Is4In6() {
			return control.Errorf("'from' parameter value %s is not an IPv6 address", fromText)
		}
		from = a
	}
	if !m.Has("limit") {
		return control.Errorf("'limit' parameter not specified")
	}
	limit, err := m.Int("limit")
	if err != nil {
		return control.Errorf("'limit' parameter must be a number")
	}
	switch {
	case limit == 0:
		return control.Errorf("page size of retrieved leases must not be 0")
	case limit < 0 || limit > math.MaxUint32:
		return control.Errorf("page size of retrieved leases must not be greater than 4294967295")
	}
	var ls []lease.Lease6
	if fromText == "start" {
		ls = h.reads.Page(netip.Addr{}, int(min(limit, maxPage)))
	} else {
		ls = h.reads.Page(from, int(min(limit, maxPage)))
	}
	return leases6Answer(ls, true)
}

// stringArg reads the mandatory string argument key of a lease6-get-by-*
// command.
func stringArg(req *control.Request, key string) (string, error) {
	m, ok := leasejson.ParseMap(req.Arguments)
	if !ok {
		return "", errors.New("Command arguments missing or a not a map.")
	}
	if !m.Has(key) {
		return "", fmt.Errorf("'%s' parameter not specified", key)
	}
	s, err := m.String(key)
	if err != nil {
		return "", fmt.Errorf("'%s' parameter must be a string", key)
	}
	return s, nil
}

func (h *Commands6) getByDUID(_ context.Context, req *control.Request) control.Answer {
	txt, err := stringArg(req, "duid")
	if err != nil {
		return control.Errorf("%v", err)
	}
	duid, err := leasejson.ParseDUID(txt)
	if err != nil {
		return control.Errorf("%v", err)
	}
	return leases6Answer(h.reads.ByDUID(duid), false)
}

func (h *Commands6) getByHostname(_ context.Context, req *control.Request) control.Answer {
	name, err := stringArg(req, "hostname")
	if err != nil {
		return control.Errorf("%v", err)
	}
	if name == "" {
		return control.Errorf("'hostname' parameter is empty")
	}
	return leases6Answer(h.reads.ByHostname(strings.ToLower(name)), false)
}

// decode parses lease arguments with the current subnets and the caps of
// the lease file.
func (h *Commands6) decode(raw json.RawMessage) (lease.Lease6, bool, error) {
	l, force, err := leasejson.DecodeArgs6(raw, h.opts.Now().Unix(), h.opts.Subnets())
	if err == nil {
		err = checkSizes6(&l)
	}
	return l, force, err
}

// checkSizes6 refuses a lease whose variable-length fields exceed what
// the store keeps.
func checkSizes6(l *lease.Lease6) error {
	switch {
	case len(l.Hostname) > MaxHostname:
		return fmt.Errorf("hostname is %d bytes long, the maximum is %d", len(l.Hostname), MaxHostname)
	case len(l.UserContext) > MaxUserContext:
		return fmt.Errorf("user-context is %d bytes long, the maximum is %d", len(l.UserContext), MaxUserContext)
	case len(l.HWAddr) > maxHWAddr:
		return fmt.Errorf("hw-address is %d bytes long, the maximum is %d", len(l.HWAddr), maxHWAddr)
	}
	return nil
}

// record attaches to op the forensic record of command cmd on l.
func (h *Commands6) record(op *lease.Op6, cmd string, l *lease.Lease6, byDUID bool) {
	if h.opts.Record != nil {
		op.Record = h.opts.Record(nil, cmd, l, byDUID)
	}
}

// commit writes ops and tells Changed; olds[i] is the lease ops[i]
// replaces or deletes (nil if none).
func (h *Commands6) commit(ctx context.Context, ops []lease.Op6, olds []*lease.Lease6) error {
	if err := h.store.Commit(ctx, ops...); err != nil {
		return err
	}
	if h.opts.Changed != nil {
		for i := range ops {
			var nl *lease.Lease6
			if ops[i].Kind == lease.OpPut {
				nl = &ops[i].Lease
			}
			h.opts.Changed(olds[i], nl)
		}
	}
	return nil
}

func (h *Commands6) add(ctx context.Context, req *control.Request) control.Answer {
	if len(req.Arguments) == 0 {
		return control.Errorf("no parameters specified for the command")
	}
	l, _, err := h.decode(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	if _, exists := h.reads.Get(l.Addr); exists {
		return control.Errorf("IPv6 lease already exists.")
	}
	op := lease.Op6{Kind: lease.OpPut, Lease: l}
	h.record(&op, "lease6-add", &l, false)
	if err := h.commit(ctx, []lease.Op6{op}, []*lease.Lease6{nil}); err != nil {
		return control.Errorf("%v", err)
	}
	if l.Type == lease.TypePD {
		return control.Answer{Result: control.ResultSuccess,
			Text: fmt.Sprintf("Lease for prefix %s/%d, subnet-id %d added.", l.Addr, l.PrefixLen, l.SubnetID)}
	}
	return control.Answer{Result: control.ResultSuccess,
		Text: fmt.Sprintf("Lease for address %s, subnet-id %d added.", l.Addr, l.SubnetID)}
}

// addOrUpdate writes l over the lease at its address, or adds it when
// there is none and forceCreate; added reports which. cmd names the
// command for the forensic record ("": none).
func (h *Commands6) addOrUpdate(ctx context.Context, l lease.Lease6, forceCreate bool, cmd string) (added bool, err error) {
	old, exists := h.reads.Get(l.Addr)
	if !exists && !forceCreate {
		return false, fmt.Errorf("failed to update the lease with address %s either because the lease has been deleted "+
			"or it has changed in the database, in both cases a retry might succeed", l.Addr)
	}
	var oldp *lease.Lease6
	if exists {
		oldp = &old
	}
	op := lease.Op6{Kind: lease.OpPut, Lease: l}
	if cmd != "" {
		h.record(&op, cmd, &l, false)
	}
	return !exists, h.commit(ctx, []lease.Op6{op}, []*lease.Lease6{oldp})
}

// ApplyPartnerLease6 writes a lease the HA partner sent during a lease
// database synchronization, as lease6-update with force-create writes it
// (statistics and caches follow through Changed). A lease of a subnet
// not configured here is refused, as Kea skips such stale leases.
func (h *Commands6) ApplyPartnerLease6(ctx context.Context, l lease.Lease6) error {
	if _, err := h.opts.Subnets().Resolve(l.SubnetID, l.Type, l.Addr); err != nil {
		return fmt.Errorf("partner lease %s: %w", l.Addr, err)
	}
	if err := checkSizes6(&l); err != nil {
		return fmt.Errorf("partner lease %s: %w", l.Addr, err)
	}
	if _, err := h.addOrUpdate(ctx, l, true, ""); err != nil {
		return fmt.Errorf("store partner lease %s: %w", l.Addr, err)
	}
	return nil
}

func (h *Commands6) update(ctx context.Context, req *control.Request) control.Answer {
	if len(req.Arguments) == 0 {
		return control.Errorf("no parameters specified for lease6-update command")
	}
	l, force, err := h.decode(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	added, err := h.addOrUpdate(ctx, l, force, "lease6-update")
	switch {
	case err != nil:
		return control.Errorf("%v", err)
	case added:
		return control.Answer{Result: control.ResultSuccess, Text: "IPv6 lease added."}
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv6 lease updated."}
}

// remove deletes l, which lease6-del named by its address or (byDUID)
// its DUID.
func (h *Commands6) remove(ctx context.Context, l lease.Lease6, byDUID bool) error {
	op := lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: l.Addr}}
	h.record(&op, "lease6-del", &l, byDUID)
	return h.commit(ctx, []lease.Op6{op}, []*lease.Lease6{&l})
}

func (h *Commands6) del(ctx context.Context, req *control.Request) control.Answer {
	q, err := parseQuery6(req.Arguments)
	if err != nil {
		return control.Errorf("%v", err)
	}
	l, ok, err := h.lookup(q, true)
	switch {
	case err != nil:
		return control.Errorf("%v", err)
	case !ok:
		return control.Answer{Result: control.ResultEmpty, Text: "IPv6 lease not found."}
	}
	if err := h.remove(ctx, l, q.kind != queryAddr); err != nil {
		return control.Errorf("%v", err)
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv6 lease deleted."}
}

// failedLease is an entry of lease6-bulk-apply's failed-deleted-leases
// and failed-leases.
func failedLease(t lease.Type, addr netip.Addr, duid []byte, result int, text string) map[string]any {
	m := map[string]any{"type": typeText(t), "result": result, "error-message": text}
	if addr.IsValid() && !addr.IsUnspecified() {
		m["ip-address"] = addr.String()
	} else if len(duid) > 0 {
		m["duid"] = leasejson.ColonHex(duid)
	}
	return m
}

func typeText(t lease.Type) string {
	if t == typeV4 {
		return "V4"
	}
	return t.String()
}

func (h *Commands6) bulkApply(ctx context.Context, req *control.Request) control.Answer {
	m, ok := leasejson.ParseMap(req.Arguments)
	if !ok {
		return control.Errorf("Command arguments missing or a not a map.")
	}
	delRaw, hasDel := m["deleted-leases"]
	putRaw, hasPut := m["leases"]
	if !hasDel && !hasPut {
		return control.Errorf("neither 'deleted-leases' nor 'leases' parameter specified")
	}
	var dels, puts []json.RawMessage
	if hasDel && (json.Unmarshal(delRaw, &dels) != nil || dels == nil) {
		return control.Errorf("the 'deleted-leases' parameter must be a list")
	}
	if hasPut && (json.Unmarshal(putRaw, &puts) != nil || puts == nil) {
		return control.Errorf("the 'leases' parameter must be a list")
	}
	// Everything is parsed before anything is written: a malformed entry
	// fails the whole command.
	deletions := make([]deletion6, 0, len(dels))
	for _, raw := range dels {
		q, err := parseQuery6(raw)
		if err != nil {
			return control.Errorf("%v", err)
		}
		l, found, err := h.lookup(q, true)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if !found && q.kind != queryAddr {
			// Kea skips silently a lease named by DUID that is not there.
			continue
		}
		deletions = append(deletions, deletion6{q, l, found})
	}
	leases := make([]lease.Lease6, 0, len(puts))
	for _, raw := range puts {
		l, _, err := h.decode(raw)
		if err != nil {
			return control.Errorf("%v", err)
		}
		leases = append(leases, l)
	}

	// One commit (one fdatasync) for the whole command; each entry is
	// judged against the store as the entries before it leave it.
	var (
		ops       []lease.Op6
		olds      []*lease.Lease6
		opFailDel []int // per op: index into deletions, or -1 for a put
		failedDel []map[string]any
		failedPut []map[string]any
		view      = map[netip.Addr]*lease.Lease6{}
	)
	current := func(a netip.Addr) *lease.Lease6 {
		if l, seen := view[a]; seen {
			return l
		}
		if l, ok := h.reads.Get(a); ok {
			return &l
		}
		return nil
	}
	for i, d := range deletions {
		old := current(d.l.Addr)
		if !d.found || old == nil || old.Type != d.l.Type {
			failedDel = append(failedDel, failedLease(d.q.typ, d.q.addr, d.q.duid, control.ResultEmpty, "lease not found"))
			continue
		}
		op := lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: d.l.Addr}}
		if d.q.kind == queryAddr {
			// Kea records only the deletions named by address.
			h.record(&op, "lease6-del", old, false)
		}
		ops = append(ops, op)
		olds, opFailDel = append(olds, old), append(opFailDel, i)
		view[d.l.Addr] = nil
	}
	for i := range leases {
		op := lease.Op6{Kind: lease.OpPut, Lease: leases[i]}
		h.record(&op, "lease6-update", &leases[i], false)
		ops = append(ops, op)
		olds, opFailDel = append(olds, current(leases[i].Addr)), append(opFailDel, -1)
		view[leases[i].Addr] = &leases[i]
	}
	success := 0
	if len(ops) > 0 {
		err := h.commit(ctx, ops, olds)
		if errors.Is(err, lease.ErrInvalidLease) {
			// One entry the lease file cannot keep: apply them one by one
			// so that only it fails.
			err = nil
			for k := range ops {
				if e := h.commit(ctx, ops[k:k+1], olds[k:k+1]); e != nil {
					failedDel, failedPut = h.bulkFailure(ops[k], opFailDel[k], deletions, e, failedDel, failedPut)
					continue
				}
				success++
			}
		} else if err != nil {
			for k := range ops {
				failedDel, failedPut = h.bulkFailure(ops[k], opFailDel[k], deletions, err, failedDel, failedPut)
			}
		} else {
			success = len(ops)
		}
	}
	a := control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("Bulk apply of %d IPv6 leases completed.", success)}
	if success == 0 {
		a.Result = control.ResultEmpty
	}
	if failedDel != nil || failedPut != nil {
		args := map[string]any{}
		if failedDel != nil {
			args["failed-deleted-leases"] = failedDel
		}
		if failedPut != nil {
			args["failed-leases"] = failedPut
		}
		a.Arguments = args
	}
	return a
}

// bulkFailure adds op's failure to the failed-deleted-leases (del >= 0:
// deletions[del]) or failed-leases of lease6-bulk-apply.
func (h *Commands6) bulkFailure(op lease.Op6, del int, deletions []deletion6, err error,
	failedDel, failedPut []map[string]any) ([]map[string]any, []map[string]any) {
	if del >= 0 {
		q := deletions[del].q
		return append(failedDel, failedLease(q.typ, q.addr, q.duid, control.ResultError, err.Error())), failedPut
	}
	l := &op.Lease
	return failedDel, append(failedPut, failedLease(l.Type, l.Addr, l.DUID, control.ResultError, err.Error()))
}

// deletion6 is a deleted lease of lease6-bulk-apply: what names it and
// the lease it named when the command was parsed.
type deletion6 struct {
	q     query6
	l     lease.Lease6
	found bool
}

// wipeBatch is the number of leases one commit of lease6-wipe deletes.
const wipeBatch = 1024

func (h *Commands6) wipe(ctx context.Context, req *control.Request) control.Answer {
	var ids []uint32
	if m, ok := leasejson.ParseMap(req.Arguments); ok && m.Has("subnet-id") {
		id, err := m.Uint("subnet-id", math.MaxUint32)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if id != 0 {
			ids = []uint32{uint32(id)}
		}
	}
	if ids == nil {
		for _, s := range h.opts.Subnets() {
			ids = append(ids, s.ID)
		}
	}
	want := make(map[uint32]bool, len(ids))
	var names strings.Builder
	for _, id := range ids {
		want[id] = true
		fmt.Fprintf(&names, " %d", id)
	}
	var victims []lease.Lease6
	h.reads.Range(func(l *lease.Lease6) bool {
		if want[l.SubnetID] {
			victims = append(victims, l.Clone())
		}
		return true
	})
	deleted := 0
	for len(victims) > 0 {
		n := min(len(victims), wipeBatch)
		ops := make([]lease.Op6, n)
		olds := make([]*lease.Lease6, n)
		for i := range n {
			ops[i] = lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: victims[i].Addr}}
			olds[i] = &victims[i]
		}
		if err := h.commit(ctx, ops, olds); err != nil {
			return control.Errorf("wipe DHCPv6 leases: %v (%d deleted)", err, deleted)
		}
		deleted += n
		victims = victims[n:]
	}
	a := control.Answer{Result: control.ResultSuccess,
		Text: fmt.Sprintf("Deleted %d IPv6 lease(s) from subnet(s)%s", deleted, names.String())}
	if deleted == 0 {
		a.Result = control.ResultEmpty
	}
	return a
}
