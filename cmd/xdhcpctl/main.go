// Command xdhcpctl sends one Kea control command to xdhcpd (or to Kea) over
// HTTP(S) or a UNIX control socket and prints the answer.
//
//	xdhcpctl [-url http://127.0.0.1:8000/ | -socket PATH] [-user U -password P | -password-file F]
//	         [-ca F -cert F -key F] [-service dhcp4] [-timeout 10s] COMMAND [ARGS]
//
// ARGS is one JSON object or key=value pairs. Exit status: 0 when the result
// is 0 (success) or 3 (empty), 1 on another result or a transport error,
// 2 on a usage error.
package main

import "xdhcp/internal/cli"

func main() { cli.Main("xdhcpctl", run, exitCode) }
