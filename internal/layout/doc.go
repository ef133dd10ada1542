// Package layout holds the project's import rules: which package may import
// which other package of the module. Its test reads the real import graph
// with `go list` and fails on any import the rules do not allow, so the
// layout (transports -> engine -> stores, with control, HA and metrics
// plugged in at the edge, and cmd/ wiring the parts) cannot drift unnoticed.
//
// The rules are in Rules; Check applies them to any graph, which is how the
// test shows that a forbidden import is caught.
package layout
