package controller

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestSyncEventsOnWorkloads: what happens to a ServiceAccount's cloud
// objects is told on the ServiceAccount and on each workload that is
// connected through it, and on no other workload.
func TestSyncEventsOnWorkloads(t *testing.T) {
	connected := kv(annotations.KeyAWSRole, roleA)
	tests := []struct {
		name      string
		workloads []client.Object
		want      int // events about the workloads
	}{
		{name: "no workloads"},
		{name: "one connected Deployment", workloads: []client.Object{testDeployment("api", testSA, connected)}, want: 1},
		{name: "a connected Deployment and CronJob", workloads: []client.Object{
			testDeployment("api", testSA, connected), testCronJob("nightly", testSA, connected)}, want: 2},
		{name: "a workload of another ServiceAccount", workloads: []client.Object{testDeployment("other", "payments", connected)}},
		{name: "a workload that is not connected", workloads: []client.Object{testDeployment("plain", testSA, nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := append([]client.Object{serviceAccount(kv(annotations.KeyAWSRole, roleA))}, tt.workloads...)
			f := newSyncFixture(t, []cloud.Name{cloud.AWS}, objs...)
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			evs := f.events()
			onSA, onWorkloads := 0, 0
			for _, e := range evs {
				if !strings.HasPrefix(e, "Normal "+ReasonCloudCreated+" ") {
					continue
				}
				if strings.Contains(e, " ServiceAccount "+testSA+": ") {
					onWorkloads++
				} else {
					onSA++
				}
			}
			if onSA != 1 || onWorkloads != tt.want {
				t.Errorf("%d %s events on the ServiceAccount and %d on workloads, want 1 and %d: %q",
					onSA, ReasonCloudCreated, onWorkloads, tt.want, evs)
			}
		})
	}
}
