package loadgen

// ring is a fixed-capacity FIFO of client indexes. Each client is in a
// given ring at most once, so a capacity of the client count never fills.
type ring struct {
	buf        []uint32
	head, size int
}

func newRing(n int) ring { return ring{buf: make([]uint32, max(n, 1))} }

func (r *ring) len() int { return r.size }

// push appends v; it reports false (and drops v) if the ring is full.
func (r *ring) push(v uint32) bool {
	if r.size == len(r.buf) {
		return false
	}
	r.buf[(r.head+r.size)%len(r.buf)] = v
	r.size++
	return true
}

// pop removes and returns the oldest element.
func (r *ring) pop() (uint32, bool) {
	if r.size == 0 {
		return 0, false
	}
	v := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return v, true
}

// timerHeap is a binary min-heap of timer entries by time, without the
// interface boxing of container/heap.
type timerHeap []timerEntry

func (h *timerHeap) push(e timerEntry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *timerHeap) pop() timerEntry {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].at < a[m].at {
			m = l
		}
		if r < len(a) && a[r].at < a[m].at {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
