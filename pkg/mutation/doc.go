// Package mutation computes, as pure functions, the JSON patch that the
// webhook returns for a workload or a ServiceAccount.
//
// Mutations are additive and idempotent: the second admission of a mutated
// object yields no patch, and only what Keyless recorded in the
// keyless.dev/injected annotation is ever removed.
package mutation
