// Command xdhcp-bench is the xdhcp load generator and benchmark runner:
//
//	xdhcp-bench demo  -xdhcpd PATH -clients N        the `make demo` walk-through
//	xdhcp-bench run   [flags]                        one load run, JSON summary
//	xdhcp-bench suite [-quick] -xdhcpd PATH -out DIR  the benchmark scenarios (S1–S7)
package main

import "xdhcp/internal/cli"

func main() { cli.Main("xdhcp-bench", run, nil) }
