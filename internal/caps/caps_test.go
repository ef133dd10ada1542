package caps

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestEffective: the set capget returns is the CapEff line of
// /proc/self/status, and Has reads its bits.
func TestEffective(t *testing.T) {
	got, err := Effective()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			want, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			if uint64(got) != want {
				t.Errorf("Effective() = %#x, CapEff %#x", uint64(got), want)
			}
		}
	}
	s := Set(1<<NetRaw | 1<<BPF)
	if !s.Has(NetRaw) || !s.Has(BPF) || s.Has(NetAdmin) || s.Has(Cap(70)) || s.Has(Cap(-1)) {
		t.Errorf("Has on %#x wrong", uint64(s))
	}
	if BPF.String() != "CAP_BPF" || Cap(50).String() != "capability 50" {
		t.Errorf("names: %s, %s", BPF, Cap(50))
	}
}
