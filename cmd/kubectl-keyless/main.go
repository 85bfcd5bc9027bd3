// Command kubectl-keyless is Keyless's kubectl plugin: kubectl runs it as
// `kubectl keyless status`, `kubectl keyless check`, ... when it is on $PATH
// (krew installs it there).
package main

import "github.com/keyless-dev/keyless/pkg/app"

func main() { app.Main("kubectl keyless", app.RunKubectlPlugin) }
