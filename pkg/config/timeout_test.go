package config

import (
	"strings"
	"testing"
	"time"
)

func TestCloudTimeout(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{name: "default", want: DefaultCloudTimeout},
		{name: "flag", args: []string{"--cloud-timeout=45s"}, want: 45 * time.Second},
		{name: "config file", args: []string{configFile(t, "cloud-timeout: 2m\n")}, want: 2 * time.Minute},
		{name: "flag over config file", args: []string{configFile(t, "cloud-timeout: 2m\n"), "--cloud-timeout=5s"}, want: 5 * time.Second},
		{name: "smallest", args: []string{"--cloud-timeout=1ns"}, want: time.Nanosecond},
		{name: "largest", args: []string{"--cloud-timeout=10m"}, want: MaxCloudTimeout},
		{name: "zero", args: []string{"--cloud-timeout=0s"}, want: 0, wantErr: true},
		{name: "negative", args: []string{"--cloud-timeout=-1s"}, want: -time.Second, wantErr: true},
		{name: "above 10m", args: []string{"--cloud-timeout=10m0.001s"}, want: MaxCloudTimeout + time.Millisecond, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.CloudTimeout != tt.want {
				t.Errorf("CloudTimeout = %v, want %v", c.CloudTimeout, tt.want)
			}
			errs := Validate(&c)
			if !tt.wantErr {
				if len(errs) > 0 {
					t.Errorf("Validate =%s, want no error", errsText(errs))
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != "--cloud-timeout" ||
				!strings.Contains(errs[0].Error(), "must be more than 0 and at most 10m") {
				t.Errorf("Validate =%s, want one error on --cloud-timeout", errsText(errs))
			}
		})
	}
	if DefaultCloudTimeout != 30*time.Second || Default().CloudTimeout != DefaultCloudTimeout {
		t.Errorf("default %v (Default() %v), want 30s", DefaultCloudTimeout, Default().CloudTimeout)
	}
}
