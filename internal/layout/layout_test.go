package layout

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// moduleGraph reads the module's import graph (non-test files) with go list.
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "xdhcp/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "xdhcp/"
	graph := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, ok := strings.CutPrefix(fields[0], mod)
		if !ok {
			continue
		}
		graph[pkg] = nil
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, mod); ok {
				graph[pkg] = append(graph[pkg], rel)
			}
		}
	}
	if len(graph) < 10 {
		t.Fatalf("go list found %d packages of the module; the graph cannot be right", len(graph))
	}
	return graph
}

func TestImports(t *testing.T) {
	for _, v := range Check(Rules, moduleGraph(t)) {
		t.Error(v)
	}
}

// TestCheckCatchesForbiddenImport adds forbidden edges to the real graph:
// the check must name each of them, and nothing it did not name before.
func TestCheckCatchesForbiddenImport(t *testing.T) {
	graph := moduleGraph(t)
	before := Check(Rules, graph)
	forbidden := map[string]string{
		"slowpath":       "fastpath/xsk",        // the engine importing a transport
		"config":         "slowpath",            // configuration importing the engine
		"handoff":        "config",              // the contract growing a dependency
		"fastpath/frame": "slowpath",            // a transport importing the engine
		"control":        "ha",                  // the command channel importing HA
		"lease":          "internal/stats",      // a store importing metrics
		"bench":          "cmd/xdhcpd",          // anything importing a command
		"slowpath/alloc": "internal/daemontest", // library code importing test scaffolding
	}
	for pkg, imp := range forbidden {
		if _, ok := graph[pkg]; !ok {
			t.Fatalf("package %s is not in the module; update this test", pkg)
		}
		graph[pkg] = append(graph[pkg], imp)
	}
	graph["newdir"] = nil // a package no rule covers
	var got []string
	for _, v := range Check(Rules, graph) {
		if !slices.Contains(before, v) {
			got = append(got, v)
		}
	}
	if len(got) != len(forbidden)+1 {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(forbidden)+1, strings.Join(got, "\n"))
	}
	for pkg, imp := range forbidden {
		if !containsLine(got, pkg+" imports "+imp+",") {
			t.Errorf("the forbidden import %s -> %s was not reported", pkg, imp)
		}
	}
	if !containsLine(got, "newdir: no import rule") {
		t.Error("a package no rule covers was not reported")
	}
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"lease", "lease", true},
		{"lease", "lease/memfile", false}, // exact: the interface, not a backend
		{"lease/...", "lease", true},
		{"lease/...", "lease/memfile", true},
		{"lease/...", "leasecache", false}, // a prefix of the name is not a parent
		{"...", "cmd/xdhcpd", true},
	} {
		if got := match(c.pattern, c.path); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
