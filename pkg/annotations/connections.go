package annotations

import "encoding/json"

// Equal reports whether c and o connect to the same cloud identities, by the
// types' Same rules.
func (c Connections) Equal(o Connections) bool {
	return c.AWS.Same(o.AWS) && c.Azure.Same(o.Azure) && c.GCP.Same(o.GCP) &&
		c.AWSTargetRole.Same(o.AWSTargetRole) && c.AWSDisableSessionTags == o.AWSDisableSessionTags &&
		c.Retain == o.Retain && c.NoRestart == o.NoRestart
}

// Annotations returns the connection annotations that Parse turns back into
// c; the controller copies them from a workload to its ServiceAccount. A bare
// Azure name gets its resource group spelled out, so that the copy does not
// depend on the default. c must come from a successful Parse.
func (c Connections) Annotations() map[string]string {
	m := map[string]string{}
	if c.AWS != nil {
		m[KeyAWSRole] = c.AWS.String()
	}
	if a := c.Azure; a != nil {
		if a.SubscriptionID != "" {
			m[KeyAzureIdentity] = a.String()
		} else {
			m[KeyAzureIdentity] = a.Name
			m[KeyAzureResourceGroup] = a.ResourceGroup
		}
		if a.ClientID != "" {
			m[KeyAzureClientID] = a.ClientID
		}
	}
	if c.GCP != nil {
		m[KeyGCPServiceAccount] = c.GCP.Email
	}
	if c.AWSTargetRole != nil {
		m[KeyAWSTargetRole] = c.AWSTargetRole.String()
	}
	if c.AWSDisableSessionTags {
		m[KeyAWSSessionTags] = "false"
	}
	if c.Retain {
		m[KeyDeletionPolicy] = "retain"
	}
	if c.NoRestart {
		m[KeyRestartOnReady] = "false"
	}
	return m
}

// PendingStatus is the status the webhook records for a connection that
// has none yet, in the same admission that adds it: from then on the
// ServiceAccount itself says which identity may hold a cloud object, even
// if the controller crashes between its cloud call and its own status
// write and the connection is removed meanwhile.
func PendingStatus(identity string) string {
	id, _ := json.Marshal(identity) // a string always encodes
	return `{"state":"Pending","reason":"Admitted","identity":` + string(id) +
		`,"message":"admitted; the controller has not synced it yet"}`
}
