package app

import (
	"errors"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	tests := []struct {
		name   string
		env    string
		files  map[string]string
		want   int64
		wantOK bool
	}{
		{"cgroup v2 limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "268435456\n"}, 241591905, true},
		{"cgroup v2 without a limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1 limit", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912"}, 483183819, true},
		{"cgroup v1 without a limit", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
		{"GOMEMLIMIT set by the operator wins", "200MiB", map[string]string{"/sys/fs/cgroup/memory.max": "268435456"}, 0, false},
		{"no cgroup files", "", nil, 0, false},
		{"garbage", "", map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := memoryLimit(func(string) string { return tt.env }, files(tt.files))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("memoryLimit = %d, %t; want %d, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
