// Command kube-controller-manager is the upstream controller manager, built
// from Go modules for the local control plane used by tests and keyless-dev.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
