package hooks

import "testing"

type anyPoint struct{}

func (anyPoint) LeaseEvent(*Event) {}

type renewOnly struct{ anyPoint }

func (renewOnly) Wants(p Point) bool { return p == Lease4Renew }

func TestWants(t *testing.T) {
	if !Wants(anyPoint{}, Lease4Offer) {
		t.Error("a listener without Interest must be told of every point")
	}
	if Wants(renewOnly{}, Lease4Offer) || !Wants(renewOnly{}, Lease4Renew) {
		t.Error("Interest not honoured")
	}
	if ls := (Listeners{renewOnly{}}); ls.Wants(Leases4Committed) || !ls.Wants(Lease4Renew) {
		t.Error("Listeners of one picky listener")
	}
	if ls := (Listeners{renewOnly{}, anyPoint{}}); !ls.Wants(Leases4Committed) {
		t.Error("Listeners with a listener of every point")
	}
	if (Listeners{}).Wants(Lease4Renew) {
		t.Error("no listener wants anything")
	}
}
