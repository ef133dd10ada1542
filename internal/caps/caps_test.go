package caps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSet: Has reads the capability's bit, out-of-range numbers are never
// in a set, and names are the kernel's.
func TestSet(t *testing.T) {
	if _, err := Effective(); err != nil {
		t.Fatalf("Effective: %v", err)
	}
	s := Set(1<<NetRaw | 1<<BPF)
	if !s.Has(NetRaw) || !s.Has(BPF) || s.Has(NetAdmin) || s.Has(Cap(70)) || s.Has(Cap(-1)) {
		t.Errorf("Has on %#x wrong", uint64(s))
	}
	if BPF.String() != "CAP_BPF" || NetRaw.String() != "CAP_NET_RAW" || Cap(50).String() != "capability 50" {
		t.Errorf("names: %s, %s, %s", BPF, NetRaw, Cap(50))
	}
}

// TestDrop runs Drop in a child process (it cannot be undone) and reads
// what every thread of the child holds from /proc: effective, permitted
// and bounding sets cut to the kept capability, nothing inheritable or
// ambient, no_new_privs set.
func TestDrop(t *testing.T) {
	if os.Getenv("CAPS_TEST_DROP") == "1" {
		// Busy threads, so the runtime has several to change.
		for i := 0; i < 4; i++ {
			go func() {
				for {
					runtime.Gosched()
				}
			}()
		}
		got, err := Drop(Of(NetRaw, BPF))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("effective %#x\n", uint64(got))
		tasks, _ := filepath.Glob("/proc/self/task/*/status")
		for _, st := range tasks {
			b, _ := os.ReadFile(st)
			fmt.Print(string(b))
		}
		os.Exit(0)
	}
	have, err := Effective()
	if err != nil {
		t.Fatal(err)
	}
	if !have.Has(NetRaw) || !have.Has(SetPCap) {
		t.Skip("needs CAP_NET_RAW and CAP_SETPCAP (run as root)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDrop$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CAPS_TEST_DROP=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%016x", uint64(Of(NetRaw, BPF)&have))
	threads := 0
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "CapEff", "CapPrm", "CapBnd":
			if v != want {
				t.Errorf("%s %s, want %s", k, v, want)
			}
			if k == "CapEff" {
				threads++
			}
		case "CapInh", "CapAmb":
			if v != "0000000000000000" {
				t.Errorf("%s %s, want none", k, v)
			}
		case "NoNewPrivs":
			if v != "1" {
				t.Errorf("NoNewPrivs %s", v)
			}
		}
	}
	if threads < 2 {
		t.Errorf("read %d threads:\n%s", threads, out)
	}
	if Of(NetRaw, BPF).String() != "CAP_NET_RAW,CAP_BPF" || Set(0).String() != "none" {
		t.Errorf("set names: %s, %s", Of(NetRaw, BPF), Set(0))
	}
}
