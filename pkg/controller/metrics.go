package controller

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Metrics, registered in controller-runtime's registry:
//
//	keyless_connections{cloud,state}
//	    connections known to the controller by cloud and state (Ready,
//	    Pending, Error, CloudDisabled).
//	keyless_orphans_removed_total{cloud}
//	    cloud objects removed by the sweep because their ServiceAccount went
//	    away, was replaced, or no longer connects to them.
var orphansRemoved = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "keyless_orphans_removed_total",
	Help: "Cloud objects removed because their ServiceAccount was gone.",
}, []string{"cloud"})

var connectionsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "keyless_connections",
	Help: "Connections by cloud and state.",
}, []string{"cloud", "state"})

func init() {
	metrics.Registry.MustRegister(connectionsGauge, orphansRemoved)
}

type connKey struct {
	sa    types.NamespacedName
	cloud cloud.Name
}

var connStates = struct {
	sync.Mutex
	m map[connKey]string
}{m: map[connKey]string{}}

// setConnectionState records one connection's state for the gauge.
func setConnectionState(sa *corev1.ServiceAccount, c cloud.Name, st *Status) {
	k := connKey{types.NamespacedName{Namespace: sa.Namespace, Name: sa.Name}, c}
	connStates.Lock()
	defer connStates.Unlock()
	if old, ok := connStates.m[k]; ok {
		connectionsGauge.WithLabelValues(string(c), old).Dec()
		delete(connStates.m, k)
	}
	if st != nil {
		connStates.m[k] = st.State
		connectionsGauge.WithLabelValues(string(c), st.State).Inc()
	}
}
