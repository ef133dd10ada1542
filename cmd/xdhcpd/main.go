// Command xdhcpd is the xdhcp DHCPv4 server. It reads a Kea Dhcp4
// configuration: `xdhcpd -c FILE` runs, `xdhcpd -t FILE` checks and exits
// 0 or 1 as kea-dhcp4 -t does; with no -c it runs the embedded default.
package main

import (
	"os"

	"xdhcp/hooks/runscript"
	"xdhcp/internal/cli"
)

func main() {
	// The binary started again as run-script's spawner.
	if runscript.IsSpawner() {
		os.Exit(runscript.ServeSpawner())
	}
	cli.Main("xdhcpd", run, nil)
}
