// Package bpf holds xdhcp's XDP program and its loader: the program parses
// DHCPv4 requests in the driver and drops, sheds or redirects them to the
// AF_XDP socket of their receive queue; the Go side loads it, attaches and
// pins it, and reads and writes its maps.
package bpf

// The compiler and the headers are pinned (clang-14 with its llvm-strip-14,
// libbpf headers vendored under include/) so that regenerating gives
// byte-identical dhcp_bpfel.{go,o}; CI checks that with
// `go generate ./bpf && git diff --exit-code -- bpf/`. -makebase is not used:
// its .d file would record absolute paths.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -I./include -I/usr/include/x86_64-linux-gnu" -target bpfel -type counters dhcp dhcp.c
