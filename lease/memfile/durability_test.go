package memfile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/lease"
)

const killHelperEnv = "XDHCP_LEASE_KILL_HELPER"

// TestKillSafety runs a child process that commits leases from several
// goroutines and prints each one after Commit returns, SIGKILLs it mid
// stream, and checks that every acknowledged lease survives a reopen.
func TestKillSafety(t *testing.T) {
	if path := os.Getenv(killHelperEnv); path != "" {
		killHelper(path)
		return
	}
	path := filepath.Join(t.TempDir(), "l.csv")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int
	sc := bufio.NewScanner(out)
	timeout := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	for sc.Scan() {
		f, ok := strings.CutPrefix(sc.Text(), "acked ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad helper line %q", sc.Text())
		}
		acked = append(acked, i)
		if len(acked) == 500 {
			cmd.Process.Kill() // SIGKILL: no deferred Close runs
			break
		}
	}
	cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("helper acknowledged only %d leases", len(acked))
	}
	s := openTest(t, path)
	for _, i := range acked {
		want := testLease(i)
		if _, ok := s.Get(want.Addr); !ok {
			t.Fatalf("lease %d acknowledged before the kill is missing after reopen", i)
		}
	}
	t.Logf("%d acknowledged leases all present; %d in the file", len(acked), s.Len())
}

func killHelper(path string) {
	s, err := Open(Options{Path: path, Persist: true, Sync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				i := g*1_000_000 + k
				if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(i)}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "acked %d\n", i)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestMemoryPerLease measures the index's heap cost per lease.
func TestMemoryPerLease(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]lease.Op, 0, 4096)
	start := time.Now()
	for i := 0; i < n; i++ {
		ops = append(ops, lease.Op{Kind: lease.OpPut, Lease: testLease(i)})
		if len(ops) == cap(ops) || i == n-1 {
			if err := s.Commit(context.Background(), ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	elapsed := time.Since(start)
	ops = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	t.Logf("%d leases (6-byte hwaddr, 7-byte client-id): %.0f bytes/lease heap, insert %.0f ns/lease",
		n, per, float64(elapsed.Nanoseconds())/float64(n))
	if s.Len() != n {
		t.Fatalf("Len %d", s.Len())
	}
	if per > 200 {
		t.Errorf("%.0f bytes per lease, target 200", per)
	}
	runtime.KeepAlive(s)
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(Header + "\n" + strings.Join(keaRows, "\n") + "\n"))
	f.Add([]byte(Header + "\n" + keaRows[1] + "\n10.0.0.7,01:02"))
	f.Add([]byte("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n10.0.0.1,01,,5,6,1,0,0,\n"))
	f.Add([]byte(Header + ",pool_id\n10.0.0.1,01,,5,6,1,0,0,,0,,7\n"))
	f.Add([]byte("addr"))
	f.Add([]byte(""))
	f.Add([]byte(Header + "\n\n\n10.0.0.1,,,5,6,1,0,0,,1,\nx\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "l.csv")
		if err := os.WriteFile(path, content, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Path: path, Persist: true})
		if err != nil {
			return
		}
		n := s.Len()
		s.Range(func(l *lease.Lease) bool { return true })
		extra := testLease(0xfffff)
		_, had := s.Get(extra.Addr)
		if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: extra}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if !had {
			n++
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(Options{Path: path, Persist: true})
		if err != nil {
			t.Fatalf("reopen after our own append: %v", err)
		}
		defer s.Close()
		if s.Len() != n {
			t.Fatalf("reopened Len %d, want %d", s.Len(), n)
		}
	})
}
