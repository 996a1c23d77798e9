package llm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/kefuhq/kefu"
)

// Generator is what Resilient wraps: a backend that streams an answer as
// text pieces, a non-nil error ending the stream (the method set of
// rag.Generator).
type Generator interface {
	Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error]
}

// Defaults of Resilient's options.
const (
	DefaultFirstTokenTimeout = 15 * time.Second
	DefaultOverallTimeout    = 60 * time.Second
	DefaultMaxRetryWait      = 5 * time.Second
	DefaultBreakerFailures   = 5
	DefaultBreakerCoolDown   = 30 * time.Second
	DefaultBreakerWindow     = 60 * time.Second
	// retryBackoff is the wait before the retry when the failure named
	// none; jittered by up to half again.
	retryBackoff = 250 * time.Millisecond
)

// CutShortNotes are the lines put between the part of an answer the model
// wrote before it failed and the fallback's answer, by locale; other
// locales get the English one.
var CutShortNotes = map[string]string{
	"en": "(The assistant was interrupted; here is what our documents say. Write \"human\" any time to reach a person.)",
	"zh": "（智能助手回答中断，以下是相关资料原文；如需人工客服，随时回复“转人工”。）",
}

// FallbackNotes are the lines put before a fallback answer, by locale;
// other locales get the English one.
var FallbackNotes = map[string]string{
	"en": "(The assistant is busy; here is what our documents say. Write \"human\" any time to reach a person.)",
	"zh": "（智能助手暂时繁忙，以下是相关资料原文；如需人工客服，随时回复“转人工”。）",
}

// ResilientOption tunes Resilient.
type ResilientOption func(*Failover)

// WithFirstTokenTimeout bounds the wait for an attempt's first piece
// (default DefaultFirstTokenTimeout).
func WithFirstTokenTimeout(d time.Duration) ResilientOption {
	return func(f *Failover) { f.firstToken = d }
}

// WithOverallTimeout bounds a whole answer from the primary, retry
// included (default DefaultOverallTimeout).
func WithOverallTimeout(d time.Duration) ResilientOption {
	return func(f *Failover) { f.overall = d }
}

// WithMaxRetryWait caps how long the retry waits for a Retry-After; a
// backend that asks for longer is not retried (default
// DefaultMaxRetryWait).
func WithMaxRetryWait(d time.Duration) ResilientOption {
	return func(f *Failover) { f.maxRetryWait = d }
}

// WithBreaker sets the circuit breaker: once the window (see
// WithBreakerWindow) holds at least failures failed attempts, and they are
// at least half of its attempts, the primary is left alone for coolDown
// (defaults DefaultBreakerFailures, DefaultBreakerCoolDown).
func WithBreaker(failures int, coolDown time.Duration) ResilientOption {
	return func(f *Failover) { f.minFailures, f.coolDown = failures, coolDown }
}

// WithBreakerWindow sets how far back the breaker counts attempts
// (default DefaultBreakerWindow).
func WithBreakerWindow(d time.Duration) ResilientOption {
	return func(f *Failover) { f.window = d }
}

// Failover is a Generator that answers with a primary backend (a language
// model) and falls back to another (the extractive answerer) when the
// primary fails, before its first piece of text or after it. It is safe for
// concurrent use.
//
// One turn: an attempt must yield its first piece within the first-token
// timeout. An attempt that fails before that, with an error that may pass
// (a rate limit, a server error, a broken stream), is retried once, after
// the Retry-After the error carries (when it is within the cap; a longer
// one is not waited for) or a short backoff; a first-token timeout is not
// retried, as the shopper has waited long enough. When no attempt
// produced text, the fallback answers, its answer preceded by a short
// note in the shopper's language (FallbackNotes). Once the primary has
// yielded text, a failure (or the overall timeout) is not retried: the text
// so far stays the shopper's, and the fallback's answer follows it after a
// note saying the answer was interrupted (CutShortNotes), so the shopper
// has a whole answer whenever the fallback can give one.
//
// A circuit breaker, one per Failover and so per backend, spares a dead
// backend (see breaker): it counts failed attempts over a rolling window
// (WithBreakerWindow), opens when
// they are many and at least half of the window's attempts, and for the
// cool-down every turn goes straight to the fallback; then one turn probes
// the primary (half-open), closing the breaker on success and reopening it
// on failure. A turn the caller cancels counts neither way, nor does a
// request the backend rejects for its content (400, 413, 422).
type Failover struct {
	primary, fallback Generator

	firstToken, overall, maxRetryWait time.Duration
	minFailures                       int
	window, coolDown                  time.Duration

	sleep func(ctx context.Context, d time.Duration) error
	brk   breaker
}

// Resilient wraps primary with a retry, a circuit breaker, timeouts and
// fallback, as Failover describes.
func Resilient(primary, fallback Generator, opts ...ResilientOption) *Failover {
	f := &Failover{
		primary: primary, fallback: fallback,
		firstToken: DefaultFirstTokenTimeout, overall: DefaultOverallTimeout, maxRetryWait: DefaultMaxRetryWait,
		minFailures: DefaultBreakerFailures, coolDown: DefaultBreakerCoolDown, window: DefaultBreakerWindow,
		sleep: sleepCtx,
	}
	for _, o := range opts {
		o(f)
	}
	f.brk = newBreaker(f.minFailures, f.window, f.coolDown)
	return f
}

// BreakerOpen reports whether the primary is being left alone.
func (f *Failover) BreakerOpen() bool { return f.brk.open() }

// Errors that end an attempt, as context causes.
var (
	errFirstToken = kefu.Errorf(kefu.EUnavailable, "no answer began within the first-token timeout")
	errOverall    = kefu.Errorf(kefu.EUnavailable, "the answer took longer than the overall timeout")
	errEmpty      = kefu.Errorf(kefu.EUnavailable, "the model returned an empty answer")
)

// Generate answers req; see Failover.
func (f *Failover) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if f.brk.open() {
			f.fallBack(ctx, req, yield)
			return
		}
		octx, cancel := context.WithTimeoutCause(ctx, f.overall, errOverall)
		defer cancel()
		attempts := 2
		if f.brk.probing() {
			attempts = 1 // a probe is not retried
		}
		var last error
		for attempt := 1; attempt <= attempts; attempt++ {
			if attempt > 1 {
				wait, ok := f.retryWait(octx, last)
				if !ok || f.brk.open() {
					break
				}
				if err := f.sleep(octx, wait); err != nil {
					break
				}
			}
			settle, ok := f.brk.allow()
			if !ok {
				break // left alone, or another turn is probing
			}
			started, stop, err := f.attempt(octx, req, yield)
			switch {
			case stop, started && err == nil:
				settle(nil)
				return
			case ctx.Err() != nil:
				// The caller gave up: not the backend's fault.
				settle(errNotCounted)
				yield("", ctx.Err())
				return
			case started:
				// What was said stays; the fallback finishes the answer.
				settle(err)
				f.finish(ctx, req, err, yield)
				return
			}
			settle(err)
			last = err
			if errors.Is(err, errFirstToken) {
				break
			}
		}
		f.fallBack(ctx, req, yield)
	}
}

// attempt runs the primary once, passing its pieces on. It reports
// whether any piece was passed on, whether the reader stopped, and the
// attempt's error (nil when the answer completed).
func (f *Failover) attempt(ctx context.Context, req kefu.GenerateRequest, yield func(string, error) bool) (started, stop bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(f.firstToken, func() { cancel(errFirstToken) })
	defer timer.Stop()
	for piece, perr := range f.primary.Generate(actx, req) {
		if perr != nil {
			err = perr
			break
		}
		if piece == "" {
			continue
		}
		if !started && !timer.Stop() {
			break // the piece came as the timer fired: too late
		}
		started = true
		if !yield(piece, nil) {
			return true, true, nil
		}
	}
	if cause := context.Cause(actx); actx.Err() != nil && (cause == errFirstToken || cause == errOverall) {
		err = cause // a timeout of ours is the reason, whatever the backend made of it
	}
	if !started && err == nil {
		err = errEmpty
	}
	return started, false, err
}

// retryWait is how long to wait before retrying after err, and whether to
// retry at all: not when the error will not pass, nor when the backend
// asks for longer than the cap or than the time left.
func (f *Failover) retryWait(ctx context.Context, err error) (time.Duration, bool) {
	var tmp interface{ Transient() bool }
	if errors.As(err, &tmp) && !tmp.Transient() {
		return 0, false
	}
	wait := retryBackoff + time.Duration(rand.Int64N(int64(retryBackoff/2)))
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		wait = ra.RetryAfter()
		if wait > f.maxRetryWait {
			return 0, false
		}
	}
	if dl, ok := ctx.Deadline(); ok && wait >= time.Until(dl) {
		return 0, false
	}
	return wait, true
}

// fallBack answers with the fallback, after the note.
func (f *Failover) fallBack(ctx context.Context, req kefu.GenerateRequest, yield func(string, error) bool) {
	if err := f.handOver(ctx, req, localizedNote(FallbackNotes, req.Locale)+"\n", yield); err != nil {
		yield("", err)
	}
}

// finish completes an answer the primary started and failed to end (with
// cause): the fallback's answer follows a note saying so. When the
// fallback fails too, the stream ends with cause.
func (f *Failover) finish(ctx context.Context, req kefu.GenerateRequest, cause error, yield func(string, error) bool) {
	if err := f.handOver(ctx, req, "\n\n"+localizedNote(CutShortNotes, req.Locale)+"\n", yield); err != nil {
		if ctx.Err() != nil {
			yield("", err)
			return
		}
		yield("", fmt.Errorf("answer cut short: %w (the fallback failed too: %v)", cause, err))
	}
}

// handOver streams the fallback's answer after note, and returns the
// fallback's error (nil when it answered or the reader stopped).
func (f *Failover) handOver(ctx context.Context, req kefu.GenerateRequest, note string, yield func(string, error) bool) error {
	if req.FellBack != nil {
		req.FellBack(nameOf(f.fallback))
	}
	if !yield(note, nil) {
		return nil
	}
	for piece, err := range f.fallback.Generate(ctx, req) {
		if err != nil {
			return err
		}
		if !yield(piece, nil) {
			return nil
		}
	}
	return nil
}

func localizedNote(notes map[string]string, locale string) string {
	if n, ok := notes[locale]; ok {
		return n
	}
	return notes["en"]
}

// nameOf is a generator's name, as reported with answers.
func nameOf(g Generator) string {
	if n, ok := g.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "fallback"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
