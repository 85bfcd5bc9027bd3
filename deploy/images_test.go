package deploy

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var requireDigests = flag.Bool("require-digests", false,
	"fail unless every image is pinned by digest (`make check-digests`, before a release)")

var pinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// images returns the image references that a build and an install pull:
// the Dockerfile's FROM lines (not its own stages) and install.yaml's
// containers, each with where it is written.
func images(t *testing.T) map[string]string {
	t.Helper()
	refs := map[string]string{}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for i, line := range strings.Split(string(dockerfile), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		args := slices.DeleteFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "--") })
		if !slices.Contains(stages, args[0]) && args[0] != "scratch" {
			refs[args[0]] = "Dockerfile:" + strconv.Itoa(i+1)
		}
		if len(args) == 3 && strings.EqualFold(args[1], "AS") {
			stages = append(stages, args[2])
		}
	}
	for _, u := range documents(t, "install.yaml", Install) {
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			image, _, _ := unstructured.NestedString(c.(map[string]any), "image")
			refs[image] = "install.yaml " + u.GetKind() + "/" + u.GetName()
		}
	}
	return refs
}

// TestImagesPinnedByDigest checks that every digest written is well formed
// and, with -require-digests, that every image has one: a tag can be moved
// to other content, a digest cannot.
func TestImagesPinnedByDigest(t *testing.T) {
	var unpinned []string
	for ref, where := range images(t) {
		switch {
		case strings.Contains(ref, "@") && !pinned.MatchString(ref):
			t.Errorf("%s: %q: a digest is written @sha256: and 64 lower-case hex digits", where, ref)
		case strings.Contains(ref, "@"):
		case *requireDigests:
			t.Errorf("%s: %s is not pinned by digest", where, ref)
		default:
			unpinned = append(unpinned, where+": "+ref)
		}
	}
	if len(unpinned) > 0 {
		slices.Sort(unpinned)
		t.Logf("not pinned by digest yet (`make check-digests` fails on them):\n%s", strings.Join(unpinned, "\n"))
	}
}
