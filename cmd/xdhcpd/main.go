// Command xdhcpd is the xdhcp DHCPv4 server. It reads a Kea Dhcp4
// configuration: `xdhcpd -c FILE` runs, `xdhcpd -t FILE` checks and exits
// 0 or 1 as kea-dhcp4 -t does; with no -c it runs the embedded default.
package main

import "xdhcp/internal/cli"

func main() { cli.Main("xdhcpd", run, nil) }
