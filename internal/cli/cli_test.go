package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestParseHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-x", "1", "-help"}} {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		fs.Int("x", 0, "an x")
		var out, errOut bytes.Buffer
		help, err := Parse(fs, args, &out, &errOut)
		if !help || err != nil {
			t.Errorf("%v: help %v err %v, want help and no error", args, help, err)
		}
		if !strings.Contains(out.String(), "an x") || errOut.Len() != 0 {
			t.Errorf("%v: stdout %q stderr %q, want the usage on stdout only", args, out.String(), errOut.String())
		}
	}
}

func TestParseErrorGoesToStderr(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var out, errOut bytes.Buffer
	help, err := Parse(fs, []string{"-nope"}, &out, &errOut)
	if help || err == nil {
		t.Fatalf("help %v err %v, want an error", help, err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "-nope") {
		t.Errorf("stdout %q stderr %q, want the error on stderr only", out.String(), errOut.String())
	}
}
