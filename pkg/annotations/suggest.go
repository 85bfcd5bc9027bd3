package annotations

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxSuggestDistance bounds how far a typo may be from a known key.
const maxSuggestDistance = 3

func unknownKey(key string) *field.Error {
	detail := "unknown Keyless annotation; "
	if s := suggestKey(key); s != "" {
		detail += `did you mean "` + s + `"?`
	} else {
		detail += `use one of "` + strings.Join(UserKeys(), `", "`) + `", or remove it`
	}
	return field.Forbidden(keyPath(key), detail)
}

// suggestKey returns the known key closest to key, or "" if none is close.
// Case is ignored: "AWS-Role" is a typo of "aws-role".
func suggestKey(key string) string {
	typed := strings.ToLower(strings.TrimPrefix(key, Prefix))
	best, bestDist := "", 0
	for _, k := range append(append(UserKeys(), SettingKeys()...), bookkeepingKeys...) {
		known := strings.TrimPrefix(k, Prefix)
		prefixed := typed != "" && (strings.HasPrefix(known, typed) || strings.HasPrefix(typed, known))
		d := EditDistance(typed, known)
		if (d <= maxSuggestDistance || prefixed) && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

// EditDistance is the optimal string alignment distance: Levenshtein plus
// adjacent transpositions, the commonest typo. The policy's field
// suggestions use it too.
func EditDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
