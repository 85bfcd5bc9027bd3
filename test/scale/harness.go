package main

import (
	"errors"
	"io"

	th "github.com/keyless-dev/keyless/test/harness"
)

// harness adds the scale measurements to the shared harness.
type harness struct{ *th.Harness }

type proc = th.Proc

func startHarness(o th.Options) (*harness, error) {
	o.Name = "scale"
	h, err := th.Start(o)
	if err != nil {
		return nil, err
	}
	return &harness{h}, nil
}

// serve starts `keyless serve` with the binary bin (empty: the harness's);
// extra flags come last and so win.
func (h *harness) serve(name, bin string, webhookPort int, logOut io.Writer, extra ...string) (*proc, error) {
	return h.Serve(name, bin, webhookPort, logOut, nil, extra...)
}

var errNotReady = errors.New("not every connection became Ready")
