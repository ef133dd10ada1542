package bpf

import (
	"encoding/hex"
	"strings"
	"testing"
)

// kea22Vectors are the test vectors of kea-2.2-reference.md section 2.7: the
// client-id rows were verified against a live Kea 2.2 pair (server1 answered
// exactly the even hashes), the hw-address rows are computed.
var kea22Vectors = []struct {
	key    string
	hash   uint8
	server int // 0 = primary (server1), 1 = secondary (server2)
}{
	{"01:00:0c:01:02:03:04", 104, 0},
	{"01:00:0c:01:02:03:05", 62, 0},
	{"01:00:0c:01:02:03:06", 202, 0},
	{"01:00:0c:01:02:03:07", 69, 1},
	{"01:00:0c:01:02:03:08", 232, 0},
	{"01:00:0c:01:02:03:09", 132, 0},
	{"01:00:0c:01:02:03:0a", 106, 0},
	{"01:00:0c:01:02:03:0b", 164, 0},
	{"01:00:0c:01:02:03:0c", 214, 0},
	{"01:00:0c:01:02:03:0d", 28, 0},
	{"01:00:0c:01:02:03:0e", 165, 1},
	{"01:00:0c:01:02:03:0f", 183, 1},
	{"01:00:0c:01:02:03:10", 45, 1},
	{"01:00:0c:01:02:03:11", 22, 0},
	{"01:00:0c:01:02:03:12", 113, 1},
	{"01:00:0c:01:02:03:13", 118, 0},
	{"01:00:0c:01:02:03:14", 225, 1},
	{"01:00:0c:01:02:03:15", 107, 1},
	{"01:00:0c:01:02:03:16", 93, 1},
	{"01:00:0c:01:02:03:17", 133, 1},
	{"00:0c:01:02:03:04", 131, 1},
	{"aa:bb:cc:dd:ee:ff", 57, 1},
	{"00", 175, 1},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func TestLoadBalanceHashKeaVectors(t *testing.T) {
	for _, v := range kea22Vectors {
		key := mustHex(t, v.key)
		h := LoadBalanceHash(key)
		if h != v.hash {
			t.Errorf("LoadBalanceHash(%s) = %d, want %d", v.key, h, v.hash)
		}
		if got := int(h) % 2; got != v.server {
			t.Errorf("%s: server index %d, want %d", v.key, got, v.server)
		}
	}
}

func TestLoadBalanceHashEdges(t *testing.T) {
	// Empty key: seed 0 and no mixing. Kea never hashes an empty key (it
	// falls back to chaddr or drops), but the function must not misbehave.
	if h := LoadBalanceHash(nil); h != 0 {
		t.Errorf("LoadBalanceHash(nil) = %d, want 0", h)
	}
	// The table is a permutation, which is what makes the hash uniform.
	var seen [256]bool
	for _, v := range lbMixTable {
		if seen[v] {
			t.Fatalf("mixing table repeats %d", v)
		}
		seen[v] = true
	}
	// A 256-byte key seeds with 0 (length mod 256), like a 0-byte key would.
	long := make([]byte, 256)
	want := uint8(0)
	for range long {
		want = lbMixTable[want]
	}
	if h := LoadBalanceHash(long); h != want {
		t.Errorf("256 zero bytes: %d, want %d", h, want)
	}
}

func FuzzLoadBalanceHash(f *testing.F) {
	for _, v := range kea22Vectors {
		f.Add(mustHex(f, v.key))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		// Reference: a literal transcription of Kea's loop
		// (for (i = key_len; i > 0;) hash = tbl[hash ^ key[--i]]).
		h := uint8(len(key))
		for i := len(key); i > 0; {
			i--
			h = lbMixTable[h^key[i]]
		}
		if got := LoadBalanceHash(key); got != h {
			t.Fatalf("LoadBalanceHash(%x) = %d, want %d", key, got, h)
		}
	})
}
