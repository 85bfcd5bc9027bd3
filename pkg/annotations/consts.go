// Package annotations defines the keyless.dev annotation contract and parses
// it, with pure functions, into typed connections.
//
// Users write the connection keys; Keyless writes the bookkeeping keys. Every
// key that Keyless reads or writes is declared in this file.
package annotations

// Prefix starts every Keyless annotation key. Keys under it that are not
// declared here are rejected with a suggestion.
const Prefix = "keyless.dev/"

// Connection keys, written by users on a workload (Deployment, StatefulSet,
// DaemonSet, Job, CronJob) or on a ServiceAccount. Keys on a workload are
// copied by the controller to the workload's ServiceAccount.
const (
	// KeyAWSRole connects the ServiceAccount to an IAM role through an EKS Pod
	// Identity Association. Value: a role name, with an optional path
	// ("orders-api", "service-role/orders-api"), or a role ARN
	// ("arn:aws:iam::123456789012:role/orders-api"). A bare name is resolved
	// in the cluster's account.
	KeyAWSRole = Prefix + "aws-role"

	// KeyAzureIdentity connects the ServiceAccount to a user-assigned managed
	// identity through a federated identity credential. Value: the identity's
	// name, or its full ARM resource ID
	// ("/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME").
	KeyAzureIdentity = Prefix + "azure-identity"

	// KeyAzureResourceGroup names the resource group of KeyAzureIdentity when it is a
	// bare name. Optional when a default resource group is configured; not
	// allowed with a full resource ID.
	KeyAzureResourceGroup = Prefix + "azure-resource-group"

	// KeyAzureClientID is the identity's client ID (a GUID). Optional: it saves
	// the controller a lookup and lets the webhook set
	// azure.workload.identity/client-id at once. Needs KeyAzureIdentity.
	KeyAzureClientID = Prefix + "azure-client-id"

	// KeyGCPServiceAccount connects the ServiceAccount to a Google service
	// account through a roles/iam.workloadIdentityUser binding. Value: the
	// service account's email, NAME@PROJECT.iam.gserviceaccount.com.
	KeyGCPServiceAccount = Prefix + "gcp-service-account"
)

// Setting keys, written by users next to the connection keys. All but
// KeyRestartOnReady, which concerns the workload itself, are copied with
// them from a workload to its ServiceAccount.
const (
	// KeyAWSTargetRole chains the association's role to a role in another
	// account (EKS targetRoleArn). Value: a role ARN. Needs KeyAWSRole.
	KeyAWSTargetRole = Prefix + "aws-target-role"
	// KeyAWSSessionTags, "false", turns off the session tags EKS adds to the
	// role session (disableSessionTags). Default "true". Needs KeyAWSRole.
	KeyAWSSessionTags = Prefix + "aws-session-tags"
	// KeyDeletionPolicy says what happens to the cloud objects when the
	// connection goes away: "delete" (default) or "retain".
	KeyDeletionPolicy = Prefix + "deletion-policy"
	// KeyRestartOnReady, "false" on a workload, stops the controller from
	// restarting its pods when a connection first becomes ready. Default "true".
	KeyRestartOnReady = Prefix + "restart-on-ready"
)

// Bookkeeping keys, written by Keyless. Users should not set them.
const (
	// KeyInjected lists, comma-separated and sorted, what the webhook added to
	// the object (see the Injected* values below), so that it removes exactly that,
	// and never a value the user wrote, when a connection goes away.
	KeyInjected = Prefix + "injected"

	// KeyPropagated lists, on a ServiceAccount, the connection keys (without the
	// prefix) that the controller copied there from the workloads that use
	// it; keys not listed were set on the ServiceAccount by its owner.
	KeyPropagated = Prefix + "propagated"
)

// Status keys, one per cloud, on connected ServiceAccounts: a JSON object
// with the connection's state, identity, cloud object ID, message and last
// sync time, written by the controller (see pkg/controller).
const (
	KeyStatusAWS   = Prefix + "status-aws"
	KeyStatusAzure = Prefix + "status-azure"
	KeyStatusGCP   = Prefix + "status-gcp"
)

// KeyRestartedAt on a pod template records when the controller restarted
// the workload so that its pods pick up a connection that became ready.
const KeyRestartedAt = Prefix + "restarted-at"

// Finalizer holds a connected ServiceAccount's deletion until the cloud
// objects Keyless made for it are removed.
const Finalizer = "keyless.dev/cloud-cleanup"

// Values of the Injected list.
const (
	// InjectedServiceAccountName: the pod template's serviceAccountName was
	// empty or "default" and was set to the workload's own ServiceAccount.
	InjectedServiceAccountName = "service-account-name"
	// InjectedAzureUseLabel: the pod-template label AzureUseLabel was added.
	InjectedAzureUseLabel = "azure-use-label"
	// InjectedGKENodeSelector: the pod-template nodeSelector GKEMetadataServerNodeSelector was added.
	InjectedGKENodeSelector = "gke-node-selector"
	// InjectedGCPServiceAccount: the ServiceAccount annotation GKEServiceAccount was set.
	InjectedGCPServiceAccount = "gcp-service-account"
	// InjectedAzureClientID: the ServiceAccount annotation AzureClientIDAnnotation was set.
	InjectedAzureClientID = "azure-client-id"
	// InjectedAzureTenantID: the ServiceAccount annotation AzureTenantIDAnnotation was set.
	InjectedAzureTenantID = "azure-tenant-id"
)

// Keys of the clouds' own integrations that Keyless sets.
const (
	// AzureUseLabel on a pod (template) asks the Azure Workload Identity
	// webhook to inject the projected token and environment.
	AzureUseLabel = "azure.workload.identity/use"
	// AzureClientIDAnnotation on a ServiceAccount names the identity to use.
	AzureClientIDAnnotation = "azure.workload.identity/client-id"
	// AzureTenantIDAnnotation on a ServiceAccount names the identity's tenant.
	AzureTenantIDAnnotation = "azure.workload.identity/tenant-id"
	// GKEServiceAccount on a ServiceAccount names the Google service account
	// that its pods act as.
	GKEServiceAccount = "iam.gke.io/gcp-service-account"
	// GKEMetadataServerNodeSelector on a pod (template) keeps pods on nodes
	// that run the GKE metadata server.
	GKEMetadataServerNodeSelector = "iam.gke.io/gke-metadata-server-enabled"
)
