// Package buildinfo says which build of xdhcp is running: the release,
// the commit and the time of the commit it was built from, and the Go
// version, as the binaries print them (-V, build-report) and export them
// (xdhcp_build_info).
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the xdhcp release.
const Version = "0.1.0"

// commit and date are set at link time by the Makefile
// (-ldflags "-X xdhcp/internal/buildinfo.commit=..."), for builds where
// Go's own VCS stamping is off (-buildvcs=false, or a build outside the
// checkout).
var commit, date string

// Info describes one build.
type Info struct {
	Version string
	// Commit is the VCS revision the binary was built from ("unknown" when
	// it was built outside a checkout or with -buildvcs=false); Modified
	// says the tree had uncommitted changes.
	Commit   string
	Modified bool
	// Date is the commit's time (RFC 3339), which, unlike the time of the
	// build, is the same for every build of one commit.
	Date string
	Go   string
}

// Read returns the running binary's build information.
func Read() Info {
	in := Info{Version: Version, Commit: "unknown", Date: "unknown", Go: runtime.Version()}
	if c, ok := strings.CutSuffix(commit, "+modified"); ok {
		in.Commit, in.Modified = c, true
	} else if commit != "" {
		in.Commit = commit
	}
	if date != "" {
		in.Date = date
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Date = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form -V prints.
func (in Info) String() string {
	commit := in.Commit
	if in.Modified {
		commit += "+modified"
	}
	return "xdhcp " + in.Version + " (Kea 2.2 compatible DHCPv4), commit " + commit + ", " + in.Date + ", " + in.Go
}
