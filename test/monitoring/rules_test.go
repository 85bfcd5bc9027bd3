package monitoring

import (
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy/chart"
	// The packages that register Keyless's metrics, as the manager links them.
	_ "github.com/keyless-dev/keyless/pkg/admission"
	_ "github.com/keyless-dev/keyless/pkg/cloud"
	_ "github.com/keyless-dev/keyless/pkg/controller"
	_ "github.com/keyless-dev/keyless/pkg/policystore"
)

// apiServerMetrics are the API server's metrics the alerts read: how its
// calls to Keyless's webhooks fail and how long they take.
var apiServerMetrics = []string{
	"apiserver_admission_webhook_rejection_count",
	"apiserver_admission_webhook_admission_duration_seconds_bucket",
}

// rendered returns the PrometheusRule and the dashboard ConfigMap of the
// chart with both turned on.
func rendered(t *testing.T) (rule, dashboard *unstructured.Unstructured) {
	t.Helper()
	out, err := chart.Render(map[string]any{"metrics": map[string]any{
		"prometheusRule":   map[string]any{"enabled": true},
		"grafanaDashboard": map[string]any{"enabled": true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		switch {
		case u.GetKind() == "PrometheusRule":
			rule = u
		case u.GetKind() == "ConfigMap" && u.GetName() == "keyless-dashboard":
			dashboard = u
		}
	}
	if rule == nil || dashboard == nil {
		t.Fatal("the chart rendered no PrometheusRule or no dashboard ConfigMap")
	}
	return rule, dashboard
}

// ruleGroups parses the PrometheusRule's spec as Prometheus parses a rule
// file (`promtool check rules`): YAML, PromQL, durations and the templates
// of labels and annotations.
func ruleGroups(t *testing.T, rule *unstructured.Unstructured) *rulefmt.RuleGroups {
	t.Helper()
	spec, _, _ := unstructured.NestedMap(rule.Object, "spec")
	raw, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil || len(groups.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	return groups
}

func TestAlertRules(t *testing.T) {
	rule, _ := rendered(t)
	groups := ruleGroups(t, rule)
	runbooks, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("rule %q is not an alert", r.Record)
				continue
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/operations.md#"+anchor) {
				t.Errorf("%s: runbook_url %q, want docs/operations.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
			}
			if !regexp.MustCompile(`(?m)^### ` + r.Alert + `$`).Match(runbooks) {
				t.Errorf("%s: docs/operations.md has no section \"### %s\"", r.Alert, r.Alert)
			}
		}
	}
}

// exported returns the names of the metrics Keyless serves: those in
// controller-runtime's registry once the packages that register them are
// linked.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	descs := make(chan *prometheus.Desc)
	go func() {
		metrics.Registry.(prometheus.Collector).Describe(descs)
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	for _, want := range []string{"keyless_admission_requests_total", "keyless_orphans_removed_total", "leader_election_master_status"} {
		if !names[want] {
			t.Fatalf("the registry has no %s: %v", want, names)
		}
	}
	return names
}

// isExported reports whether a PromQL metric name is one the registry
// serves, the series of a histogram or summary included.
func isExported(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

// metricNames parses a PromQL expression and returns the metric names it selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	// Grafana's variables, as Grafana fills them in.
	expr = strings.NewReplacer("$__rate_interval", "5m", "$namespace", "keyless-system").Replace(expr)
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%q: %v", expr, err)
		return nil
	}
	var names []string
	for _, sel := range parser.ExtractSelectors(e) {
		for _, m := range sel {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				names = append(names, m.Value)
			}
		}
	}
	if len(names) == 0 {
		t.Errorf("%q selects no metric by name", expr)
	}
	return names
}

func TestAlertsReadKeylessMetrics(t *testing.T) {
	rule, _ := rendered(t)
	names := exported(t)
	for _, g := range ruleGroups(t, rule).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(t, r.Expr) {
				if !isExported(names, n) && !slices.Contains(apiServerMetrics, n) {
					t.Errorf("%s reads %s, which Keyless does not export", r.Alert, n)
				}
			}
		}
	}
}

// TestDashboardQueriesKeylessMetrics parses every query of the dashboard and
// checks that it names only metrics Keyless exports, and that every keyless_
// metric has a panel.
func TestDashboardQueriesKeylessMetrics(t *testing.T) {
	_, cm := rendered(t)
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	var dash struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(data["keyless.json"]), &dash); err != nil {
		t.Fatalf("keyless.json: %v", err)
	}
	names := exported(t)
	shown := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			for _, n := range metricNames(t, target.Expr) {
				shown[n] = true
				if !isExported(names, n) {
					t.Errorf("panel %q queries %s, which Keyless does not export", p.Title, n)
				}
			}
		}
	}
	for _, v := range dash.Templating.List {
		if m := regexp.MustCompile(`label_values\((\w+),`).FindStringSubmatch(v.Definition); m != nil && !isExported(names, m[1]) {
			t.Errorf("variable query %q reads %s, which Keyless does not export", v.Definition, m[1])
		}
	}
	var missing []string
	for n := range names {
		if !strings.HasPrefix(n, "keyless_") {
			continue
		}
		if !shown[n] && !shown[n+"_bucket"] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no panel shows %v", missing)
	}
}
