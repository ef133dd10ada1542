package ha

import (
	"encoding/binary"
	"testing"
)

// TestClientTableBounded: a flood of new clients during an outage keeps
// the table at its size, and unacked clients still count once it is full
// of clients that are not.
func TestClientTableBounded(t *testing.T) {
	tab := newClientTable(10)
	key := make([]byte, 8)
	for i := range 100_000 {
		binary.BigEndian.PutUint64(key, uint64(i))
		tab.observe(key, false)
	}
	if tab.len() != minClientTable {
		t.Fatalf("%d clients recorded after a flood, want the bound %d", tab.len(), minClientTable)
	}
	for i := range 11 {
		binary.BigEndian.PutUint64(key, uint64(1<<40+i))
		tab.observe(key, true)
		tab.observe(key, true) // the same client again counts once
	}
	if tab.unacked != 11 || tab.len() != minClientTable {
		t.Fatalf("unacked %d, %d recorded; want 11 within %d", tab.unacked, tab.len(), minClientTable)
	}
	tab.reset()
	if tab.len() != 0 || tab.unacked != 0 {
		t.Fatalf("after reset: %d recorded, %d unacked", tab.len(), tab.unacked)
	}
}
