package azure

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
)

// op is one queued Ensure or, with remove, Remove.
type op struct {
	t      target
	remove bool
}

// commit runs one identity's batch in order, holding the identity's lock so
// that Keyless never writes two of its credentials at once. It reads the
// client ID at most once and, for two or more Ensures, lists the
// credentials once for all of them. After an error about the whole
// identity (gone, forbidden, throttled) the rest of the batch is not tried.
func (p *Provider) commit(ctx context.Context, key string, batch []*batch.Call[op]) {
	unlock, err := p.locks.Lock(ctx, key)
	if err != nil {
		for _, c := range batch {
			c.Err = err
		}
		return
	}
	defer unlock()

	ensures := 0
	for _, c := range batch {
		if !c.Req.remove {
			ensures++
		}
	}
	l := &listing{shared: ensures > 1}
	if all, ok := p.reads.Get(key); ok && onlyDriftChecks(batch) {
		l.all, l.listed = slices.Clone(all), true
	}
	defer func() {
		// What this batch knows now, for the next drift checks; a batch
		// that wrote without a listing leaves the last one in doubt.
		if l.listed && l.err == nil {
			p.reads.Put(key, slices.Clone(l.all))
		} else {
			p.reads.Forget(key)
		}
	}()
	var (
		clientID    string
		idErr, stop error // stop: the rest of the batch is not tried
	)
	if ensures > 0 {
		clientID, idErr = p.clientID(ctx, batch[0].Req.t)
	}
	if errors.Is(idErr, cloud.ErrNotFound) {
		stop = idErr
	}
	for _, c := range batch {
		t := c.Req.t
		switch {
		case stop != nil && c.Req.remove && errors.Is(stop, cloud.ErrNotFound):
			c.Result = cloud.Result{Action: cloud.Absent}
		case stop != nil:
			c.Err = fmt.Errorf("federated credential %s not tried after an earlier request for managed identity %s failed: %w", t.name, t, stop)
		case c.Req.remove:
			c.Result, c.Err = p.remove(ctx, t, l)
		case idErr != nil:
			c.Err = idErr
		default:
			if c.Result, c.Err = p.ensure(ctx, t, l); c.Err == nil {
				c.Result.ClientID = clientID
			}
		}
		if stop == nil && wholeIdentity(c.Err) {
			stop = c.Err
		}
	}
}

// onlyDriftChecks reports whether every call of batch ensures a credential
// an earlier call made or adopted. Only those are answered from a kept
// listing: a first sync must see the identity as it is now, to tell a
// credential someone else made (adopted) from none.
func onlyDriftChecks(batch []*batch.Call[op]) bool {
	for _, c := range batch {
		if c.Req.remove || c.Req.t.knownName() == "" {
			return false
		}
	}
	return true
}

// wholeIdentity reports an error that every request for the identity
// would get now.
func wholeIdentity(err error) bool {
	for _, kind := range []error{cloud.ErrNotFound, cloud.ErrPermission, cloud.ErrThrottled, cloud.ErrNotEnabled} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}
