package lab

import (
	"net/netip"
	"testing"
)

// Pair is a test's two namespaces joined by a veth: A holds end AIf, B
// end BIf.
type Pair struct {
	Lab      *Lab
	A, B     *NS
	AIf, BIf string
}

// ForTestPair builds the namespaces prefix-a and prefix-b (through
// ForTest, so it skips t without namespaces and closes in cleanup) and
// the veth pair prefix-a / prefix-b between them, each end with its
// address; it fails t on any error.
func ForTestPair(t testing.TB, prefix string, aAddr, bAddr netip.Prefix) *Pair {
	t.Helper()
	p := &Pair{Lab: ForTest(t, prefix), AIf: prefix + "-a", BIf: prefix + "-b"}
	var err error
	if p.A, err = p.Lab.NS("a"); err != nil {
		t.Fatal(err)
	}
	if p.B, err = p.Lab.NS("b"); err != nil {
		t.Fatal(err)
	}
	if err := p.Lab.Veth(p.A, p.AIf, aAddr, p.B, p.BIf, bAddr); err != nil {
		t.Fatal(err)
	}
	return p
}
