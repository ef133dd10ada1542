package dhcpview

import (
	"math/rand/v2"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzParse checks that Parse never panics or reads outside its input, and,
// whenever both it and insomniacslk's decoder accept the input, that every
// field agrees.
func FuzzParse(f *testing.F) {
	// Seeds: the three requests of a DORA, with and without client
	// options; a relayed one; random generated messages; and the odd
	// cases of the table test (duplicate, overload, truncated, no End).
	d, s, r := dora(f, clientMods()...)
	f.Add(d.ToBytes())
	f.Add(s.ToBytes())
	f.Add(r.ToBytes())
	d, _, _ = dora(f)
	f.Add(d.ToBytes())
	rng := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		f.Add(genMessage(f, rng))
	}
	f.Add(msg(53, 1, 3, 53, 1, 3, 255))
	f.Add(msg(53, 1, 3, 52, 1, 3, 255))
	f.Add(msg(53, 1, 3, 61, 5, 1))
	f.Add(msg(53, 1, 3))
	f.Add(msg(0, 0, 53, 1, 1, 255, 9, 9))
	f.Add([]byte{1, 1, 6})

	f.Fuzz(func(t *testing.T, b []byte) {
		// An exact-capacity copy, so reads past len panic.
		b = append([]byte(nil), b...)
		var v View
		err := v.Parse(b)
		if err != nil {
			if v.Valid() {
				t.Fatal("view valid after error")
			}
			return
		}
		_ = v.Fingerprint()
		_ = v.IsRenewal()
		// Fingerprint is a function of the bytes.
		var v2 View
		if v2.Parse(append([]byte(nil), b...)) != nil || v2.Fingerprint() != v.Fingerprint() {
			t.Fatal("fingerprint not deterministic")
		}
		// Without the fingerprint, the same view.
		if v2.ParseNoFingerprint(b) != nil || v2.Fingerprint() != 0 || v2.opt != v.opt || v2.Ended() != v.Ended() {
			t.Fatal("ParseNoFingerprint reads the message differently")
		}
		p, perr := dhcpv4.FromBytes(b)
		if perr != nil {
			// The reference refuses messages without End; we
			// accept them, as Kea does.
			return
		}
		compareWithReference(t, b, &v, p)
	})
}
