package leasecache

import (
	"errors"
	"math"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/internal/testframe"
)

var (
	clientMAC = net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
	leaseIP   = net.IPv4(192, 0, 2, 10).To4()
	serverIP  = net.IPv4(192, 0, 2, 1).To4()
	clientID  = []byte{1, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
)

// requests returns the SELECTING request a slow path ACKed and a later
// RENEWING request of the same client, built by insomniacslk. mods apply to
// both (the client sends the same options); renewMods to the renewal only.
func requests(t testing.TB, mods []dhcpv4.Modifier, renewMods ...dhcpv4.Modifier) (sel, renew *dhcpv4.DHCPv4) {
	t.Helper()
	_, sel, renew, err := testframe.Requests(clientMAC, leaseIP, serverIP, mods, renewMods...)
	if err != nil {
		t.Fatal(err)
	}
	return sel, renew
}

func baseMods() []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(clientID)),
		dhcpv4.WithOption(dhcpv4.OptHostName("cpe-1")),
	}
}

func view(t testing.TB, m *dhcpv4.DHCPv4) *dhcpview.View {
	t.Helper()
	var v dhcpview.View
	if err := v.Parse(m.ToBytes()); err != nil {
		t.Fatal(err)
	}
	return &v
}

// baseEntry is what the slow path publishes after ACKing sel at time
// cltt with a 3600 s lifetime and cache-threshold 0.25.
func baseEntry(t testing.TB, sel *dhcpv4.DHCPv4, cltt int64) *Entry {
	e := &Entry{
		Addr:        [4]byte(leaseIP),
		HWLen:       6,
		ClientID:    clientID,
		SubnetID:    1,
		CLTT:        cltt,
		ValidLft:    3600,
		NewValid:    3600,
		Threshold:   0.25,
		MaxAge:      -1,
		CalcTee:     true,
		T1Pct:       0.5,
		T2Pct:       0.875,
		ServerID:    [4]byte(serverIP),
		Fingerprint: view(t, sel).Fingerprint(),
		Options:     []byte{1, 4, 255, 255, 255, 0, 3, 4, 192, 0, 2, 1, 6, 4, 192, 0, 2, 53},
	}
	copy(e.HW[:], clientMAC)
	return e
}

func TestReusable(t *testing.T) {
	const cltt = 1_000_000
	sel, renew := requests(t, baseMods())
	rv := view(t, renew)
	tests := []struct {
		name   string
		entry  func(*Entry)
		req    *dhcpview.View // nil: rv
		now    int64
		want   uint32
		wantOK bool
	}{
		{"fresh renewal", nil, nil, cltt + 100, 3500, true},
		{"age zero", nil, nil, cltt, 3600, true},
		// 3600 × 0.25 = 900: age 900 is not > 900, age 901 is.
		{"threshold boundary in", nil, nil, cltt + 900, 2700, true},
		{"threshold boundary out", nil, nil, cltt + 901, 0, false},
		{"time went backwards", nil, nil, cltt - 1, 0, false},
		{"expired (age == valid)", func(e *Entry) { e.Threshold = 1 }, nil, cltt + 3600, 0, false},
		{"threshold 1, age valid-1", func(e *Entry) { e.Threshold = 1 }, nil, cltt + 3599, 1, true},
		// Threshold uses the NEW lifetime: 7200 × 0.25 = 1800.
		{"threshold on new valid", func(e *Entry) { e.NewValid = 7200 }, nil, cltt + 1800, 1800, true},
		{"threshold on new valid out", func(e *Entry) { e.NewValid = 7200 }, nil, cltt + 1801, 0, false},
		{"new valid shorter", func(e *Entry) { e.NewValid = 3599 }, nil, cltt + 10, 0, false},
		{"threshold > 1", func(e *Entry) { e.Threshold = 1.01 }, nil, cltt + 10, 0, false},
		{"threshold negative", func(e *Entry) { e.Threshold = -0.5 }, nil, cltt + 10, 0, false},
		{"threshold NaN", func(e *Entry) { e.Threshold = math.NaN() }, nil, cltt + 10, 0, false},
		// valid 3 × 0.25 truncates to 0: Kea's "no cache" even at age 0.
		{"threshold truncates to zero", func(e *Entry) { e.ValidLft, e.NewValid = 3, 3 }, nil, cltt, 0, false},
		// valid 7 × 0.25 = 1.75 → 1.
		{"threshold truncation in", func(e *Entry) { e.ValidLft, e.NewValid = 7, 7 }, nil, cltt + 1, 6, true},
		{"threshold truncation out", func(e *Entry) { e.ValidLft, e.NewValid = 7, 7 }, nil, cltt + 2, 0, false},
		{"neither configured", func(e *Entry) { e.Threshold = 0 }, nil, cltt + 1, 0, false},
		{"max-age only in", func(e *Entry) { e.Threshold, e.MaxAge = 0, 60 }, nil, cltt + 60, 3540, true},
		{"max-age only out", func(e *Entry) { e.Threshold, e.MaxAge = 0, 60 }, nil, cltt + 61, 0, false},
		{"max-age zero", func(e *Entry) { e.Threshold, e.MaxAge = 0, 0 }, nil, cltt, 0, false},
		{"max-age zero with threshold", func(e *Entry) { e.MaxAge = 0 }, nil, cltt, 0, false},
		// Both: both limits apply (max-age 1000 > threshold's 900).
		{"both, threshold binds", func(e *Entry) { e.MaxAge = 1000 }, nil, cltt + 901, 0, false},
		{"both, max-age binds", func(e *Entry) { e.MaxAge = 100 }, nil, cltt + 101, 0, false},
		{"both, within", func(e *Entry) { e.MaxAge = 100 }, nil, cltt + 100, 3500, true},
		// Infinite new lifetime: reusable without any cache setting,
		// even with time going backwards.
		{"infinite", func(e *Entry) { e.ValidLft, e.NewValid, e.Threshold = Infinite, Infinite, 0 }, nil, cltt - 5, Infinite, true},
		{"infinite stored, finite new", func(e *Entry) { e.ValidLft = Infinite }, nil, cltt + 1, 0, false},
		{"other fingerprint", func(e *Entry) { e.Fingerprint++ }, nil, cltt + 1, 0, false},
		{"other hw address", func(e *Entry) { e.HW[5] ^= 1 }, nil, cltt + 1, 0, false},
		{"other hw length", func(e *Entry) { e.HWLen = 7 }, nil, cltt + 1, 0, false},
		{"other client id", func(e *Entry) { e.ClientID = []byte{1, 2, 3} }, nil, cltt + 1, 0, false},
		{"stored client id, request none", nil,
			view(t, mustRenew(t, []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptHostName("cpe-1"))})), cltt + 1, 0, false},
		// match-client-id false: the request's client-id is ignored,
		// but a stored one counts as a change (Kea clears it).
		{"ignore client id", func(e *Entry) { e.IgnoreClientID, e.ClientID = true, nil }, nil, cltt + 1, 3599, true},
		{"ignore client id, stored one", func(e *Entry) { e.IgnoreClientID = true }, nil, cltt + 1, 0, false},
		{"other address", func(e *Entry) { e.Addr[3]++ }, nil, cltt + 1, 0, false},
		{"not a renewal", nil, view(t, sel), cltt + 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := baseEntry(t, sel, cltt)
			if tt.entry != nil {
				tt.entry(e)
			}
			v := rv
			if tt.req != nil {
				v = tt.req
			}
			got, ok := Reusable(e, v, tt.now)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("Reusable = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, ok := Reusable(nil, rv, cltt); ok {
		t.Fatal("nil entry reusable")
	}
}

func mustRenew(t testing.TB, mods []dhcpv4.Modifier, renewMods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	_, r := requests(t, mods, renewMods...)
	return r
}

// TestReusableLeaseTimeHint covers option 51 in the renewal: ignored without
// min/max bounds, clamped with them, and a malformed one refused.
func TestReusableLeaseTimeHint(t *testing.T) {
	const cltt = 5000
	sel, _ := requests(t, baseMods())
	hint := func(d time.Duration) *dhcpview.View {
		return view(t, mustRenew(t, baseMods(), dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(d))))
	}
	e := baseEntry(t, sel, cltt)
	// No bounds: a short hint is ignored, NewValid 3600 applies.
	if r, ok := Reusable(e, hint(600*time.Second), cltt+10); !ok || r != 3590 {
		t.Fatalf("hint without bounds: %d %v", r, ok)
	}
	// Bounds 1800..7200: hint 600 → 1800 < stored 3600: changed.
	e.MinValid, e.MaxValid = 1800, 7200
	if _, ok := Reusable(e, hint(600*time.Second), cltt+10); ok {
		t.Fatal("hint clamped below stored lifetime reused")
	}
	// Hint 10000 → 7200: threshold 1800 applies.
	if r, ok := Reusable(e, hint(10000*time.Second), cltt+1800); !ok || r != 1800 {
		t.Fatalf("hint clamped to max: %d %v", r, ok)
	}
	if _, ok := Reusable(e, hint(10000*time.Second), cltt+1801); ok {
		t.Fatal("threshold not computed on clamped hint")
	}
	// A 2-byte option 51 goes to the slow path.
	bad := view(t, mustRenew(t, baseMods(), dhcpv4.WithGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{1, 2})))
	if _, ok := Reusable(e, bad, cltt+10); ok {
		t.Fatal("malformed option 51 reused")
	}
	// The hint is outside the fingerprint: same fingerprint as sel.
	if hint(600*time.Second).Fingerprint() != e.Fingerprint {
		t.Fatal("option 51 changed the fingerprint")
	}
}

func TestTimers(t *testing.T) {
	tests := []struct {
		name   string
		e      Entry
		valid  uint32
		t1, t2 uint32
	}{
		{"calculated", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, 3600, 1800, 3150},
		// round(0.5 × 3599) = round(1799.5) = 1800, away from zero.
		{"rounding", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, 3599, 1800, 3149},
		{"not calculated, none set", Entry{T1Pct: 0.5, T2Pct: 0.875}, 3600, 0, 0},
		{"explicit wins", Entry{HasT1: true, RenewTimer: 100, HasT2: true, RebindTimer: 200, CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, 3600, 100, 200},
		// Explicit T2 ≥ lifetime: not sent; T1 is then bounded by the
		// lifetime only.
		{"t2 not below valid", Entry{HasT1: true, RenewTimer: 1000, HasT2: true, RebindTimer: 900}, 900, 0, 0},
		{"t2 not below valid, t1 sent", Entry{HasT1: true, RenewTimer: 800, HasT2: true, RebindTimer: 900}, 900, 800, 0},
		// T1 must be below T2 when T2 is sent.
		{"t1 not below t2", Entry{HasT1: true, RenewTimer: 500, HasT2: true, RebindTimer: 500}, 3600, 0, 500},
		// Remaining lifetime small: calculated values shrink with it.
		{"small remaining", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, 1, 0, 0},
		{"remaining 10", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, 10, 5, 9},
		{"explicit zero", Entry{HasT1: true, HasT2: true}, 3600, 0, 0},
		{"infinite", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 0.875}, Infinite, 2147483648, 3758096383},
		{"pct over 1", Entry{CalcTee: true, T1Pct: 0.5, T2Pct: 2}, 100, 50, 0},
	}
	for _, tt := range tests {
		t1, t2 := Timers(&tt.e, tt.valid)
		if t1 != tt.t1 || t2 != tt.t2 {
			t.Errorf("%s: Timers(%d) = %d, %d; want %d, %d", tt.name, tt.valid, t1, t2, tt.t1, tt.t2)
		}
	}
}

func TestValidate(t *testing.T) {
	sel, _ := requests(t, baseMods())
	tests := []struct {
		name string
		mod  func(*Entry)
		err  error
	}{
		{"ok", func(*Entry) {}, nil},
		{"empty options", func(e *Entry) { e.Options = nil }, nil},
		{"hw too long", func(e *Entry) { e.HWLen = 17 }, ErrBadEntry},
		{"zero addr", func(e *Entry) { e.Addr = [4]byte{} }, ErrBadEntry},
		{"zero server id", func(e *Entry) { e.ServerID = [4]byte{} }, ErrBadEntry},
		{"end inside", func(e *Entry) { e.Options = []byte{1, 1, 0, 255} }, ErrBadOptions},
		{"pad inside", func(e *Entry) { e.Options = []byte{0} }, ErrBadOptions},
		{"option 51", func(e *Entry) { e.Options = []byte{51, 4, 0, 0, 0, 1} }, ErrBadOptions},
		{"option 58", func(e *Entry) { e.Options = []byte{58, 4, 0, 0, 0, 1} }, ErrBadOptions},
		{"truncated", func(e *Entry) { e.Options = []byte{3, 4, 1, 2} }, ErrBadOptions},
		{"no length", func(e *Entry) { e.Options = []byte{3} }, ErrBadOptions},
		{"too long", func(e *Entry) { e.Options = make([]byte, MaxOptionsLen+1) }, ErrBadOptions},
	}
	for _, tt := range tests {
		e := baseEntry(t, sel, 0)
		tt.mod(e)
		if err := Validate(e); !errors.Is(err, tt.err) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
		}
	}
}
