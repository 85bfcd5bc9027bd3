// Package deploy holds the install manifests of Keyless and exposes them to
// the Go code: the rendered install manifest (install.yaml, the Helm chart
// chart/keyless rendered with its defaults by `make manifests`), its
// MutatingWebhookConfiguration, and the example workloads (examples/).
package deploy

import (
	"bufio"
	"bytes"
	"embed"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Install is install.yaml: every object the chart makes, as multiple YAML
// documents for `kubectl apply -f`.
//
//go:embed install.yaml
var Install []byte

// WebhookConfiguration is the admissionregistration.k8s.io/v1
// MutatingWebhookConfiguration "keyless" of install.yaml, a single YAML
// document: what the chart renders is what the local environment and the
// end-to-end tests register.
var WebhookConfiguration = document(Install, "MutatingWebhookConfiguration")

// Examples holds examples/*.yaml: the demo namespace and workloads that show
// the keyless.dev annotation contract.
//
//go:embed examples/*.yaml
var Examples embed.FS

// document returns the first document of a YAML stream with that kind, or
// nil (the deploy tests check that there is one).
func document(stream []byte, kind string) []byte {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := r.Read()
		if err != nil {
			return nil
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if yaml.Unmarshal(doc, &head) == nil && head.Kind == kind {
			return doc
		}
	}
}
