// Command keyless-dev runs Keyless on a local cluster with simulated clouds
// and the examples applied (`make dev`). It is for development only: the
// released keyless binary does not contain the simulators.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyless-dev/keyless/pkg/app"
	"github.com/keyless-dev/keyless/pkg/devcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := devcmd.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyless-dev:", err)
	}
	os.Exit(app.ExitCode(err))
}
