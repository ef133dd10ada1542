package caps

import "testing"

// TestSet: Has reads the capability's bit, out-of-range numbers are never
// in a set, and names are the kernel's.
func TestSet(t *testing.T) {
	if _, err := Effective(); err != nil {
		t.Fatalf("Effective: %v", err)
	}
	s := Set(1<<NetRaw | 1<<BPF)
	if !s.Has(NetRaw) || !s.Has(BPF) || s.Has(NetAdmin) || s.Has(Cap(70)) || s.Has(Cap(-1)) {
		t.Errorf("Has on %#x wrong", uint64(s))
	}
	if BPF.String() != "CAP_BPF" || NetRaw.String() != "CAP_NET_RAW" || Cap(50).String() != "capability 50" {
		t.Errorf("names: %s, %s, %s", BPF, NetRaw, Cap(50))
	}
}
