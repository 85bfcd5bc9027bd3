package manager

import (
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
)

func TestShortNotes(t *testing.T) {
	tests := []struct {
		name string
		note string
		want int // length in bytes
	}{
		{"short", "created", 7},
		{"exactly the limit", strings.Repeat("a", maxNote), maxNote},
		{"one byte more", strings.Repeat("a", maxNote+1), maxNote},
		{"multi-byte runes at the cut", strings.Repeat("é", maxNote), maxNote - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := events.NewFakeRecorder(1)
			shortNotes{fake}.Eventf(&corev1.ServiceAccount{}, nil, corev1.EventTypeWarning, "R", "A", "%s", tt.note)
			got := strings.TrimPrefix(<-fake.Events, "Warning R ")
			if len(got) != tt.want || !utf8.ValidString(got) {
				t.Errorf("note of %d bytes (valid UTF-8: %t), want %d", len(got), utf8.ValidString(got), tt.want)
			}
			if len(tt.note) > maxNote && !strings.HasSuffix(got, "…") {
				t.Errorf("a cut note does not end in an ellipsis: %q", got[len(got)-10:])
			}
		})
	}
}
