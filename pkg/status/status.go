// Package status turns the connection status that the controller records
// on ServiceAccounts (the keyless.dev/status-<cloud> annotations) into rows
// for `keyless status`, and renders them as a table or JSON. It is pure:
// the caller lists the ServiceAccounts.
package status

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/record"
)

// StateUnknown is shown when a status annotation does not decode.
const StateUnknown = "Unknown"

// Row is one cloud connection of one ServiceAccount.
type Row struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// Cloud is "aws", "azure" or "gcp".
	Cloud string `json:"cloud"`
	// Identity is the identity the status was recorded for, or, before the
	// first status, the one the annotations name.
	Identity string `json:"identity,omitempty"`
	// State is Ready, Pending, Error or CloudDisabled, as the controller
	// writes it; Pending when it has written none yet; Unknown when the
	// status does not decode.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// ID is the cloud object's ID.
	ID string `json:"id,omitempty"`
	// LastSync is when the controller last wrote the status; zero before.
	LastSync time.Time `json:"lastSync,omitzero"`
	Message  string    `json:"message,omitempty"`
}

// NoStatusMessage is the message of a connection the controller has not
// recorded a status for yet.
const NoStatusMessage = "no status yet: the controller has not synced this connection"

// StateRetained is the state of a cloud object kept after its connection
// went away (keyless.dev/deletion-policy: retain), from Keyless's records.
const StateRetained = "Retained"

// RetainedMessage is the message of a retained object's row.
const RetainedMessage = "kept after its connection went away (deletion-policy: retain); " +
	"on record in Keyless's namespace, revoked when the policy no longer allows it (existingViolations: remove)"

// Rows returns a row per cloud connection (a connection annotation or a
// status annotation) of the ServiceAccounts, and one per retained cloud
// object among records, ordered by namespace, name and cloud (AWS, Azure,
// GCP). ServiceAccounts without either have none.
func Rows(sas []corev1.ServiceAccount, records []record.Entry) []Row {
	sorted := slices.Clone(sas)
	slices.SortFunc(sorted, func(a, b corev1.ServiceAccount) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	rows := []Row{}
	for _, sa := range sorted {
		for _, c := range annotations.Clouds {
			raw, hasStatus := sa.Annotations[c.StatusKey]
			_, connected := sa.Annotations[c.Key]
			if !hasStatus && !connected {
				continue
			}
			r := Row{Namespace: sa.Namespace, ServiceAccount: sa.Name, Cloud: c.Name}
			if hasStatus {
				var s annotations.Status
				if err := json.Unmarshal([]byte(raw), &s); err != nil {
					r.State, r.Message = StateUnknown, fmt.Sprintf("unreadable %s annotation: %v", c.StatusKey, err)
				} else {
					r.Identity, r.State, r.Reason, r.ID, r.LastSync, r.Message =
						s.Identity, s.State, s.Reason, s.ID, s.LastSync, s.Message
				}
			} else {
				r.State, r.Message = annotations.StatePending, NoStatusMessage
			}
			if r.Identity == "" {
				r.Identity = identity(c, sa.Annotations)
			}
			if r.State == "" {
				r.State = StateUnknown
			}
			rows = append(rows, r)
		}
	}
	for _, e := range records {
		if e.Retained {
			rows = append(rows, Row{Namespace: e.Namespace, ServiceAccount: e.ServiceAccount, Cloud: e.Cloud,
				Identity: e.Identity, State: StateRetained, ID: e.ID, Message: RetainedMessage})
		}
	}
	order := func(cloud string) int {
		return slices.IndexFunc(annotations.Clouds, func(c *annotations.Cloud) bool { return c.Name == cloud })
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ServiceAccount, b.ServiceAccount),
			cmp.Compare(order(a.Cloud), order(b.Cloud)))
	})
	return rows
}

// identity names a cloud's identity from the connection annotations, the
// way the controller records it (the role, RESOURCEGROUP/NAME or the
// resource ID, the email), or as written when they do not parse.
func identity(c *annotations.Cloud, a map[string]string) string {
	if conns, errs := annotations.Parse(a, annotations.Options{}); len(errs) == 0 {
		return c.Identity(conns)
	}
	return a[c.Key]
}

// WriteTable writes the rows as a table with the columns NAMESPACE,
// SERVICEACCOUNT, CLOUD, IDENTITY, STATE, LAST SYNC (the age at now) and
// MESSAGE.
//
// Azure resource IDs are shown as SUBSCRIPTION/RESOURCEGROUP/NAME, and a
// row without a message shows the reason instead.
func WriteTable(w io.Writer, rows []Row, now time.Time) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tSERVICEACCOUNT\tCLOUD\tIDENTITY\tSTATE\tLAST SYNC\tMESSAGE")
	for _, r := range rows {
		msg := r.Message
		if msg == "" {
			msg = r.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.ServiceAccount, label(r.Cloud),
			orNone(shortIdentity(r.Identity)), r.State, Age(r.LastSync, now), oneLine(msg))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads the last column too; keep lines free of trailing blanks.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// shortIdentity writes an Azure resource ID as SUBSCRIPTION/RESOURCEGROUP/NAME.
func shortIdentity(id string) string {
	segs := strings.Split(id, "/")
	if len(segs) == 9 && segs[0] == "" && strings.EqualFold(segs[1], "subscriptions") &&
		strings.EqualFold(segs[3], "resourceGroups") {
		return segs[2] + "/" + segs[4] + "/" + segs[8]
	}
	return id
}

// Age is how long ago t was, in its largest unit ("45s", "2m", "3h",
// "5d"); "<none>" for the zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "<none>"
	}
	return duration.ShortHumanDuration(now.Sub(t))
}

// WriteJSON writes the rows as an indented JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rows)
}

func label(name string) string {
	if c := annotations.CloudNamed(name); c != nil {
		return c.Title
	}
	return name
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// oneLine keeps a message on its table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
