// Package profiling names the Go runtime's profiles (net/http/pprof) as
// HTTP routes. The daemon serves them, when asked to, as private routes of
// its control channel: only on loopback sockets, behind the control
// authentication and its connection limits and timeouts.
package profiling

import (
	"net/http"
	"net/http/pprof"
	"sort"
)

// Prefix is where the profiles are served.
const Prefix = "/debug/pprof/"

// Route is one profile's path and handler.
type Route struct {
	Path    string
	Handler http.Handler
}

// Routes returns the profile routes in path order: the index, the
// command line, CPU profile, symbol lookup, execution trace, and each
// runtime profile (heap, goroutine, allocs, block, mutex, threadcreate).
func Routes() []Route {
	rs := []Route{
		{Prefix, http.HandlerFunc(pprof.Index)},
		{Prefix + "cmdline", http.HandlerFunc(pprof.Cmdline)},
		{Prefix + "profile", http.HandlerFunc(pprof.Profile)},
		{Prefix + "symbol", http.HandlerFunc(pprof.Symbol)},
		{Prefix + "trace", http.HandlerFunc(pprof.Trace)},
	}
	for _, name := range []string{"heap", "goroutine", "allocs", "block", "mutex", "threadcreate"} {
		rs = append(rs, Route{Prefix + name, pprof.Handler(name)})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Path < rs[j].Path })
	return rs
}
