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
// xdhcp-drop-del and xdhcp-drop-list, with {"hw-address": "..."} or
// {"client-id": "..."}. Entries added here stay until deleted (they are
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
		id, isMAC, err := parseDropID(req)
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.att == nil && d.deps.Drops == nil {
			return notRunning
		}
		if err != nil || len(id) == 0 {
			return control.Errorf("invalid identifier: %v", err)
		}
		if err := checkDropID(id, isMAC); err != nil {
			return control.Errorf("invalid identifier: %v", err)
		}
		if d.att != nil {
			for _, o := range d.att.instances() {
				if isMAC {
					err = errors.Join(err, o.DropMAC(id, on))
				} else {
					err = errors.Join(err, o.DropClientID(id, on))
				}
			}
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		if d.deps.Drops != nil {
			d.deps.Drops.Set(isMAC, id, on)
		}
		if on {
			return control.Answer{Result: control.ResultSuccess, Text: "added to the drop list"}
		}
		return control.Answer{Result: control.ResultSuccess, Text: "removed from the drop list"}
	}
}

// checkDropID holds an identifier to what the program's maps can key, so
// that the engine's list never holds an entry the program does not.
func checkDropID(id []byte, isMAC bool) error {
	if isMAC && len(id) > bpf.MaxHWAddrLen {
		return fmt.Errorf("hardware address of %d bytes (want 1..%d)", len(id), bpf.MaxHWAddrLen)
	}
	if !isMAC && len(id) > bpf.MaxClientIDLen {
		return fmt.Errorf("client identifier of %d bytes (want 1..%d)", len(id), bpf.MaxClientIDLen)
	}
	return nil
}

func (d *Datapath) listDrops(context.Context, *control.Request) control.Answer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.att == nil && d.deps.Drops == nil {
		return notRunning
	}
	hws, cids := []string{}, []string{}
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
	return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d entries", len(hws)+len(cids)),
		Arguments: map[string]any{"hw-addresses": hws, "client-ids": cids}}
}

// parseDropID reads the one identifier of a drop-list command: the bytes,
// and whether they are a hardware address (else a client identifier).
func parseDropID(req *control.Request) ([]byte, bool, error) {
	var a struct {
		HW  string `json:"hw-address"`
		CID string `json:"client-id"`
	}
	if err := req.DecodeArguments(&a); err != nil {
		return nil, false, err
	}
	switch {
	case a.HW != "" && a.CID == "":
		b, err := leasejson.ParseHex(a.HW)
		return b, true, err
	case a.CID != "" && a.HW == "":
		b, err := leasejson.ParseHex(a.CID)
		return b, false, err
	}
	return nil, false, errors.New("give exactly one of 'hw-address' and 'client-id'")
}

func hexColon(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
