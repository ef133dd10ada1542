// Package cbcmd answers Kea's configuration backend commands (the
// remote-* commands of Kea's cb_cmds hook) over the configuration
// database xdhcpd reads (config-control), with Kea's argument and answer
// shapes. The changes reach every server reading the database, this one
// included, at its next poll.
package cbcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"xdhcp/configdb"
	"xdhcp/control"
)

// Commands are the remote-* commands of one server.
type Commands struct {
	// db returns the configuration database, nil without config-control.
	db func() *configdb.DB
	// check says why this server would refuse its configuration with the
	// snapshot's objects merged in (nil: it would take it).
	check func(*configdb.Snapshot) error
	// v6: the remote-*6 commands over the DHCPv6 configuration.
	v6 bool
}

// New returns the commands over the database db returns. Objects are
// checked with check before they are written, as Kea's commands parse
// them first: one bad object in the database would stop every server
// from applying later changes.
func New(db func() *configdb.DB, check func(*configdb.Snapshot) error) *Commands {
	return &Commands{db: db, check: check}
}

// New6 is New for the DHCPv6 commands (remote-subnet6-set, ...) over the
// Dhcp6 section's configuration database.
func New6(db func() *configdb.DB, check func(*configdb.Snapshot) error) *Commands {
	return &Commands{db: db, check: check, v6: true}
}

// args are a command's arguments, numbers kept as written.
type args map[string]any

func parse(req *control.Request) (args, error) {
	if len(req.Arguments) == 0 {
		return nil, errors.New("Missing mandatory 'arguments' parameter.")
	}
	var a args
	dec := json.NewDecoder(bytes.NewReader(req.Arguments))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil || a == nil {
		return nil, errors.New("'arguments' must be a map")
	}
	return a, nil
}

// tags returns server-tags; mandatory says a missing list is an error.
func (a args) tags(mandatory bool) ([]string, error) {
	v, ok := a["server-tags"]
	if !ok {
		if mandatory {
			return nil, errors.New("'server-tags' parameter is mandatory")
		}
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok || (mandatory && len(l) == 0) {
		return nil, errors.New("'server-tags' must be a non-empty list of strings")
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok || s == "" {
			return nil, errors.New("'server-tags' must be a non-empty list of strings")
		}
		out = append(out, s)
	}
	for _, s := range out {
		if s == configdb.TagAll && len(out) > 1 {
			return nil, errors.New("'all' server tag must not be specified with other server tags")
		}
	}
	return out, nil
}

// oneTag is server-tags holding exactly one tag (global parameters and
// options).
func (a args) oneTag() (string, error) {
	t, err := a.tags(true)
	if err != nil {
		return "", err
	}
	if len(t) != 1 {
		return "", errors.New("expected exactly one server tag")
	}
	return t[0], nil
}

// objects is the list under key, each a map.
func (a args) objects(key string, one bool) ([]map[string]any, error) {
	l, ok := a[key].([]any)
	if !ok {
		return nil, fmt.Errorf("'%s' parameter must be a list", key)
	}
	if one && len(l) != 1 {
		return nil, fmt.Errorf("'%s' list must include exactly one element", key)
	}
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("'%s' entries must be maps", key)
		}
		out = append(out, m)
	}
	return out, nil
}

type handler func(ctx context.Context, db *configdb.DB, a args) control.Answer

// checked wraps a set command: the object is checked first.
func (cm *Commands) checked(key string, snap func(o map[string]any) *configdb.Snapshot, h handler) handler {
	return func(ctx context.Context, db *configdb.DB, a args) control.Answer {
		// Global parameters are one map, the other objects a list of one.
		o, isMap := a[key].(map[string]any)
		if !isMap {
			l, err := a.objects(key, true)
			if err != nil {
				return fail(err)
			}
			o = l[0]
		}
		s := snap(o)
		s.V6 = cm.v6
		if err := cm.check(s); err != nil {
			return control.Errorf("refused: %v", err)
		}
		return h(ctx, db, a)
	}
}

// Register adds the commands to c.
func (cm *Commands) Register(c *control.Server) {
	for name, h := range map[string]handler{
		"remote-server4-set":     serverSet,
		"remote-server4-get":     serverGet,
		"remote-server4-get-all": serverGetAll,
		"remote-server4-del":     serverDel,
		"remote-global-parameter4-set": cm.checked("parameters", func(o map[string]any) *configdb.Snapshot {
			return &configdb.Snapshot{Globals: o}
		}, globalSet),
		"remote-global-parameter4-get":     globalGet,
		"remote-global-parameter4-get-all": globalGetAll,
		"remote-global-parameter4-del":     globalDel,
		"remote-subnet4-set": cm.checked("subnets", func(o map[string]any) *configdb.Snapshot {
			return &configdb.Snapshot{Subnets: []configdb.Object{o}}
		}, subnetSet),
		"remote-subnet4-get-by-id":     subnetGet(false),
		"remote-subnet4-get-by-prefix": subnetGet(true),
		"remote-subnet4-list":          subnetList,
		"remote-subnet4-del-by-id":     subnetDel(false),
		"remote-subnet4-del-by-prefix": subnetDel(true),
		"remote-network4-set": cm.checked("shared-networks", func(o map[string]any) *configdb.Snapshot {
			return &configdb.Snapshot{Networks: []configdb.Object{o}}
		}, networkSet),
		"remote-network4-get":  networkGet,
		"remote-network4-list": networkList,
		"remote-network4-del":  networkDel,
		"remote-option4-global-set": cm.checked("options", func(o map[string]any) *configdb.Snapshot {
			return &configdb.Snapshot{Options: []any{o}}
		}, optionSet),
		"remote-option4-global-get":     optionGet,
		"remote-option4-global-get-all": optionGetAll,
		"remote-option4-global-del":     optionDel,
		"remote-option-def4-set": cm.checked("option-defs", func(o map[string]any) *configdb.Snapshot {
			return &configdb.Snapshot{Defs: []any{o}}
		}, optionDefSet),
		"remote-option-def4-get":     optionDefGet,
		"remote-option-def4-get-all": optionDefGetAll,
		"remote-option-def4-del":     optionDefDel,
		"remote-option4-subnet-set":  scopedOptionSet("subnet"),
		"remote-option4-subnet-del":  scopedOptionDel("subnet"),
		"remote-option4-network-set": scopedOptionSet("network"),
		"remote-option4-network-del": scopedOptionDel("network"),
		"remote-option4-pool-set":    scopedOptionSet("pool"),
		"remote-option4-pool-del":    scopedOptionDel("pool"),
		"remote-class4-set": cm.checked("client-classes", func(o map[string]any) *configdb.Snapshot {
			c := make(configdb.Object, len(o))
			for k, v := range o {
				if k != "follow-class-name" {
					c[k] = v
				}
			}
			return &configdb.Snapshot{Classes: []configdb.Object{c}}
		}, classSet),
		"remote-class4-get":     classGet,
		"remote-class4-get-all": classGetAll,
		"remote-class4-del":     classDel,
	} {
		if cm.v6 {
			// remote-subnet4-set is remote-subnet6-set, and so on.
			name = strings.Replace(name, "4-", "6-", 1)
		}
		c.Handle(name, cm.wrap(h))
	}
	if cm.v6 {
		c.Handle("remote-option6-pd-pool-set", cm.wrap(scopedOptionSet("pd-pool")))
		c.Handle("remote-option6-pd-pool-del", cm.wrap(scopedOptionDel("pd-pool")))
	}
}

func (cm *Commands) wrap(h handler) control.HandlerFunc {
	return func(ctx context.Context, req *control.Request) control.Answer {
		db := cm.db()
		if db == nil {
			return control.Errorf("no configuration backend: config-control has no config-databases")
		}
		a, err := parse(req)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if r, ok := a["remote"].(map[string]any); ok {
			if t, ok := r["type"].(string); ok && t != db.Type() {
				return control.Errorf("no configuration backend of type '%s' (this server's is %s)", t, db.Type())
			}
		}
		return h(ctx, db, a)
	}
}

func ok(text string, arguments any) control.Answer {
	return control.Answer{Result: control.ResultSuccess, Text: text, Arguments: arguments}
}

func empty(text string, arguments any) control.Answer {
	return control.Answer{Result: control.ResultEmpty, Text: text, Arguments: arguments}
}

func fail(err error) control.Answer { return control.Errorf("%v", err) }

func num(v any) (uint64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(n.String(), 10, 32)
	return u, err == nil
}
