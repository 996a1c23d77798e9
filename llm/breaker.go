package llm

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// breaker is a Failover's circuit breaker, one per backend (per Failover).
// It counts the outcomes of attempts over a sliding window and opens when
// the window holds at least minFailures failures and they are at least half
// of its attempts: a few failures among many answers, or failures spread
// over a long time, leave it closed, so one bad minute does not turn every
// shopper to the fallback for long, and a dead backend is still spared
// within a few turns. Only the backend's faults count: not a turn the
// caller cancelled, nor a request the backend rejected as malformed or too
// long (400, 413, 422), which says nothing about its health. Open, every
// turn goes to the fallback for the cool-down; then one turn probes the
// backend (half-open), closing the breaker on success and reopening it on
// failure.
type breaker struct {
	minFailures int
	window      time.Duration
	coolDown    time.Duration
	now         func() time.Time

	mu        sync.Mutex
	outcomes  []outcome // within the window, oldest first, at most maxOutcomes
	openUntil time.Time // open until then; zero when closed
	probing   bool      // a half-open probe is under way
}

type outcome struct {
	at     time.Time
	failed bool
}

// maxOutcomes bounds the outcomes kept; past it the oldest are dropped,
// which only makes the window shorter under heavy traffic.
const maxOutcomes = 256

// open reports whether the backend is being left alone.
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && b.now().Before(b.openUntil)
}

// admit decides whether this turn may call the backend, and whether it is
// the half-open probe.
func (b *breaker) admit() (admitted, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true, false
	}
	if b.now().Before(b.openUntil) || b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// settle records an attempt's outcome (err nil: success). An error that
// is not the backend's fault counts as nothing, but still ends a probe.
func (b *breaker) settle(probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	if err != nil && !backendFault(err) {
		return
	}
	now := b.now()
	if err == nil {
		if probe {
			b.outcomes = b.outcomes[:0] // a recovered backend starts afresh
		}
		b.openUntil = time.Time{}
		b.record(now, false)
		return
	}
	b.record(now, true)
	failed, all := b.count()
	if probe || (failed >= b.minFailures && 2*failed >= all) {
		b.openUntil = now.Add(b.coolDown)
	}
}

// release ends a probe that settled nothing.
func (b *breaker) release(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// record adds an outcome and drops those that left the window.
func (b *breaker) record(at time.Time, failed bool) {
	cut := 0
	for cut < len(b.outcomes) && (at.Sub(b.outcomes[cut].at) > b.window || len(b.outcomes)-cut >= maxOutcomes) {
		cut++
	}
	b.outcomes = append(b.outcomes[:0], b.outcomes[cut:]...)
	b.outcomes = append(b.outcomes, outcome{at: at, failed: failed})
}

func (b *breaker) count() (failed, all int) {
	for _, o := range b.outcomes {
		if o.failed {
			failed++
		}
	}
	return failed, len(b.outcomes)
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
