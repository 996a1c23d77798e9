package llm

import (
	"errors"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// breaker is a Failover's circuit breaker, one per backend (per Failover),
// on sony/gobreaker's two-step breaker. It counts the outcomes of attempts
// over a rolling window and opens when the window holds at least
// minFailures failures and they are at least half of its attempts: a few
// failures among many answers, or failures spread over a long time, leave
// it closed, so one bad minute does not turn every shopper to the fallback,
// while a dead backend is still spared within a few turns. Only the
// backend's faults count: not a turn the caller cancelled, nor a request
// the backend rejected for what it held (400, 413, 422), which says nothing
// of its health. Open, every turn goes to the fallback for the cool-down;
// then one attempt probes the backend (half-open), closing the breaker on
// success and reopening it on failure.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// errNotCounted settles an attempt that tells nothing of the backend (the
// caller gave up).
var errNotCounted = errors.New("not the backend's fault")

// windowBuckets is how many buckets the rolling window is counted in.
const windowBuckets = 10

func newBreaker(minFailures int, window, coolDown time.Duration) breaker {
	minFailures = max(minFailures, 1)
	return breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "llm",
		MaxRequests:  1,
		Interval:     window,
		BucketPeriod: max(window/windowBuckets, time.Millisecond),
		Timeout:      coolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return int(c.TotalFailures) >= minFailures && 2*c.TotalFailures >= c.TotalFailures+c.TotalSuccesses
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotCounted) || !backendFault(err) },
	})}
}

// open reports whether the backend is being left alone.
func (b breaker) open() bool { return b.cb.State() == gobreaker.StateOpen }

// probing reports whether the next attempt would be the half-open probe.
func (b breaker) probing() bool { return b.cb.State() == gobreaker.StateHalfOpen }

// allow admits one attempt, returning the function that settles it (nil
// error: success), or false when the backend is left alone or its probe is
// under way.
func (b breaker) allow() (func(error), bool) {
	done, err := b.cb.Allow()
	return done, err == nil
}

// backendFault reports whether err tells of the backend's health: every
// failure but a request it rejected for what the request held.
func backendFault(err error) bool {
	var st interface{ HTTPStatus() int }
	if errors.As(err, &st) {
		switch st.HTTPStatus() {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			return false
		}
	}
	return true
}
