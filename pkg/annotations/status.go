package annotations

import (
	"encoding/json"
	"time"
)

// Connection states written in the status annotations.
const (
	StateReady = "Ready"
	// StatePending: a transient failure; the controller retries with backoff.
	StatePending = "Pending"
	// StateError: the cloud refused for a reason that needs a person.
	StateError = "Error"
	// StateDisabled: the cloud is not configured in Keyless.
	StateDisabled = "CloudDisabled"
)

// Status is one cloud's connection status, stored as JSON in the cloud's
// StatusKey annotation of the ServiceAccount by the controller, and read
// by `keyless status`, the controller and the tests.
type Status struct {
	State string `json:"state"`
	// Reason is the outcome: the action taken or the kind of error.
	Reason string `json:"reason,omitempty"`
	// Identity is the identity the cloud object was made for, as the
	// annotation named it; it lets the controller remove the object after
	// the annotation is gone.
	Identity string `json:"identity,omitempty"`
	// ID is the cloud object's ID.
	ID string `json:"id,omitempty"`
	// Hash fingerprints the wanted connection (identity and settings), so
	// that a change of any of them is noticed.
	Hash     string    `json:"hash,omitempty"`
	Message  string    `json:"message,omitempty"`
	LastSync time.Time `json:"lastSync"`
	// Adopted: the object existed before Keyless ensured it; Keyless never
	// removes it.
	Adopted bool `json:"adopted,omitempty"`
	// Served names the credentials that the ServiceAccount's pods were last
	// given (the identity, and for Azure its client ID): the workloads are
	// restarted when a new pod would get other ones, never after an error
	// or a refusal that changed nothing.
	Served string `json:"served,omitempty"`
}

// ReadStatus returns the status recorded under key in annots, or nil when
// there is none. A status that does not decode reads as Pending with
// nothing usable in it.
func ReadStatus(annots map[string]string, key string) *Status {
	raw, ok := annots[key]
	if !ok {
		return nil
	}
	s := &Status{}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		return &Status{State: StatePending, Message: "unreadable status"}
	}
	return s
}
