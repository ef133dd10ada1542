package slowpath

import (
	"sync"
	"sync/atomic"
)

// DropList is the operator's list of clients that are never answered, by
// hardware address (chaddr, hlen bytes) or client identifier (the whole
// option 61 value, its pieces joined). The XDP program holds the same list
// in its maps; the engine checks it too, so that socket mode, and a request
// the program could not read whole, honour it as well. Reads are one atomic
// load and allocate nothing; a change copies the list (changes are rare:
// commands and reloads).
type DropList struct {
	mu  sync.Mutex // serializes writers
	cur atomic.Pointer[dropSet]
}

type dropSet struct {
	hw, cid map[string]struct{}
}

// NewDropList returns an empty drop list.
func NewDropList() *DropList {
	d := &DropList{}
	d.cur.Store(&dropSet{hw: map[string]struct{}{}, cid: map[string]struct{}{}})
	return d
}

// Set adds id to the list (drop true) or removes it; hw says whether id is
// a hardware address or a client identifier. An empty id is ignored.
func (d *DropList) Set(hw bool, id []byte, drop bool) {
	if len(id) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cur.Load()
	m := old.cid
	if hw {
		m = old.hw
	}
	if _, ok := m[string(id)]; ok == drop {
		return
	}
	next := make(map[string]struct{}, len(m)+1)
	for k := range m {
		next[k] = struct{}{}
	}
	if drop {
		next[string(id)] = struct{}{}
	} else {
		delete(next, string(id))
	}
	if hw {
		d.cur.Store(&dropSet{hw: next, cid: old.cid})
	} else {
		d.cur.Store(&dropSet{hw: old.hw, cid: next})
	}
}

// Listed reports whether a client with hardware address hw or client
// identifier cid is on the list.
func (d *DropList) Listed(hw, cid []byte) bool {
	s := d.cur.Load()
	if len(hw) > 0 {
		if _, ok := s.hw[string(hw)]; ok {
			return true
		}
	}
	if len(cid) > 0 {
		if _, ok := s.cid[string(cid)]; ok {
			return true
		}
	}
	return false
}

// List returns copies of the listed hardware addresses and client
// identifiers.
func (d *DropList) List() (hws, cids [][]byte) {
	s := d.cur.Load()
	for k := range s.hw {
		hws = append(hws, []byte(k))
	}
	for k := range s.cid {
		cids = append(cids, []byte(k))
	}
	return hws, cids
}

// dropListed drops a request from a client on the drop list, before
// anything else is done for it.
func dropListed(s *Server, _ *liveConfig, r *request) bool {
	if s.drops == nil || !s.drops.Listed(r.hw, r.cid) {
		return true
	}
	s.hs.dropListed.Inc()
	s.st.receiveDrop.Inc()
	return false
}
