package app

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func joinErrs(errs field.ErrorList) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n  ")
}
