package app

import (
	"context"
	"io"
	"regexp"

	"github.com/spf13/cobra"
)

// PluginName is the file name that makes kubectl run a binary as
// `kubectl keyless`: kubectl looks for kubectl-keyless on $PATH (and krew
// installs it there).
const PluginName = "kubectl-keyless"

// RunKubectlPlugin runs the commands that read or tidy a cluster (status,
// check, uninstall, version) as the kubectl plugin `kubectl keyless`, with
// args as kubectl passes them (without the program name). The server
// commands (serve, dev) are not part of it.
func RunKubectlPlugin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newPluginRoot(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// newPluginRoot returns the keyless command as kubectl shows it.
func newPluginRoot(stdout, stderr io.Writer) *cobra.Command {
	root := newRoot(PluginName, stdout, stderr)
	root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl keyless"}
	for _, c := range root.Commands() {
		if c.Name() == "serve" || c.Name() == "dev" {
			root.RemoveCommand(c)
		}
	}
	// Examples show the command as it is typed.
	renameExamples(root)
	return root
}

// commandStart matches where a command line starts to run keyless: at the
// start of the line or after a pipe.
var commandStart = regexp.MustCompile(`(?m)(^\s*|\|\s*)keyless `)

// renameExamples writes the examples of c and its subcommands with
// "kubectl keyless" where they run keyless.
func renameExamples(c *cobra.Command) {
	c.Example = commandStart.ReplaceAllString(c.Example, "${1}kubectl keyless ")
	for _, sub := range c.Commands() {
		renameExamples(sub)
	}
}
