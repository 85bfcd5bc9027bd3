package app

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// noLimit is what cgroup v1 reports without a limit (a page-aligned MaxInt64).
const noLimit = int64(1) << 62

// memoryLimit returns the soft memory limit for the Go runtime: 90% of the
// container's limit, so that the garbage collector works harder before the
// kernel kills the pod (the caches grow with the cluster, and every
// replica serves the webhook, which fails closed). False when GOMEMLIMIT
// is set, or no limit is found.
func memoryLimit(getenv func(string) string, read func(string) ([]byte, error)) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	for _, f := range cgroupMemoryFiles {
		raw, err := read(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(raw))
		n, err := strconv.ParseInt(s, 10, 64)
		if s == "max" || err != nil || n <= 0 || n >= noLimit {
			return 0, false
		}
		return n / 10 * 9, true
	}
	return 0, false
}

// setMemoryLimit applies memoryLimit and returns it (0: none set).
func setMemoryLimit() int64 {
	n, ok := memoryLimit(os.Getenv, os.ReadFile)
	if !ok {
		return 0
	}
	debug.SetMemoryLimit(n)
	return n
}
