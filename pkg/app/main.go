package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc runs a command line: args without the program's name.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main is the whole of a command's main: it runs run until it returns or
// an interrupt or SIGTERM cancels its context, prints an error with the
// program's name, and exits with ExitCode.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
	}
	os.Exit(ExitCode(err))
}
