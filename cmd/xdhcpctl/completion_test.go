package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// complete runs the printed bash completion in a real bash for the words
// typed so far (the last one being completed) and returns its candidates.
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("source " + script + "\nCOMP_WORDS=(xdhcpctl")
	for _, w := range words {
		b.WriteString(" '" + w + "'")
	}
	b.WriteString(")\nCOMP_CWORD=" + strconv.Itoa(len(words)) + "\n_xdhcpctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", b.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion for %q: %v\n%s", words, err, out)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	return got
}

func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	out, stderr, err := ctl(t, "completion", "bash")
	if err != nil || stderr != "" {
		t.Fatalf("completion bash: %v %s", err, stderr)
	}
	if !strings.Contains(out, "complete -F _xdhcpctl xdhcpctl") {
		t.Fatalf("script registers no completion:\n%s", out)
	}
	script := filepath.Join(t.TempDir(), "xdhcpctl.bash")
	if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"lease4-get-by"}, "lease4-get-by-client-id lease4-get-by-hostname lease4-get-by-hw-address"},
		{[]string{"statistic-get"}, "statistic-get statistic-get-all"},
		{[]string{"comp"}, "completion"},
		{[]string{"completion", ""}, "bash zsh"},
		{[]string{"-so"}, "-socket"},
		{[]string{"-o", ""}, "json table"},
		{[]string{"-o", "table", "-url", "https://x/", "ha-h"}, "ha-heartbeat"},
		{[]string{"lease4-get", "i"}, "identifier-type= identifier= ip-address="},
		{[]string{"lease4-get-page", ""}, "from= limit="},
		{[]string{"dhcp-disable", "max-period=60", "o"}, "origin="},
		{[]string{"lease4-get", "ip-address=10"}, ""},
		{[]string{"status-get", ""}, ""},
	} {
		if got := strings.Join(complete(t, script, c.words...), " "); got != c.want {
			t.Errorf("completing %q: %q, want %q", c.words, got, c.want)
		}
	}
	// A file name after a flag that takes one.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ops-password"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := complete(t, script, "-password-file", filepath.Join(dir, "ops-")); len(got) != 1 || got[0] != filepath.Join(dir, "ops-password") {
		t.Errorf("file after -password-file: %q", got)
	}
	// The first word offers every command and nothing else; the zsh form
	// wraps the same script.
	all := complete(t, script, "")
	if len(all) != len(commandArgs)+1 {
		t.Errorf("first word offers %d words, want the %d commands and completion", len(all), len(commandArgs))
	}
	zsh, _, err := ctl(t, "completion", "zsh")
	if err != nil || !strings.HasPrefix(zsh, "autoload -U +X bashcompinit && bashcompinit\n") || !strings.HasSuffix(zsh, out) {
		t.Errorf("completion zsh: %v\n%s", err, zsh)
	}
	for _, h := range []string{"-h", "--help"} {
		if out, stderr, err := ctl(t, "completion", h); err != nil || stderr != "" || !strings.HasPrefix(out, "usage: xdhcpctl completion bash|zsh") {
			t.Errorf("completion %s: %v %q %q", h, err, out, stderr)
		}
	}
	for _, bad := range [][]string{{"completion"}, {"completion", "fish"}} {
		if _, _, err := ctl(t, bad...); exitCode(err) != 2 {
			t.Errorf("%q: want a usage error, got %v", bad, err)
		}
	}
}
