// Package remote is what kefu's adapters for remote model services (chat
// and embedding endpoints) share: an HTTP transport that records each
// call's status and Retry-After and checks a streamed body as it is read,
// and the error a failed call becomes, which names the service and never
// the API key.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error is a failed call to a remote model service. Its text names the
// service and the reason; it never holds the API key (Message is scrubbed
// of it) nor a password in the URL.
type Error struct {
	Service string        // what was called, e.g. `openai chat "gpt-4o-mini" at https://api.openai.com/v1`
	Status  int           // HTTP status of the reply, 0 when none came
	Wait    time.Duration // the reply's Retry-After, 0 when it had none
	Message string        // why, scrubbed of secrets
	Err     error         // the cause when it is safe to keep (ctx errors, stream faults), else nil
	// Final marks a reply that asking again will not change (a vector of
	// the wrong size, say), whatever its status.
	Final bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Wait > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.Wait)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the HTTP status of the reply, 0 when none came.
func (e *Error) HTTPStatus() int { return e.Status }

// RetryAfter is how long the service asked to be left alone (its
// Retry-After), 0 when it did not say.
func (e *Error) RetryAfter() time.Duration { return e.Wait }

// Transient reports whether trying again later may succeed: a rate limit,
// a server error, a timeout, a dropped connection or a broken stream. A
// refused key, an unknown model or a rejected request are not transient.
func (e *Error) Transient() bool {
	switch {
	case e.Final:
		return false
	case e.Status == 0:
		return !errors.Is(e.Err, context.Canceled)
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests, e.Status >= 500:
		return true
	}
	return false
}

// Call is what the transport learnt about one call. The adapter puts a
// fresh Call in the request's context with WithCall and reads it once the
// client library returns, since libraries tend to flatten HTTP failures
// into strings.
type Call struct {
	Status     int
	RetryAfter time.Duration

	mu        sync.Mutex
	streamErr error
}

// StreamErr is the first fault the body check found (a malformed chunk, an
// error event, a stream cut short), nil when none. The client library may
// still be reading when it returns, hence the lock.
func (c *Call) StreamErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamErr
}

// StreamFault records a fault an adapter found in the stream it reads
// itself; the first one recorded is kept.
func (c *Call) StreamFault(err error) { c.setStreamErr(err) }

func (c *Call) setStreamErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streamErr == nil {
		c.streamErr = err
	}
}

type callKey struct{}

// WithCall returns ctx carrying a new Call for the transport to fill.
func WithCall(ctx context.Context) (context.Context, *Call) {
	c := &Call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// BodyCheck wraps a successful reply's body so that reading it fails on a
// fault in the stream; it records the fault in the call.
type BodyCheck func(body io.ReadCloser, call *Call) io.ReadCloser

// Transport records each reply's status and Retry-After in the Call of the
// request's context and, for a 2xx reply, passes its body through Check.
type Transport struct {
	Base  http.RoundTripper // http.DefaultTransport when nil
	Check BodyCheck         // nil: bodies pass unchecked
	Now   func() time.Time  // for Retry-After dates; time.Now when nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	call, _ := req.Context().Value(callKey{}).(*Call)
	if call == nil {
		return resp, nil
	}
	call.Status = resp.StatusCode
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	call.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now())
	if t.Check != nil && resp.StatusCode/100 == 2 {
		resp.Body = t.Check(resp.Body, call)
	}
	return resp, nil
}

// ParseRetryAfter reads a Retry-After value: seconds, or an HTTP date
// (measured from now). Anything else, or a time in the past, gives 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 24*3600 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Scrub removes every secret from s.
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// RedactURL shows a URL without a password in it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// Failure turns what a client library returned for a call into an *Error.
// A done ctx wins (its error is kept as the cause, so callers can tell a
// timeout from a failure of the service), then a stream fault, then the
// status the transport saw; the library's text is kept as the message,
// scrubbed of secrets.
func Failure(ctx context.Context, service string, call *Call, err error, secrets ...string) *Error {
	e := &Error{Service: service}
	if call != nil {
		e.Status, e.Wait = call.Status, call.RetryAfter
		if e.Status/100 == 2 {
			e.Status = 0 // the reply started well and broke later
		}
	}
	switch {
	case ctx.Err() != nil:
		e.Err = ctx.Err()
		e.Message = context.Cause(ctx).Error()
	case call != nil && call.StreamErr() != nil:
		e.Err = call.StreamErr()
		e.Message = Scrub(e.Err.Error(), secrets...)
	case err != nil:
		e.Message = Scrub(err.Error(), secrets...)
	}
	return e
}
