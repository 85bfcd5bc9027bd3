// Command keyless connects Kubernetes workloads to cloud identities.
package main

import "github.com/keyless-dev/keyless/pkg/app"

func main() { app.Main("keyless", app.Run) }
