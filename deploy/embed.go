// Package deploy holds the install manifests of Keyless and exposes them to
// the Go code: the MutatingWebhookConfiguration (base/webhook.yaml), the
// rendered install manifest (install.yaml, generated from base/ by
// `make manifests`) and the example workloads (examples/).
package deploy

import "embed"

// WebhookConfiguration is base/webhook.yaml: a single YAML document, the
// admissionregistration.k8s.io/v1 MutatingWebhookConfiguration "keyless".
//
//go:embed base/webhook.yaml
var WebhookConfiguration []byte

// Install is install.yaml: every object of the base, rendered by kustomize,
// as multiple YAML documents for `kubectl apply -f`.
//
//go:embed install.yaml
var Install []byte

// Examples holds examples/*.yaml: the demo namespace and workloads that show
// the keyless.dev annotation contract.
//
//go:embed examples/*.yaml
var Examples embed.FS
