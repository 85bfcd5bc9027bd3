// Command etcd is the upstream etcd server, built from Go modules for the
// local control plane used by tests and keyless-dev.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
