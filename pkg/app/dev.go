package app

import (
	"errors"

	"github.com/spf13/cobra"
)

// errDevMoved answers `keyless dev`: the local development environment
// carries the cloud simulators, so it is a binary of its own and not part
// of the release.
var errDevMoved = errors.New("the local development environment is not part of the keyless binary; run `make dev`, " +
	"or `go run ./cmd/keyless-dev` in a checkout of Keyless, which takes the same flags as `keyless dev` did")

// newDevMovedCommand returns the hidden `keyless dev`, which says where the
// command went, whatever its flags.
func newDevMovedCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "dev",
		Short:              "Moved to keyless-dev (make dev)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return UsageError(errDevMoved) },
	}
}
