package orders

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
)

// breaker spares a failing order service, as the model backends' breaker
// does (llm): over a rolling minute, at least breakerMinFailures failures
// that are at least half of the calls open it for breakerCoolDown, during
// which calls fail at once (and answers fall back to the ingested copy);
// then one call probes the service. A call the caller abandoned does not
// count.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

const (
	breakerMinFailures = 5
	breakerWindow      = time.Minute
	breakerCoolDown    = 30 * time.Second
)

// errNotCounted settles a call that tells nothing of the service.
var errNotCounted = errors.New("not the service's fault")

// errResting is the cause of a call refused while the breaker is open.
var errResting = errors.New("left alone after repeated failures (circuit open)")

func newBreaker() breaker {
	return breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "orders",
		MaxRequests:  1,
		Interval:     breakerWindow,
		BucketPeriod: breakerWindow / 10,
		Timeout:      breakerCoolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.TotalFailures >= breakerMinFailures && 2*c.TotalFailures >= c.TotalFailures+c.TotalSuccesses
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotCounted) },
	})}
}

// allow admits one call, returning the function that settles it, or false
// when the service is being left alone.
func (b breaker) allow() (func(error), bool) {
	done, err := b.cb.Allow()
	return done, err == nil
}
