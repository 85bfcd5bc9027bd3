//go:build tools

// Package tools pins the mutation-testing tool used by `make mutants`. It is
// a module of its own so that neither Keyless nor the control-plane build
// (hack/tools) depends on it.
package tools

import _ "github.com/go-gremlins/gremlins/cmd/gremlins"
