package xdp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"xdhcp/bpf"
	"xdhcp/control"
	"xdhcp/lease/leasejson"
)

// Registrar is where commands are registered (*control.Server is one).
type Registrar interface {
	Handle(name string, h control.HandlerFunc)
}

// notRunning answers a drop-list command when neither the XDP path runs
// nor the engine keeps a list.
var notRunning = control.Answer{Result: control.ResultUnsupported, Text: "the XDP path is not running (socket mode): no drop list"}

// RegisterCommands adds the drop-list commands: xdhcp-drop-add,
// xdhcp-drop-del and xdhcp-drop-list, with {"hw-address": "..."},
// {"client-id": "..."} or {"duid": "..."} (a DHCPv6 client's DUID, which
// the program matches in DHCPv6 messages, relayed ones too; the engine's
// list gets it when it keeps DUIDs, see DUIDList). Entries added here stay until deleted (they are
// pinned with the map when pinning is on); entries from DROP reservations
// follow the configuration. Each change goes to the program's maps and to
// the engine's list (Deps.Drops), so a client on the list is not served in
// socket mode either, nor when its request gets past the program.
func (d *Datapath) RegisterCommands(c Registrar) {
	c.Handle("xdhcp-drop-add", d.setDrop(true))
	c.Handle("xdhcp-drop-del", d.setDrop(false))
	c.Handle("xdhcp-drop-list", d.listDrops)
}

func (d *Datapath) setDrop(on bool) control.HandlerFunc {
	return func(_ context.Context, req *control.Request) control.Answer {
		id, kind, err := parseDropID(req)
		isMAC := kind == kindHW
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.att == nil && d.deps.Drops == nil {
			return notRunning
		}
		if err != nil || len(id) == 0 {
			return control.Errorf("invalid identifier: %v", err)
		}
		if err := checkDropID(id, kind); err != nil {
			return control.Errorf("invalid identifier: %v", err)
		}
		if d.att != nil {
			for _, o := range d.att.instances() {
				switch kind {
				case kindHW:
					err = errors.Join(err, o.DropMAC(id, on))
				case kindCID:
					err = errors.Join(err, o.DropClientID(id, on))
				case kindDUID:
					err = errors.Join(err, o.DropDUID(id, on))
				}
			}
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		if d.deps.Drops != nil {
			if kind != kindDUID {
				d.deps.Drops.Set(isMAC, id, on)
			} else if dl, ok := d.deps.Drops.(DUIDList); ok {
				dl.SetDUID(id, on)
			}
		}
		if on {
			return control.Answer{Result: control.ResultSuccess, Text: "added to the drop list"}
		}
		return control.Answer{Result: control.ResultSuccess, Text: "removed from the drop list"}
	}
}

// checkDropID holds an identifier to what the program's maps can key, so
// that the engine's list never holds an entry the program does not.
func checkDropID(id []byte, kind idKind) error {
	switch {
	case kind == kindHW && len(id) > bpf.MaxHWAddrLen:
		return fmt.Errorf("hardware address of %d bytes (want 1..%d)", len(id), bpf.MaxHWAddrLen)
	case kind == kindCID && len(id) > bpf.MaxClientIDLen:
		return fmt.Errorf("client identifier of %d bytes (want 1..%d)", len(id), bpf.MaxClientIDLen)
	case kind == kindDUID && len(id) > bpf.MaxDUIDLen:
		return fmt.Errorf("DUID of %d bytes (want 1..%d)", len(id), bpf.MaxDUIDLen)
	}
	return nil
}

// DUIDList is the engine's copy of the DUID drop list, when the engine
// (Deps.Drops) keeps one.
type DUIDList interface {
	SetDUID(duid []byte, drop bool)
	ListDUIDs() [][]byte
}

func (d *Datapath) listDrops(context.Context, *control.Request) control.Answer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.att == nil && d.deps.Drops == nil {
		return notRunning
	}
	hws, cids, duids := []string{}, []string{}, []string{}
	seen := map[string]bool{}
	add := func(out *[]string, id []byte, kind string) {
		if k := kind + string(id); !seen[k] {
			seen[k] = true
			*out = append(*out, hexColon(id))
		}
	}
	if d.att != nil {
		for _, o := range d.att.instances() {
			macs, ids, err := o.ListDropped()
			if err != nil {
				return control.Errorf("%v", err)
			}
			for _, m := range macs {
				add(&hws, m, "h")
			}
			for _, c := range ids {
				add(&cids, c, "c")
			}
			ds, err := o.ListDroppedDUIDs()
			if err != nil {
				return control.Errorf("%v", err)
			}
			for _, c := range ds {
				add(&duids, c, "d")
			}
		}
	}
	if dl, ok := d.deps.Drops.(DUIDList); ok {
		for _, c := range dl.ListDUIDs() {
			add(&duids, c, "d")
		}
	}
	if d.deps.Drops != nil {
		macs, ids := d.deps.Drops.List()
		for _, m := range macs {
			add(&hws, m, "h")
		}
		for _, c := range ids {
			add(&cids, c, "c")
		}
	}
	sort.Strings(hws)
	sort.Strings(cids)
	sort.Strings(duids)
	return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d entries", len(hws)+len(cids)+len(duids)),
		Arguments: map[string]any{"hw-addresses": hws, "client-ids": cids, "duids": duids}}
}

// idKind says what a drop-list identifier is.
type idKind int

const (
	kindHW   idKind = iota // a hardware address
	kindCID                // a DHCPv4 client identifier
	kindDUID               // a DHCPv6 client's DUID
)

// parseDropID reads the one identifier of a drop-list command: the bytes
// and their kind.
func parseDropID(req *control.Request) ([]byte, idKind, error) {
	var a struct {
		HW   string `json:"hw-address"`
		CID  string `json:"client-id"`
		DUID string `json:"duid"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return nil, 0, err
	}
	given, id, kind := 0, "", kindHW
	for _, c := range []struct {
		v string
		k idKind
	}{{a.HW, kindHW}, {a.CID, kindCID}, {a.DUID, kindDUID}} {
		if c.v != "" {
			given, id, kind = given+1, c.v, c.k
		}
	}
	if given != 1 {
		return nil, 0, errors.New("give exactly one of 'hw-address', 'client-id' and 'duid'")
	}
	b, err := leasejson.ParseHex(id)
	return b, kind, err
}

func hexColon(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
