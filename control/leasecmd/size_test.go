package leasecmd

import (
	"fmt"
	"strings"
	"testing"
)

// TestSizeCaps: lease4-add with a 1.2 MB user-context (which the lease
// file could not keep), a 256-byte hostname or a long comment is refused at
// the API and stores nothing; the largest accepted values are stored.
func TestSizeCaps(t *testing.T) {
	h, store, _ := newCommands(t)
	add := func(extra string) (int, string) {
		a := run(t, h.put(true), "lease4-add", `{"ip-address": "10.0.0.30", "hw-address": "00:01:02:03:04:05", `+extra+`}`)
		return a.Result, a.Text
	}
	huge := `"user-context": {"blob": "` + strings.Repeat("x", 1200_000) + `"}`
	for extra, want := range map[string]string{
		huge: "user-context is 1200011 bytes long, the maximum is 65536",
		`"hostname": "` + strings.Repeat("h", 256) + `"`:           "hostname is 256 bytes long, the maximum is 255",
		`"comment": "` + strings.Repeat("c", MaxUserContext) + `"`: "user-context is",
		`"client-id": "` + strings.Repeat("01:", 255) + `01"`:      "client-id is 256 bytes long",
	} {
		if res, text := add(extra); res != 1 || !strings.Contains(text, want) {
			t.Errorf("%.40s...: %d %q, want %q", extra, res, text, want)
		}
	}
	if store.Len() != 0 {
		t.Fatalf("%d leases stored from refused commands", store.Len())
	}
	pad := MaxUserContext - len(`{"blob":""}`)
	ok := fmt.Sprintf(`"hostname": %q, "user-context": {"blob": %q}`, strings.Repeat("h", 255), strings.Repeat("x", pad))
	if res, text := add(ok); res != 0 {
		t.Fatalf("largest accepted fields: %d %q", res, text)
	}
}
