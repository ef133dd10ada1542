package lbhash

import (
	"testing"
)

func TestSumKeaVectors(t *testing.T) {
	for _, v := range KeaVectors {
		key := v.KeyBytes()
		h := Sum(key)
		if h != v.Hash {
			t.Errorf("Sum(%s) = %d, want %d", v.Key, h, v.Hash)
		}
		if got := int(h) % 2; got != v.Server {
			t.Errorf("%s: server index %d, want %d", v.Key, got, v.Server)
		}
	}
}

func TestSumEdges(t *testing.T) {
	// Empty key: seed 0 and no mixing. Kea never hashes an empty key (it
	// falls back to chaddr or drops), but the function must not misbehave.
	if h := Sum(nil); h != 0 {
		t.Errorf("Sum(nil) = %d, want 0", h)
	}
	// The table is a permutation, which is what makes the hash uniform.
	var seen [256]bool
	for _, v := range Table {
		if seen[v] {
			t.Fatalf("mixing table repeats %d", v)
		}
		seen[v] = true
	}
	// A 256-byte key seeds with 0 (length mod 256), like a 0-byte key would.
	long := make([]byte, 256)
	want := uint8(0)
	for range long {
		want = Table[want]
	}
	if h := Sum(long); h != want {
		t.Errorf("256 zero bytes: %d, want %d", h, want)
	}
}

func FuzzSum(f *testing.F) {
	for _, v := range KeaVectors {
		f.Add(v.KeyBytes())
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		// Reference: a literal transcription of Kea's loop
		// (for (i = key_len; i > 0;) hash = tbl[hash ^ key[--i]]).
		h := uint8(len(key))
		for i := len(key); i > 0; {
			i--
			h = Table[h^key[i]]
		}
		if got := Sum(key); got != h {
			t.Fatalf("Sum(%x) = %d, want %d", key, got, h)
		}
	})
}
