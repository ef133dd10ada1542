// Command xdhcp-bench is the xdhcp load generator and benchmark runner:
//
//	xdhcp-bench demo  -xdhcpd PATH -clients N        the `make demo` walk-through
//	xdhcp-bench run   [flags]                        one load run, JSON summary
//	xdhcp-bench suite [-quick] -xdhcpd PATH -out DIR  the benchmark scenarios (S1–S7)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "xdhcp-bench:", err)
		os.Exit(1)
	}
}
