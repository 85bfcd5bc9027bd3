package annotations

import "strings"

// Cloud names.
const (
	CloudAWS   = "aws"
	CloudAzure = "azure"
	CloudGCP   = "gcp"
)

// Cloud is what the code outside a provider knows about one cloud.
// Webhook, controller, check and status read it from Clouds instead of
// switching on the cloud's name; a new cloud is a row here, its annotation
// types in this package, and a provider package.
type Cloud struct {
	// Name names the cloud in flags, statuses, policies, records and
	// metrics: aws, azure, gcp.
	Name string
	// Title names the cloud for people: AWS, Azure, GCP.
	Title string
	// IdentityNoun names its kind of identity for people: "AWS role".
	IdentityNoun string
	// Key is the annotation that connects a ServiceAccount to the cloud.
	Key string
	// Keys are all the cloud's connection annotations, Key first; the
	// controller copies them together from one workload.
	Keys []string
	// StatusKey is the ServiceAccount annotation holding the controller's
	// Status of the connection.
	StatusKey string
	// Object names the cloud object Keyless makes, for people.
	Object string
	// ObjectType names it for programs (keyless check's JSON).
	ObjectType string
	// ObjectOnIdentity: the cloud object lives on the identity (a
	// credential on an Azure identity, a member in a Google service
	// account's IAM policy). A switch of identity makes a new object and
	// retires the old one, and the connections that share an identity
	// share one read of it. Otherwise the object is the ServiceAccount's
	// one (an EKS association), updated in place on a switch.
	ObjectOnIdentity bool
	// CredentialsAtPodStart: pods get the cloud's credentials only when
	// they start (EKS, Azure), so a new or switched identity needs new
	// pods. GKE's metadata server serves a switched identity to running pods.
	CredentialsAtPodStart bool
	// ServesClientID: what pods are given includes the identity's client
	// ID (azure.workload.identity/client-id), so a changed client ID needs
	// new pods too.
	ServesClientID bool

	// Has reports whether c connects to this cloud.
	Has func(c Connections) bool
	// Identity names the identity of the connections' link to this cloud
	// as the Status records it, "" when they have none.
	Identity func(Connections) string
	// SameIdentity reports whether a and b connect to the same identity.
	SameIdentity func(a, b Connections) bool
	// Same reports whether a and b connect the same way: identity and settings.
	Same func(a, b Connections) bool
	// Clear removes the cloud's connection from c.
	Clear func(c *Connections)
	// IdentityAnnotations are the annotations that Parse turns into a
	// connection to identity, as Identity named it.
	IdentityAnnotations func(identity string) map[string]string
}

// Clouds are the clouds, in the fixed order of statuses, reports and metrics.
var Clouds = []*Cloud{
	{
		Name: CloudAWS, Title: "AWS", IdentityNoun: "AWS role",
		Key:       KeyAWSRole,
		Keys:      []string{KeyAWSRole, KeyAWSTargetRole, KeyAWSSessionTags},
		StatusKey: KeyStatusAWS,
		Object:    "EKS Pod Identity association", ObjectType: "PodIdentityAssociation",
		CredentialsAtPodStart: true,
		Has:                   func(c Connections) bool { return c.AWS != nil },
		Identity: func(c Connections) string {
			if c.AWS == nil {
				return ""
			}
			return c.AWS.String()
		},
		SameIdentity: func(a, b Connections) bool { return a.AWS.Same(b.AWS) },
		Same: func(a, b Connections) bool {
			return a.AWS.Same(b.AWS) && a.AWSTargetRole.Same(b.AWSTargetRole) && a.AWSDisableSessionTags == b.AWSDisableSessionTags
		},
		Clear:               func(c *Connections) { c.AWS, c.AWSTargetRole, c.AWSDisableSessionTags = nil, nil, false },
		IdentityAnnotations: func(id string) map[string]string { return map[string]string{KeyAWSRole: id} },
	},
	{
		Name: CloudAzure, Title: "Azure", IdentityNoun: "Azure identity",
		Key:       KeyAzureIdentity,
		Keys:      []string{KeyAzureIdentity, KeyAzureResourceGroup, KeyAzureClientID},
		StatusKey: KeyStatusAzure,
		Object:    "federated identity credential", ObjectType: "FederatedIdentityCredential",
		ObjectOnIdentity: true, CredentialsAtPodStart: true, ServesClientID: true,
		Has: func(c Connections) bool { return c.Azure != nil },
		Identity: func(c Connections) string {
			if c.Azure == nil {
				return ""
			}
			return c.Azure.String()
		},
		SameIdentity: func(a, b Connections) bool { return a.Azure.Same(b.Azure) },
		Same:         func(a, b Connections) bool { return a.Azure.Same(b.Azure) },
		Clear:        func(c *Connections) { c.Azure = nil },
		IdentityAnnotations: func(id string) map[string]string {
			// RESOURCEGROUP/NAME, or the identity's resource ID.
			if rg, name, ok := strings.Cut(id, "/"); ok && rg != "" && !strings.Contains(name, "/") {
				return map[string]string{KeyAzureIdentity: name, KeyAzureResourceGroup: rg}
			}
			return map[string]string{KeyAzureIdentity: id}
		},
	},
	{
		Name: CloudGCP, Title: "GCP", IdentityNoun: "Google service account",
		Key:       KeyGCPServiceAccount,
		Keys:      []string{KeyGCPServiceAccount},
		StatusKey: KeyStatusGCP,
		Object:    "roles/iam.workloadIdentityUser binding", ObjectType: "WorkloadIdentityUserBinding",
		ObjectOnIdentity: true,
		Has:              func(c Connections) bool { return c.GCP != nil },
		Identity: func(c Connections) string {
			if c.GCP == nil {
				return ""
			}
			return c.GCP.Email
		},
		SameIdentity:        func(a, b Connections) bool { return a.GCP.Same(b.GCP) },
		Same:                func(a, b Connections) bool { return a.GCP.Same(b.GCP) },
		Clear:               func(c *Connections) { c.GCP = nil },
		IdentityAnnotations: func(id string) map[string]string { return map[string]string{KeyGCPServiceAccount: id} },
	},
}

// IsStatusKey reports whether k is a cloud's StatusKey.
func IsStatusKey(k string) bool {
	for _, c := range Clouds {
		if c.StatusKey == k {
			return true
		}
	}
	return false
}

// CloudNamed returns the cloud named name, or nil.
func CloudNamed(name string) *Cloud {
	for _, c := range Clouds {
		if c.Name == name {
			return c
		}
	}
	return nil
}
