package manager

import (
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/record"
)

// serviceAccountNamespaceFile holds the pod's namespace in a cluster.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is Keyless's own namespace, where the records of cloud
// objects live: the leader-election namespace, or the pod's.
func ownNamespace(c config.Config) string {
	if c.LeaderElectionNamespace != "" {
		return c.LeaderElectionNamespace
	}
	if raw, err := os.ReadFile(serviceAccountNamespaceFile); err == nil && strings.TrimSpace(string(raw)) != "" {
		return strings.TrimSpace(string(raw))
	}
	return "keyless-system"
}

// withRecords caches the record ConfigMaps of namespace ns, and no other
// ConfigMap.
func withRecords(o cache.Options, ns string) cache.Options {
	if o.ByObject == nil {
		o.ByObject = map[client.Object]cache.ByObject{}
	}
	o.ByObject[&corev1.ConfigMap{}] = cache.ByObject{
		Namespaces: map[string]cache.Config{ns: {}},
		Label:      labels.SelectorFromSet(labels.Set{record.LabelRecord: record.LabelValue}),
	}
	return o
}
