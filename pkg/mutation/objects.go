package mutation

// The views below decode only the fields Keyless reads from an admitted
// object; everything else in the request body is skipped by the decoder.

// ObjectMeta is the part of metadata Keyless reads.
type ObjectMeta struct {
	Name         string            `json:"name,omitempty"`
	GenerateName string            `json:"generateName,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Finalizers   []string          `json:"finalizers,omitempty"`
	// DeletionTimestamp is kept as the raw RFC 3339 text: only its
	// presence matters.
	DeletionTimestamp *string `json:"deletionTimestamp,omitempty"`
}

// PodTemplate is the part of a pod template Keyless reads and patches.
type PodTemplate struct {
	Metadata struct {
		Labels map[string]string `json:"labels,omitempty"`
		// Annotations are read for keyless.dev/restarted-at only.
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		ServiceAccountName       string            `json:"serviceAccountName,omitempty"`
		DeprecatedServiceAccount string            `json:"serviceAccount,omitempty"`
		NodeSelector             map[string]string `json:"nodeSelector,omitempty"`
	} `json:"spec"`
}

// ServiceAccountName is the name the pods run as; empty means "default".
func (t *PodTemplate) ServiceAccountName() string {
	if t.Spec.ServiceAccountName != "" {
		return t.Spec.ServiceAccountName
	}
	return t.Spec.DeprecatedServiceAccount
}

// Workload is an apps/v1 Deployment, StatefulSet or DaemonSet, or a batch/v1
// Job or CronJob.
type Workload struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     struct {
		Template    *PodTemplate `json:"template,omitempty"`
		JobTemplate *struct {
			Spec struct {
				Template *PodTemplate `json:"template,omitempty"`
			} `json:"spec"`
		} `json:"jobTemplate,omitempty"`
	} `json:"spec"`
}

// PodTemplate returns the workload's pod template and its JSON pointer, or
// nil when the object has none.
func (w *Workload) PodTemplate() (*PodTemplate, string) {
	if w.Spec.Template != nil {
		return w.Spec.Template, "/spec/template"
	}
	if w.Spec.JobTemplate != nil && w.Spec.JobTemplate.Spec.Template != nil {
		return w.Spec.JobTemplate.Spec.Template, "/spec/jobTemplate/spec/template"
	}
	return nil, ""
}

// Name is the workload's name, or for a generated name its stem.
func (w *Workload) Name() string {
	if w.Metadata.Name != "" {
		return w.Metadata.Name
	}
	return trimDash(w.Metadata.GenerateName)
}

func trimDash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// ServiceAccount is the part of a ServiceAccount Keyless reads.
type ServiceAccount struct {
	Metadata ObjectMeta `json:"metadata"`
}
