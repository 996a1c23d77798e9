package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kefuhq/kefu"
)

// Defaults of the embedding calls.
const (
	DefaultConcurrency = 2
	DefaultMaxAttempts = 4
	DefaultRetryDelay  = 500 * time.Millisecond

	// maxRetryDelay caps the pause between two attempts.
	maxRetryDelay = 30 * time.Second
)

// Transient reports whether an embedding error may go away on its own, so
// that the call is worth repeating: an error with code kefu.EUnavailable,
// one that has a Transient() bool method returning true (any error type of
// an embedder can), a timeout (a Timeout() bool method, as net.Error has),
// or a deadline of the embedder's own.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var tr interface{ Transient() bool }
	if errors.As(err, &tr) {
		return tr.Transient()
	}
	var e *kefu.Error
	if errors.As(err, &e) {
		return e.Code == kefu.EUnavailable
	}
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// embed embeds one batch, retrying transient failures after a pause that
// doubles from Options.RetryDelay, drawn from its upper half so that
// concurrent batches do not retry in step. It gives up at once when ctx
// ends, and after Options.MaxAttempts calls.
func (in *Ingester) embed(ctx context.Context, texts []string) ([][]float32, error) {
	attempts := in.maxAttempts()
	pause := in.retryDelay()
	for attempt := 1; ; attempt++ {
		vecs, err := in.emb.Embed(ctx, texts)
		if err == nil {
			if len(vecs) != len(texts) {
				return nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
			}
			return vecs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !Transient(err) {
			return nil, err
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		t := time.NewTimer(pause/2 + rand.N(pause/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(pause*2, maxRetryDelay)
	}
}

func (in *Ingester) concurrency() int {
	if in.opts.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return in.opts.Concurrency
}

func (in *Ingester) maxAttempts() int {
	if in.opts.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return in.opts.MaxAttempts
}

func (in *Ingester) retryDelay() time.Duration {
	if in.opts.RetryDelay <= 0 {
		return DefaultRetryDelay
	}
	return in.opts.RetryDelay
}
