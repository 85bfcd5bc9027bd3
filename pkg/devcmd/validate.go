package devcmd

import (
	"fmt"
	"strings"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// validate returns every problem of cfg at once: those of `keyless serve`'s
// validation, and the settings that the local cluster (and, when simulate
// is set, the simulators) make themselves, compared with base, the defaults.
func validate(base config.Config, cfg *config.Config, simulate bool) error {
	var problems []string
	for _, e := range config.Validate(cfg) {
		problems = append(problems, e.Error())
	}
	if bad := devenv.Conflicts(base, *cfg, devenv.EnvironmentFlags); len(bad) > 0 {
		problems = append(problems, fmt.Sprintf("--%s: set by the local cluster; leave it out", strings.Join(bad, ", --")))
	}
	if simulate {
		if bad := devenv.Conflicts(base, *cfg, devenv.SimulatorFlags()); len(bad) > 0 {
			problems = append(problems, fmt.Sprintf("--%s: set by the cloud simulators; add --simulate-clouds=false to use other endpoints",
				strings.Join(bad, ", --")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
