// Package app wires Keyless together: the `keyless` command and its
// subcommands, the manager, and logging. It is the only package that
// imports all the others.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyless-dev/keyless/pkg/config"
)

// Version is set at build time with -ldflags "-X ...app.Version=v1.2.3".
var Version = "dev"

// ExitError carries a process exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by Run to a process exit code: 0 for
// none, 2 for a usage or configuration mistake, 1 otherwise.
func ExitCode(err error) int {
	var e *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	}
	return 1
}

// UsageError marks err as a usage or configuration mistake: exit code 2.
func UsageError(err error) error { return &ExitError{Code: 2, Err: err} }

// FlagError is the FlagErrorFunc of Keyless's commands: a usage error that
// says where the flags are listed.
func FlagError(c *cobra.Command, err error) error {
	return UsageError(fmt.Errorf("%w\nRun '%s --help' for the flags", err, c.CommandPath()))
}

// Run runs the keyless command line with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot("keyless", stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// newRoot returns the keyless command, called use, with every subcommand.
func newRoot(use string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   use,
		Short: "Connect Kubernetes workloads to AWS, Azure and GCP identities from one annotation",
		Example: "  keyless status -A\n" +
			"  keyless check -f manifests/ --policy policy.yaml\n" +
			"  keyless version",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(FlagError)
	serveKeyless := func(ctx context.Context, cfg config.Config) error { return serve(ctx, cfg, stderr) }
	root.AddCommand(newCheckCommand(), newStatusCommand())
	root.AddCommand(newServeCommand(serveKeyless), newDevMovedCommand(), newUninstallCommand(stdout), newVersionCommand())
	return root
}
