// Command keyless-dev runs Keyless on a local cluster with simulated clouds
// and the examples applied (`make dev`). It is for development only: the
// released keyless binary does not contain the simulators.
package main

import (
	"github.com/keyless-dev/keyless/pkg/app"
	"github.com/keyless-dev/keyless/pkg/devcmd"
)

func main() { app.Main("keyless-dev", devcmd.Run) }
