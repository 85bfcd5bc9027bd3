package annotations

// Connections are the parsed connection annotations of one object. A nil
// field means no connection to that cloud.
type Connections struct {
	AWS   *AWSRole
	Azure *AzureIdentity
	GCP   *GCPServiceAccount
	Settings
}

// Settings are the optional keys that shape the connections.
type Settings struct {
	// AWSTargetRole is the cross-account role the association chains to.
	AWSTargetRole *AWSRole
	// AWSDisableSessionTags turns off EKS's session tags.
	AWSDisableSessionTags bool
	// Retain keeps the cloud objects when the connection goes away.
	Retain bool
	// NoRestart stops restarts of the workload when a connection becomes ready.
	NoRestart bool
}

// Empty reports whether the object asks for no connection at all.
func (c Connections) Empty() bool { return c.AWS == nil && c.Azure == nil && c.GCP == nil }

// AWSRole is an IAM role, given by name (Account empty: the cluster's
// account) or by ARN.
type AWSRole struct {
	// Partition is "aws", "aws-cn", "aws-us-gov", ...; empty for a bare name.
	Partition string
	// Account is the 12-digit account ID; empty for a bare name.
	Account string
	// Path is the role path, "/" or "/service-role/" (always with both slashes).
	Path string
	// Name is the role name.
	Name string
}

// AzureIdentity is a user-assigned managed identity.
type AzureIdentity struct {
	// SubscriptionID is set when the annotation held a full resource ID;
	// empty means the configured subscription.
	SubscriptionID string
	// ResourceGroup is never empty after a successful parse: from the
	// resource ID, the keyless.dev/azure-resource-group annotation or the
	// configured default.
	ResourceGroup string
	// Name is the identity's name.
	Name string
	// ClientID is the identity's client ID when given; empty otherwise.
	ClientID string
}

// GCPServiceAccount is a Google service account.
type GCPServiceAccount struct {
	// Email is NAME@PROJECT.iam.gserviceaccount.com, lower-cased.
	Email string
	// Project is the project ID taken from the email.
	Project string
	// Name is the account ID, the part before the "@".
	Name string
}

// Options carry the cluster-wide settings that parsing depends on.
type Options struct {
	// AzureDefaultResourceGroup is used when an Azure identity is given by
	// name without keyless.dev/azure-resource-group. Empty: none.
	AzureDefaultResourceGroup string
}
