package keadiff

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDeliberateDifferences keeps the README's table of deliberate
// differences equal to the deliberate rows of KnownDifferences.
func TestREADMEDeliberateDifferences(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- keadiff:deliberate:begin -->\n", "<!-- keadiff:deliberate:end -->"
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q block", strings.TrimSpace(begin), end)
	}
	if got, want := text[i+len(begin):j], DeliberateTable(KnownDifferences); got != want {
		t.Errorf("README.md's deliberate differences are out of date; between the markers put:\n%s", want)
	}
	for _, k := range KnownDifferences {
		switch {
		case k.Kind == Deliberate && (k.Switch == "" || k.Owner != ""):
			t.Errorf("deliberate row %q/%q needs the switch restoring Kea's behaviour and no owner", k.Case, k.Field)
		case k.Kind == Pending && (k.Owner == "" || k.Switch != ""):
			t.Errorf("pending row %q/%q needs an owner and no switch", k.Case, k.Field)
		case k.Kind != Deliberate && k.Kind != Pending:
			t.Errorf("row %q/%q: kind %q", k.Case, k.Field, k.Kind)
		}
	}
}
