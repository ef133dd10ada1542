package memfile

// slab is a growable array of records kept in chunks of fixed size, so
// adding a record never moves the others: a plain slice of a million
// leases copies them all each time it outgrows its capacity, which a
// server taking on new clients pays again and again.
type slab[R any] struct {
	chunks [][]R
	n      int32
}

const (
	slabShift = 10
	slabChunk = 1 << slabShift
)

// at is record i (i < len).
func (s *slab[R]) at(i int32) *R { return &s.chunks[i>>slabShift][i&(slabChunk-1)] }

func (s *slab[R]) len() int32 { return s.n }

// slot returns a free record's index: a freed one if there is one, else a
// new zero record at the end.
func (s *slab[R]) slot(free *[]int32) int32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		return i
	}
	if int(s.n>>slabShift) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]R, slabChunk))
	}
	s.n++
	return s.n - 1
}
