package manager

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// maxNote is the longest Event note the API server accepts.
const maxNote = 1024

// shortNotes cuts Event notes to what the API server accepts: a cloud's
// error, or a policy message listing the allowed patterns, can be longer,
// and the server rejects such an Event whole.
type shortNotes struct{ events.EventRecorder }

func (r shortNotes) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", shorten(fmt.Sprintf(note, args...)))
}

// shorten cuts s to maxNote bytes on a rune boundary, ending in "…".
func shorten(s string) string {
	if len(s) <= maxNote {
		return s
	}
	const ellipsis = "…"
	cut := maxNote - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
