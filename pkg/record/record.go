// Package record keeps the cluster's own list of the cloud objects Keyless
// made or adopted: one ConfigMap per object in Keyless's namespace, which
// tenants cannot read or write.
//
// A ServiceAccount's annotations say what its owner wants; they can be
// edited, stripped of Keyless's finalizer, or deleted with the object. The
// records say what exists in the clouds, whatever happened to the
// ServiceAccount: the controller writes one before its first cloud write for
// a connection and removes it only after the cloud object is gone, so an
// object whose ServiceAccount went away (or was replaced by another of the
// same name) is still found, and removed, by the periodic sweep. Objects
// kept by `keyless.dev/deletion-policy: retain` stay on record, where
// `keyless status` lists them and a policy change can revoke them.
package record

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels and data keys of a record ConfigMap.
const (
	// LabelRecord marks a record; its value is LabelValue.
	LabelRecord = "keyless.dev/record"
	LabelValue  = "cloud-object"
	// LabelCloud and LabelNamespace say which cloud and which namespace the
	// object is for, so that an administrator can list them with kubectl.
	LabelCloud     = "keyless.dev/cloud"
	LabelNamespace = "keyless.dev/namespace"

	keyNamespace      = "namespace"
	keyServiceAccount = "serviceAccount"
	keyUID            = "serviceAccountUID"
	keyIdentity       = "identity"
	keyID             = "id"
	keyAdopted        = "adopted"
	keyRetain         = "retain"
	keyRetained       = "retained"
	keyFromStatus     = "fromStatus"
	keySince          = "since"
)

// IndexSubject is the cache field index of records by "CLOUD/NAMESPACE/NAME".
const IndexSubject = "keyless.dev/record-subject"

// Entry is one cloud object of one ServiceAccount's connection.
type Entry struct {
	Cloud          string
	Namespace      string
	ServiceAccount string
	// UID is the ServiceAccount's UID when the object was made or last
	// ensured: a ServiceAccount of the same name with another UID is another
	// ServiceAccount, which inherits nothing.
	UID string
	// Identity names the identity as the status annotations do.
	Identity string
	// ID is the cloud object's ID, once known.
	ID string
	// Adopted: the object existed before Keyless ensured it; Keyless never
	// removes it, and drops only the record.
	Adopted bool
	// Retain: the connection asked for deletion-policy retain, and the
	// policy allowed it, when the object was ensured.
	Retain bool
	// Retained: the connection went away and the object was kept.
	Retained bool
	// Since is when the record was made.
	Since time.Time
	// Synthetic: not stored; made by the controller from a status that
	// names an identity without a record (written at admission, or by an
	// older version of Keyless).
	Synthetic bool
	// FromStatus: put on record from a status that named an identity
	// without a record (an older version of Keyless's, or one the
	// ServiceAccount's owner wrote), until Keyless ensures the object
	// itself. Nothing but that status says Keyless made it.
	FromStatus bool

	resourceVersion string
}

// Name is the ConfigMap name of the record of one identity of one
// ServiceAccount: the same inputs always give the same name, so a record
// written twice (a retry, a new leader) is one record.
func Name(cloud, namespace, serviceAccount, identity string) string {
	sum := sha256.Sum256([]byte(cloud + "\x00" + namespace + "\x00" + serviceAccount + "\x00" + identity))
	return "keyless-" + cloud + "-" + hex.EncodeToString(sum[:12])
}

// Subject is the IndexSubject value of a ServiceAccount's records.
func Subject(cloud, namespace, serviceAccount string) string {
	return cloud + "/" + namespace + "/" + serviceAccount
}

// Store reads records through a (cached) client and writes them.
type Store struct {
	Client client.Client
	// Namespace is Keyless's own namespace, where the records live.
	Namespace string
}

// AddIndex registers IndexSubject on ConfigMaps.
func AddIndex(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &corev1.ConfigMap{}, IndexSubject, IndexValue); err != nil {
		return fmt.Errorf("indexing the cloud object records: %w", err)
	}
	return nil
}

// IndexValue is IndexSubject's value of an object.
func IndexValue(o client.Object) []string {
	cm, ok := o.(*corev1.ConfigMap)
	if !ok || cm.Labels[LabelRecord] != LabelValue {
		return nil
	}
	return []string{Subject(cm.Labels[LabelCloud], cm.Data[keyNamespace], cm.Data[keyServiceAccount])}
}

// For lists the records of one ServiceAccount's connection to cloud.
func (s *Store) For(ctx context.Context, cloud, namespace, serviceAccount string) ([]Entry, error) {
	list := &corev1.ConfigMapList{}
	if err := s.Client.List(ctx, list, client.InNamespace(s.Namespace),
		client.MatchingFields{IndexSubject: Subject(cloud, namespace, serviceAccount)}); err != nil {
		return nil, fmt.Errorf("listing the records of %s/%s: %w", namespace, serviceAccount, err)
	}
	return entries(list), nil
}

// All lists every record of cloud ("" for every cloud).
func (s *Store) All(ctx context.Context, cloud string) ([]Entry, error) {
	sel := client.MatchingLabels{LabelRecord: LabelValue}
	if cloud != "" {
		sel[LabelCloud] = cloud
	}
	list := &corev1.ConfigMapList{}
	if err := s.Client.List(ctx, list, client.InNamespace(s.Namespace), sel); err != nil {
		return nil, fmt.Errorf("listing the cloud object records: %w", err)
	}
	return entries(list), nil
}

func entries(list *corev1.ConfigMapList) []Entry {
	out := make([]Entry, 0, len(list.Items))
	for i := range list.Items {
		if e, ok := FromConfigMap(&list.Items[i]); ok {
			out = append(out, e)
		}
	}
	return out
}

// FromConfigMap reads a record; false when cm is not one.
func FromConfigMap(cm *corev1.ConfigMap) (Entry, bool) {
	if cm.Labels[LabelRecord] != LabelValue {
		return Entry{}, false
	}
	d := cm.Data
	since, _ := time.Parse(time.RFC3339, d[keySince])
	return Entry{
		Cloud: cm.Labels[LabelCloud], Namespace: d[keyNamespace], ServiceAccount: d[keyServiceAccount],
		UID: d[keyUID], Identity: d[keyIdentity], ID: d[keyID],
		Adopted: d[keyAdopted] == "true", Retain: d[keyRetain] == "true", Retained: d[keyRetained] == "true",
		FromStatus: d[keyFromStatus] == "true", Since: since, resourceVersion: cm.ResourceVersion,
	}, true
}

func (e *Entry) configMap(namespace string) *corev1.ConfigMap {
	ns := e.Namespace
	if len(ns) > 63 { // a label value's limit; namespace names fit, but be safe
		ns = ns[:63]
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: Name(e.Cloud, e.Namespace, e.ServiceAccount, e.Identity), Namespace: namespace,
			ResourceVersion: e.resourceVersion,
			Labels: map[string]string{LabelRecord: LabelValue, LabelCloud: e.Cloud, LabelNamespace: ns,
				"app.kubernetes.io/managed-by": "keyless"},
		},
		Data: map[string]string{
			keyNamespace: e.Namespace, keyServiceAccount: e.ServiceAccount, keyUID: e.UID,
			keyIdentity: e.Identity, keyID: e.ID, keyAdopted: strconv.FormatBool(e.Adopted),
			keyRetain: strconv.FormatBool(e.Retain), keyRetained: strconv.FormatBool(e.Retained),
			keySince: e.Since.UTC().Format(time.RFC3339),
		},
	}
	if e.FromStatus {
		cm.Data[keyFromStatus] = "true"
	}
	return cm
}

// Put writes e: it creates the record, or updates the one of the same
// name. e is updated with the stored version.
func (s *Store) Put(ctx context.Context, e *Entry) error {
	if e.Since.IsZero() {
		e.Since = time.Now()
	}
	cm := e.configMap(s.Namespace)
	var err error
	if e.resourceVersion == "" {
		err = s.Client.Create(ctx, cm)
		if apierrors.IsAlreadyExists(err) {
			// Made by an earlier attempt whose answer was lost: update it.
			cur := &corev1.ConfigMap{}
			if err = s.Client.Get(ctx, client.ObjectKeyFromObject(cm), cur); err == nil {
				cm.ResourceVersion = cur.ResourceVersion
				err = s.Client.Update(ctx, cm)
			}
		}
	} else {
		err = s.Client.Update(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("recording the %s object of %s/%s for %s: %w", e.Cloud, e.Namespace, e.ServiceAccount, e.Identity, err)
	}
	e.resourceVersion = cm.ResourceVersion
	return nil
}

// Delete removes e's record; a record already gone is not an error.
func (s *Store) Delete(ctx context.Context, e Entry) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: Name(e.Cloud, e.Namespace, e.ServiceAccount, e.Identity), Namespace: s.Namespace}}
	if err := s.Client.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting the record of the %s object of %s/%s for %s: %w", e.Cloud, e.Namespace, e.ServiceAccount, e.Identity, err)
	}
	return nil
}

// Object is a reference to e's ConfigMap, for Events.
func (s *Store) Object(e Entry) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: Name(e.Cloud, e.Namespace, e.ServiceAccount, e.Identity), Namespace: s.Namespace,
		},
	}
}
