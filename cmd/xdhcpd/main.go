// Command xdhcpd is the xdhcp DHCPv4 server. It reads a Kea Dhcp4
// configuration: `xdhcpd -c FILE` runs, `xdhcpd -t FILE` checks and exits
// 0 or 1 as kea-dhcp4 -t does; with no -c it runs the embedded default.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xdhcpd:", err)
		os.Exit(1)
	}
}
