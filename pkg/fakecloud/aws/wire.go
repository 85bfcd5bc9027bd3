package aws

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Association is a pod identity association as the simulator stores it.
type Association struct {
	ClusterName        string
	Namespace          string
	ServiceAccount     string
	RoleARN            string
	TargetRoleARN      string
	ExternalID         string
	DisableSessionTags bool
	Policy             string
	AssociationID      string
	AssociationARN     string
	// OwnerARN is set when an EKS add-on owns the association.
	OwnerARN   string
	Tags       map[string]string
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// associationJSON is PodIdentityAssociation on the wire.
type associationJSON struct {
	AssociationArn     string            `json:"associationArn"`
	AssociationID      string            `json:"associationId"`
	ClusterName        string            `json:"clusterName"`
	Namespace          string            `json:"namespace"`
	ServiceAccount     string            `json:"serviceAccount"`
	RoleArn            string            `json:"roleArn"`
	Tags               map[string]string `json:"tags"`
	CreatedAt          float64           `json:"createdAt"`
	ModifiedAt         float64           `json:"modifiedAt"`
	OwnerArn           string            `json:"ownerArn,omitempty"`
	DisableSessionTags bool              `json:"disableSessionTags"`
	TargetRoleArn      string            `json:"targetRoleArn,omitempty"`
	ExternalID         string            `json:"externalId,omitempty"`
	Policy             string            `json:"policy,omitempty"`
}

// summaryJSON is PodIdentityAssociationSummary: no role, which is why
// clients must Describe to see drift.
type summaryJSON struct {
	AssociationArn string `json:"associationArn"`
	AssociationID  string `json:"associationId"`
	ClusterName    string `json:"clusterName"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	OwnerArn       string `json:"ownerArn,omitempty"`
}

func (a Association) wire() associationJSON {
	tags := a.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return associationJSON{
		AssociationArn: a.AssociationARN, AssociationID: a.AssociationID, ClusterName: a.ClusterName,
		Namespace: a.Namespace, ServiceAccount: a.ServiceAccount, RoleArn: a.RoleARN, Tags: tags,
		CreatedAt: epoch(a.CreatedAt), ModifiedAt: epoch(a.ModifiedAt), OwnerArn: a.OwnerARN,
		DisableSessionTags: a.DisableSessionTags, TargetRoleArn: a.TargetRoleARN,
		ExternalID: a.ExternalID, Policy: a.Policy,
	}
}

func (a Association) summary() summaryJSON {
	return summaryJSON{
		AssociationArn: a.AssociationARN, AssociationID: a.AssociationID, ClusterName: a.ClusterName,
		Namespace: a.Namespace, ServiceAccount: a.ServiceAccount, OwnerArn: a.OwnerARN,
	}
}

// epoch is restJson1's default timestamp format: seconds as a JSON number.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers the way EKS does: the type in X-Amzn-ErrorType (with
// the coral suffix the SDK strips), the text in "message".
func writeError(w http.ResponseWriter, status int, typ, msg, clusterName string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazonaws.eks/")
	w.WriteHeader(status)
	body := map[string]string{"message": msg}
	if clusterName != "" {
		body["clusterName"] = clusterName
	}
	_ = json.NewEncoder(w).Encode(body)
}

func invalidParameter(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, "InvalidParameterException", msg, "")
}

// readJSON decodes a request body, answering 400 itself when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(r.Body)
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "Request body could not be read as JSON: "+err.Error(), "")
		return false
	}
	return true
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
