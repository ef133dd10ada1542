package cpuset

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{1, 3, 4, 5, 8}, "1,3-5,8"},
	} {
		if got := Format(c.cpus); got != c.want {
			t.Errorf("Format(%v) = %q, want %q", c.cpus, got, c.want)
		}
	}
}

func TestWithoutAndOf(t *testing.T) {
	if got := Without([]int{0, 1, 2, 3}, []int{0, 2, 9}); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("Without = %v", got)
	}
	if got := List(Of([]int{5, 1, -1, 1 << 20})); !slices.Equal(got, []int{1, 5}) {
		t.Errorf("List(Of) = %v", got)
	}
}

// TestSetProcess moves a running process's threads to one CPU and reads
// the kernel's view of it back.
func TestSetProcess(t *testing.T) {
	all, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Skip("needs two CPUs")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	want := all[len(all)-1:]
	if err := SetProcess(cmd.Process.Pid, want); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Cpus_allowed_list:\t"+Format(want)+"\n") {
		t.Errorf("status after SetProcess(%v):\n%s", want, status)
	}
	if err := SetProcess(cmd.Process.Pid, nil); err == nil {
		t.Error("SetProcess with no CPU: no error")
	}
}
