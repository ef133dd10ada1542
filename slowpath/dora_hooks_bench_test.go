package slowpath

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/hooks/legallog"
	"xdhcp/hooks/runscript"
	"xdhcp/lease/memfile"
)

// BenchmarkDORAHooks is BenchmarkDORA/memfile with forensic logging (its
// records in the lease's group commit) and run-script (a trivial script;
// most calls overflow its queue, as under any load a fork per lease
// cannot keep up): the engine's cost of the hooks.
func BenchmarkDORAHooks(b *testing.B) {
	dir := b.TempDir()
	p, err := legallog.ParseParams([]byte(`{"path": "` + dir + `"}`))
	if err != nil {
		b.Fatal(err)
	}
	legal, err := legallog.Open(p, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer legal.Close()
	script := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	b.Run("legal-log", func(b *testing.B) {
		benchDORA(b, true, func(d *Deps, o *memfile.Options) {
			d.Recorder, d.Events, o.Records = legal, legal, legal
		})
	})
	b.Run("legal-log+run-script", func(b *testing.B) {
		rs := runscript.New(runscript.Params{Name: script, Workers: 1, QueueSize: 64, Timeout: time.Second}, nil)
		defer rs.Close()
		benchDORA(b, true, func(d *Deps, o *memfile.Options) {
			d.Recorder, d.Events, o.Records = legal, hooks.Listeners{legal, rs}, legal
		})
	})
}
