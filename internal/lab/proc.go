package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSSKiB returns the resident set size (VmRSS) of process pid in KiB, for
// the memory bounds of tests and benchmarks on the processes they start.
func RSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS for pid " + strconv.Itoa(pid))
}
