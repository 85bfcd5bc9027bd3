package mutation

import (
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"

	"github.com/keyless-dev/keyless/pkg/internal/golden"
)

// Annotation shortcuts for ServiceAccounts.
const (
	kAWS    = annotations.KeyAWSRole
	kAzure  = annotations.KeyAzureIdentity
	kCID    = annotations.KeyAzureClientID
	kGCP    = annotations.KeyGCPServiceAccount
	kInj    = annotations.KeyInjected
	gkeSA   = annotations.GKEServiceAccount
	azCID   = annotations.AzureClientIDAnnotation
	azTen   = annotations.AzureTenantIDAnnotation
	iGCP    = annotations.InjectedGCPServiceAccount
	iCID    = annotations.InjectedAzureClientID
	iTenant = annotations.InjectedAzureTenantID
)

// withTenant is the ServiceAccount setting with a configured Azure tenant.
var withTenant = ServiceAccountOptions{AzureTenantID: tenantID}

// serviceAccountTests also drive the property tests; name is the golden file
// stem under testdata/serviceaccount/.
var serviceAccountTests = []struct {
	name    string
	obj     any
	opts    ServiceAccountOptions
	wantErr string
}{
	{
		name: "gcp",
		obj:  serviceAccount("orders", kGCP, gcpEmail),
	},
	{
		name: "gcp-keeps-other-annotations",
		obj:  serviceAccount("orders", kGCP, gcpEmail, "example.com/owner", "team-a"),
	},
	{
		name: "gcp-user-set-equal",
		obj:  serviceAccount("orders", kGCP, gcpEmail, gkeSA, gcpEmail),
	},
	{
		name:    "gcp-user-set-different",
		obj:     serviceAccount("orders", kGCP, gcpEmail, gkeSA, gcpEmail2),
		wantErr: `metadata.annotations[iam.gke.io/gcp-service-account]: Invalid value: "` + gcpEmail2 + `": keyless.dev/gcp-service-account needs iam.gke.io/gcp-service-account="` + gcpEmail + `" here`,
	},
	{
		name: "gcp-changed-by-keyless",
		obj:  serviceAccount("orders", kGCP, gcpEmail2, gkeSA, gcpEmail, kInj, iGCP),
	},
	{
		name: "aws-only",
		obj:  serviceAccount("orders", kAWS, awsRole),
	},
	{
		name: "azure-without-client-id",
		obj:  serviceAccount("orders", kAzure, azureName),
	},
	{
		name: "azure-client-id",
		obj:  serviceAccount("orders", kAzure, azureName, kCID, clientID),
	},
	{
		name: "azure-client-id-user-set-equal",
		obj:  serviceAccount("orders", kAzure, azureName, kCID, clientID, azCID, clientID),
	},
	{
		name:    "azure-client-id-user-set-different",
		obj:     serviceAccount("orders", kAzure, azureName, kCID, clientID, azCID, "00000000-0000-0000-0000-000000000000"),
		wantErr: `metadata.annotations[azure.workload.identity/client-id]: Invalid value`,
	},
	{
		name: "azure-tenant",
		obj:  serviceAccount("orders", kAzure, azureName),
		opts: withTenant,
	},
	{
		name: "azure-client-id-and-tenant",
		obj:  serviceAccount("orders", kAzure, azureName, kCID, clientID),
		opts: withTenant,
	},
	{
		name:    "azure-tenant-user-set-different",
		obj:     serviceAccount("orders", kAzure, azureName, azTen, "00000000-0000-0000-0000-000000000000"),
		opts:    withTenant,
		wantErr: `metadata.annotations[azure.workload.identity/tenant-id]: Invalid value`,
	},
	{
		name: "all-connections-with-tenant",
		obj:  serviceAccount("orders", kAWS, awsRole, kAzure, azureName, kCID, clientID, kGCP, gcpEmail),
		opts: withTenant,
	},
	{
		// The controller looked the client ID up and recorded it: it stays
		// while the Azure connection does.
		name: "azure-client-id-looked-up-stays",
		obj:  serviceAccount("orders", kAzure, azureName, azCID, clientID, kInj, iCID),
	},
	{
		name: "azure-tenant-no-longer-configured-stays",
		obj:  serviceAccount("orders", kAzure, azureName, azTen, tenantID, kInj, iTenant),
	},
	{
		name: "removed-gcp",
		obj:  serviceAccount("orders", gkeSA, gcpEmail, kInj, iGCP),
	},
	{
		name: "removed-gcp-user-value",
		obj:  serviceAccount("orders", gkeSA, gcpEmail),
	},
	{
		name: "removed-azure",
		obj:  serviceAccount("orders", azCID, clientID, azTen, tenantID, kInj, iCID+","+iTenant),
		opts: withTenant,
	},
	{
		name: "removed-azure-keeps-user-tenant",
		obj:  serviceAccount("orders", azCID, clientID, azTen, tenantID, kInj, iCID),
		opts: withTenant,
	},
	{
		name: "removed-one-of-two",
		obj:  serviceAccount("orders", kAzure, azureName, gkeSA, gcpEmail, azTen, tenantID, kInj, iGCP+","+iTenant),
		opts: withTenant,
	},
	{
		name: "removed-all-keeps-aws-and-user-values",
		obj: serviceAccount("orders", gkeSA, gcpEmail, azCID, clientID, azTen, tenantID, "example.com/owner", "team-a",
			kInj, iCID),
		opts: withTenant,
	},
	{
		name: "nothing",
		obj:  serviceAccount("orders"),
	},
	{
		name: "finalizer-added",
		obj:  serviceAccount("orders", kGCP, gcpEmail),
		opts: withFinalizer,
	},
	{
		name: "finalizer-after-others",
		obj:  finalizers(serviceAccount("orders", kAWS, awsRole), "example.com/keep"),
		opts: withFinalizer,
	},
	{
		name: "finalizer-present",
		obj:  finalizers(serviceAccount("orders", kAWS, awsRole), "example.com/keep", annotations.Finalizer),
		opts: withFinalizer,
	},
	{
		// The API server refuses new finalizers on an object being deleted.
		name: "finalizer-not-while-deleting",
		obj:  deleting(serviceAccount("orders", kAWS, awsRole)),
		opts: withFinalizer,
	},
	{
		name: "finalizer-not-without-connection",
		obj:  serviceAccount("orders", "example.com/owner", "team-a"),
		opts: withFinalizer,
	},
	{
		name: "pending-status-only-where-none",
		obj: serviceAccount("orders", kAWS, awsRole, kGCP, gcpEmail, kAzure, azureName,
			annotations.KeyStatusAWS, `{"state":"Ready","identity":"old"}`),
		opts: withFinalizer,
	},
	{
		// Removing the connection leaves the finalizer to the controller,
		// which removes it once the cloud object is gone.
		name: "finalizer-kept-after-removal",
		obj:  finalizers(serviceAccount("orders", gkeSA, gcpEmail, kInj, iGCP), annotations.Finalizer),
		opts: withFinalizer,
	},
}

// withFinalizer is the ServiceAccount setting of keyless serve.
var withFinalizer = ServiceAccountOptions{Finalizer: annotations.Finalizer, RecordPending: true}

func finalizers(sa *corev1.ServiceAccount, f ...string) *corev1.ServiceAccount {
	sa.Finalizers = f
	return sa
}

func deleting(sa *corev1.ServiceAccount) *corev1.ServiceAccount {
	sa.Finalizers = []string{"kubernetes"}
	sa.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	return sa
}

func TestForServiceAccount(t *testing.T) {
	for _, tt := range serviceAccountTests {
		t.Run(tt.name, func(t *testing.T) {
			doc := indented(t, mustJSON(t, tt.obj))
			golden.Check(t, filepath.Join("serviceaccount", tt.name+".input.json"), doc)

			p, errs := mutateServiceAccount(t, doc, tt.opts)
			checkErrs(t, errs, tt.wantErr)
			if tt.wantErr != "" {
				if p != nil {
					t.Errorf("patch = %v with errors, want none", p)
				}
				return
			}
			golden.Check(t, filepath.Join("serviceaccount", tt.name+".patch.json"), indented(t, patchJSON(t, p)))
			checkRemovals(t, doc, "", p)
			apply(t, doc, p)
		})
	}
}
