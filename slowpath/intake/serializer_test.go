package intake

import "testing"

func TestSerializer(t *testing.T) {
	var z Serializer[*req]
	a, b, c := &req{1}, &req{2}, &req{3}
	if run, d := z.Acquire("x", a); !run || d != nil {
		t.Fatalf("first request: run %v displaced %v", run, d)
	}
	if run, d := z.Acquire("y", &req{}); !run || d != nil {
		t.Fatalf("another client waits for nobody: run %v displaced %v", run, d)
	}
	if run, d := z.Acquire("x", b); run || d != nil {
		t.Fatalf("second request held: run %v displaced %v", run, d)
	}
	if run, d := z.Acquire("x", c); run || d != b {
		t.Fatalf("third request displaces the second: run %v displaced %v", run, d)
	}
	if next := z.Release("x"); next != c {
		t.Fatalf("release hands over %v, want the held one", next)
	}
	if next := z.Release("x"); next != nil {
		t.Fatalf("nothing held: got %v", next)
	}
	if run, _ := z.Acquire("x", a); !run {
		t.Fatal("a client with nothing in flight must run")
	}
}
