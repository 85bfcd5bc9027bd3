// Command load measures the Keyless admission webhook over real TLS against
// a floor: a plain net/http server that only decodes the AdmissionReview and
// allows it. See docs/benchmarks.md.
//
//	load run      [-duration 5s -warmup 1s -rounds 3 -concurrency 1,16,64]
//	load keyless  (a child: serves the real admission.Handler)
//	load floor    (a child: serves the floor)
//	load generate (a child: the load generator)
//
// The children print one line on stdout: "ready URL" for servers, a JSON
// result for the generator. Each child runs with GOMAXPROCS=1.
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
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: load run|keyless|floor|generate [flags]")
	}
	switch args[0] {
	case "run":
		return orchestrate(ctx, args[1:], os.Stdout)
	case "keyless", "floor":
		return serve(ctx, args[0], args[1:])
	case "generate":
		return generate(ctx, args[1:])
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}
