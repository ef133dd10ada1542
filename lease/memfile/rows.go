package memfile

import (
	"sync"

	"xdhcp/lease"
)

// leaseIndex is what rows needs of an index: index (DHCPv4) or index6.
type leaseIndex[L any, K comparable] interface {
	put(l *L)
	del(k K) bool
	lookup(k K) (int32, bool)
	fill(i int32, l *L)
}

// rowCodec ties a lease type to its op type, its index key and its row.
type rowCodec[L any, K comparable, O any] struct {
	op        func(o *O) (lease.OpKind, *L)
	key       func(l *L) K
	appendRow func(dst []byte, l *L) []byte
	// deleted turns a copy of a stored lease into its deletion marker.
	deleted func(l *L)
}

// rows is the part of a table shared by Store and Store6: the index lock,
// encoding a batch as rows and applying it.
type rows[L any, K comparable, O any] struct {
	codec rowCodec[L, K, O]
	mu    sync.RWMutex // guards the index
	ix    leaseIndex[L, K]

	// Owned by the writer goroutine: the batch-local view for resolving
	// deletes, and per delete op whether it removed a lease.
	overlay map[K]*L
	hits    []bool
	scratch L
}

func (t *rows[L, K, O]) setup(c rowCodec[L, K, O], ix leaseIndex[L, K]) {
	t.codec, t.ix, t.overlay = c, ix, make(map[K]*L)
}

// applyMemory applies ops of a store that does not persist.
func (t *rows[L, K, O]) applyMemory(ops []O) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	deleted := 0
	for i := range ops {
		kind, l := t.codec.op(&ops[i])
		if kind == lease.OpDelete {
			if t.ix.del(t.codec.key(l)) {
				deleted++
			}
			continue
		}
		t.ix.put(l)
	}
	return deleted
}

// encode appends the rows of batch in op order. Deletes are resolved
// against the index as updated by the earlier ops of this batch, so a
// delete row carries the stored lease (Kea writes the deleted lease with
// valid lifetime 0). Only the writer goroutine mutates the index, so
// reading it unlocked here is safe.
func (t *rows[L, K, O]) encode(buf []byte, batch []*request[O]) (_ []byte, n, lastRow int) {
	clear(t.overlay)
	t.hits = t.hits[:0]
	for _, r := range batch {
		for k := range r.ops {
			kind, l := t.codec.op(&r.ops[k])
			a := t.codec.key(l)
			if kind == lease.OpPut {
				lastRow = len(buf)
				buf = t.codec.appendRow(buf, l)
				t.overlay[a] = l
				n++
				continue
			}
			cur, ok := t.overlay[a]
			if !ok {
				if i, found := t.ix.lookup(a); found {
					t.ix.fill(i, &t.scratch)
					cur = &t.scratch
				}
			}
			if cur == nil {
				t.hits = append(t.hits, false)
				continue
			}
			marker := *cur
			t.codec.deleted(&marker)
			lastRow = len(buf)
			buf = t.codec.appendRow(buf, &marker)
			t.overlay[a] = nil
			t.hits = append(t.hits, true)
			n++
		}
	}
	return buf, n, lastRow
}

// apply applies a batch encode wrote to the index.
func (t *rows[L, K, O]) apply(batch []*request[O]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := 0
	for _, r := range batch {
		for k := range r.ops {
			kind, l := t.codec.op(&r.ops[k])
			if kind == lease.OpPut {
				t.ix.put(l)
				continue
			}
			if t.hits[h] {
				t.ix.del(t.codec.key(l))
				r.deleted++
			}
			h++
		}
	}
}
