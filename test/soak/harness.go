package main

import (
	"errors"
	"io"

	th "github.com/keyless-dev/keyless/test/harness"
)

// harness adds the soak's own checks to the shared harness.
type harness struct{ *th.Harness }

type proc = th.Proc

func startHarness(o th.Options) (*harness, error) {
	o.Name = "soak"
	h, err := th.Start(o)
	if err != nil {
		return nil, err
	}
	return &harness{h}, nil
}

// serve starts `keyless serve`; flags named in drop are left out.
func (h *harness) serve(name string, webhookPort int, logOut io.Writer, drop ...string) (*proc, error) {
	return h.Serve(name, "", webhookPort, logOut, drop)
}

var errMismatch = errors.New("the cluster and the clouds disagree")
