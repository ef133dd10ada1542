package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// hookPathProblem says why a hook library path lies outside the
// directories Kea 2.6.3 loads hook libraries from, or "" when it does
// not. Kea 2.6.3 accepts a bare file name (taken in its hooks directory)
// or a path in that directory ($KEA_HOOKS_PATH, else the one it was built
// with). xdhcp loads no library, so it cannot know which Kea build is
// meant: it accepts a bare name, $KEA_HOOKS_PATH, and any directory
// ending in kea/hooks (/usr/lib/kea/hooks, /usr/lib/x86_64-linux-gnu/kea/hooks,
// /usr/local/lib/kea/hooks, ...); never "..".
func hookPathProblem(lib string) string {
	lib = strings.TrimSpace(lib)
	if slices.Contains(strings.Split(lib, "/"), "..") {
		return "'..' is not allowed in a hook library path"
	}
	if !strings.Contains(lib, "/") {
		return ""
	}
	dir := filepath.Dir(filepath.Clean(lib))
	if env := os.Getenv("KEA_HOOKS_PATH"); env != "" && dir == filepath.Clean(env) {
		return ""
	}
	if filepath.IsAbs(dir) && strings.HasSuffix(dir, "/kea/hooks") {
		return ""
	}
	return fmt.Sprintf("invalid path specified: '%s', supported path is a Kea hooks directory (…/kea/hooks or $KEA_HOOKS_PATH)", dir)
}
