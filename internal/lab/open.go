package lab

import (
	"io"
	"testing"
)

// OpenForTest runs open inside ns, failing t on its error, and closes what
// it opened when the test ends, reporting a failed Close as a test error:
// the usual life of a socket a test opens in one of its namespaces.
func OpenForTest[C io.Closer](t testing.TB, ns *NS, open func() (C, error)) C {
	t.Helper()
	var c C
	if err := ns.Do(func() (err error) {
		c, err = open()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}
