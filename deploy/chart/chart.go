// Package chart renders the Helm chart of Keyless (the folder keyless/) with
// the Helm library (helm.sh/helm/v4), as `helm template` does: values merged
// over values.yaml and checked against values.schema.json, templates
// rendered, objects in Helm's install order. Tests and the generation of
// deploy/install.yaml use it; the keyless binary does not, so Helm is not
// linked into it.
package chart

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// The release as deploy/install.yaml and the docs install it.
const (
	ReleaseName = "keyless"
	Namespace   = "keyless-system"
	// KubeVersion is the cluster version rendered for: the oldest the chart
	// supports (Chart.yaml's kubeVersion), since the templates do not vary
	// with it.
	KubeVersion = "v1.30.0"
)

// Dir is the chart's folder, relative to this package's.
const Dir = "keyless"

//go:embed all:keyless
var files embed.FS

// Load returns the chart.
func Load() (*chartv2.Chart, error) {
	var buffered []*archive.BufferedFile
	err := fs.WalkDir(files, Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		buffered = append(buffered, &archive.BufferedFile{Name: strings.TrimPrefix(path, Dir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the chart: %w", err)
	}
	c, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	return c, nil
}

// Capabilities returns what the chart is rendered for: KubeVersion.
func Capabilities() (*common.Capabilities, error) {
	v, err := common.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *v
	return caps, nil
}

// Render returns what `helm template keyless deploy/chart/keyless
// --namespace keyless-system --kube-version 1.30` prints with these values
// over the defaults: YAML documents, each after a "---" line and a
// "# Source:" comment, in Helm's install order. A value that
// values.schema.json refuses, or a template's fail, is an error.
func Render(values map[string]any) (string, error) {
	c, err := Load()
	if err != nil {
		return "", err
	}
	caps, err := Capabilities()
	if err != nil {
		return "", err
	}
	if !chartutil.IsCompatibleRange(c.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return "", fmt.Errorf("the chart requires Kubernetes %s, not %s", c.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	opts := common.ReleaseOptions{Name: ReleaseName, Namespace: Namespace, Revision: 1, IsInstall: true}
	top, err := commonutil.ToRenderValuesWithSchemaValidation(c, values, opts, caps, false)
	if err != nil {
		return "", err
	}
	rendered, err := engine.Render(c, top)
	if err != nil {
		return "", err
	}
	for name := range rendered {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(rendered, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(rendered, nil, releaseutil.InstallOrder)
	if err != nil {
		return "", err
	}
	if len(hooks) > 0 {
		return "", fmt.Errorf("the chart has %d hooks; it is meant to have none", len(hooks))
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	return b.String(), nil
}
