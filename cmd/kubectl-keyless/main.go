// Command kubectl-keyless is Keyless's kubectl plugin: kubectl runs it as
// `kubectl keyless status`, `kubectl keyless check`, ... when it is on $PATH
// (krew installs it there).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyless-dev/keyless/pkg/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.RunKubectlPlugin(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubectl keyless:", err)
	}
	os.Exit(app.ExitCode(err))
}
