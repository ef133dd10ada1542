// Command xdhcpctl sends one Kea control command to xdhcpd (or to Kea) over
// a UNIX control socket or HTTP(S) and prints the answer: a table on a
// terminal for leases, statistics and status, JSON otherwise.
//
//	xdhcpctl [-url URL | -socket PATH] [-user U -password-file F]
//	         [-ca F -cert F -key F] [-o table|json] [-config F] COMMAND [ARGS]
//	xdhcpctl completion bash|zsh
//	xdhcpctl -V
//
// Without -url or -socket it talks to the daemon's default control socket.
// Settings come from flags, then XDHCPCTL_* variables, then a config file
// (see --help). ARGS is one JSON object or key=value pairs. Exit status: 0
// when the result is 0 (success) or 3 (empty), 1 on another result or a
// transport error, 2 on a usage error.
package main

import "xdhcp/internal/cli"

func main() { cli.Main("xdhcpctl", run, exitCode) }
