// Package cli is the main function the xdhcp commands share: run the
// command with a context that SIGINT and SIGTERM cancel, and turn its
// error into a message and an exit status.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is a command's body: it reads args, writes to stdout and stderr,
// and returns when ctx ends or its work is done.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments and streams and a context a
// SIGINT or SIGTERM cancels. When run fails it prints "name: error" on
// stderr and exits with exitCode(err), or 1 when exitCode is nil.
func Main(name string, run Run, exitCode func(error) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, name+":", err)
	code := 1
	if exitCode != nil {
		code = exitCode(err)
	}
	os.Exit(code)
}

// Parse parses args with fs. A help request (-h, -help, --help) prints
// the usage on stdout and reports help, which the command answers by
// returning nil: asking for help is not an error. Any other parse error
// prints the message and usage on stderr and is returned.
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (help bool, err error) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err = fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		_, werr := stdout.Write(out.Bytes())
		return true, werr
	}
	if err != nil {
		_, _ = stderr.Write(out.Bytes())
		return false, err
	}
	return false, nil
}
