package annotations

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkErrs fails unless errs has one error per want, in order, each
// containing its want.
func checkErrs(t *testing.T, errs field.ErrorList, wants ...string) {
	t.Helper()
	if len(errs) != len(wants) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(wants), errsText(errs))
	}
	for i, want := range wants {
		if got := errs[i].Error(); !strings.Contains(got, want) {
			t.Errorf("error %d = %q, want it to contain %q", i, got, want)
		}
	}
}

func errsText(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

// errWants turns a table's single wanted substring into checkErrs' form.
func errWants(want string) []string {
	if want == "" {
		return nil
	}
	return []string{want}
}
