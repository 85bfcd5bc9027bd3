package aws

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// limitRequests makes every attempt of every EKS request wait for a token
// of l. It sits in the Finalize step right after the retry middleware, so
// each retry waits too, and it belongs to the EKS client only: credential
// requests (STS, IMDS, the Pod Identity agent) are not counted.
func limitRequests(l *rate.Limiter) func(*middleware.Stack) error {
	wait := middleware.FinalizeMiddlewareFunc("KeylessRequestRateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := l.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("waiting for the EKS request rate limit: %w", err)
			}
			return next.HandleFinalize(ctx, in)
		})
	return func(s *middleware.Stack) error {
		return s.Finalize.Insert(wait, "Retry", middleware.After)
	}
}
