package memfile

import (
	"fmt"
	"log/slog"
	"sync"

	"xdhcp/lease"
)

// leaseIndex is what rows needs of an index: index (DHCPv4) or index6.
type leaseIndex[L any, K comparable] interface {
	put(l *L)
	del(k K) bool
	lookup(k K) (int32, bool)
	fill(i int32, l *L)
	len() int
	ascend(start K, fn func(i int32) bool)
	// startLoad and finishLoad bracket bulk loading, which may defer
	// ordering work to its end.
	startLoad()
	finishLoad()
}

// rowCodec ties a lease type to its op type, its index key and its row.
type rowCodec[L any, K comparable, O any] struct {
	header    string // the lease file's first line
	op        func(o *O) (lease.OpKind, *L)
	record    func(o *O) []byte // the op's forensic record
	validate  func(o *O) error  // refuses an op whose row Kea would not load
	key       func(l *L) K
	appendRow func(dst []byte, l *L) []byte
	// deleted turns a copy of a stored lease into its deletion marker;
	// marker reports whether a loaded row is one.
	deleted func(l *L)
	marker  func(l *L) bool
	// format and parse read the lease file: parse fills l from the first
	// n fields of a row, reusing its byte slices.
	format *rowFormat
	parse  func(fields [][]byte, n int, l *L) error
	// newIndex makes an empty index, with secondary lookups or (for a
	// cleanup's merge) without.
	newIndex func(secondary bool) leaseIndex[L, K]
}

// indexSink loads rows into an index, reusing one lease (and so its byte
// slices' capacity) for every row.
type indexSink[L any, K comparable, O any] struct {
	c *rowCodec[L, K, O]
	x leaseIndex[L, K]
	l L
}

func (k *indexSink[L, K, O]) format() *rowFormat { return k.c.format }
func (k *indexSink[L, K, O]) len() int           { return k.x.len() }

func (k *indexSink[L, K, O]) apply(fields [][]byte, n int) error {
	if err := k.c.parse(fields, n, &k.l); err != nil {
		return err
	}
	if k.c.marker(&k.l) {
		k.x.del(k.c.key(&k.l))
	} else {
		k.x.put(&k.l)
	}
	return nil
}

// openTable sets up a store made of journal j and table t (tab is the
// store itself) over index ix and loads its lease files.
func openTable[L any, K comparable, O any](j *journal[O], t *rows[L, K, O], tab table[O], c rowCodec[L, K, O],
	ix leaseIndex[L, K], opts Options, openFile func(string) (journalFile, error)) error {
	t.codec, t.ix, t.overlay = c, ix, make(map[K]*L)
	j.init(opts, openFile, tab)
	t.log = j.log
	return j.start(func() (bool, loadResult, error) {
		ix.startLoad()
		defer ix.finishLoad()
		return j.loadFiles(&indexSink[L, K, O]{c: &t.codec, x: ix})
	})
}

// compactFiles is the cleanup's merge: load inputs into a fresh index and
// write its leases, expired ones included, to out.
func (t *rows[L, K, O]) compactFiles(inputs []string, out string) (int, error) {
	x := t.codec.newIndex(false)
	x.startLoad()
	errs := &rowErrors{} // kea-lfc skips any number of bad rows
	for _, p := range inputs {
		if _, err := loadFile(p, &indexSink[L, K, O]{c: &t.codec, x: x}, errs, t.log); err != nil {
			return 0, err
		}
	}
	x.finishLoad()
	var (
		l    L
		row  []byte
		zero K
	)
	err := writeLeaseFile(out, t.codec.header, func(emit func([]byte) bool) {
		x.ascend(zero, func(i int32) bool {
			x.fill(i, &l)
			row = t.codec.appendRow(row[:0], &l)
			return emit(row)
		})
	})
	return x.len(), err
}

// rows is the part of a table shared by Store and Store6: the index lock,
// encoding a batch as rows and applying it.
type rows[L any, K comparable, O any] struct {
	codec rowCodec[L, K, O]
	mu    sync.RWMutex // guards the index
	ix    leaseIndex[L, K]
	log   *slog.Logger

	// Owned by the writer goroutine: the batch-local view for resolving
	// deletes, and per delete op whether it removed a lease.
	overlay map[K]*L
	hits    []bool
	scratch L
}

func (t *rows[L, K, O]) header() string     { return t.codec.header }
func (t *rows[L, K, O]) record(o *O) []byte { return t.codec.record(o) }

func (t *rows[L, K, O]) validateOps(ops []O) error {
	for i := range ops {
		if err := t.codec.validate(&ops[i]); err != nil {
			return fmt.Errorf("commit op %d: %w", i, err)
		}
	}
	return nil
}

// Range calls fn for every lease in ascending address order until fn
// returns false. The lease and its slices are reused between calls: copy
// what you keep. fn runs under the index read lock, so it must not call
// other methods of the store, and commits wait until Range returns.
func (t *rows[L, K, O]) Range(fn func(l *L) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var (
		l    L
		zero K
	)
	t.ix.ascend(zero, func(i int32) bool {
		t.ix.fill(i, &l)
		return fn(&l)
	})
}

// Len returns the number of leases.
func (t *rows[L, K, O]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ix.len()
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
