package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
)

// Action kinds the actions endpoint receives.
const (
	KindCancel          = "cancel"
	KindChangeAddress   = "change_address"
	KindReturn          = "return"
	KindExchange        = "exchange"
	KindPriceProtection = "price_protection"
)

// Kinds lists every action kind.
var Kinds = []string{KindCancel, KindChangeAddress, KindReturn, KindExchange, KindPriceProtection}

// Action is one after-sales action for the shop's order system to take.
// ID is unique per action and is sent as the Idempotency-Key: the order
// system must take an action once however often the same key arrives, and
// answer a repeated key with the first outcome.
type Action struct {
	ID         string            `json:"action_id"`
	Kind       string            `json:"kind"`
	OrderID    string            `json:"order_id"`
	CustomerID string            `json:"customer_id"`
	Details    map[string]string `json:"details,omitempty"`
}

// Outcome is what the order system said of an action.
type Outcome struct {
	// Done is true when the action was taken; false when the system
	// refused it (Message says why).
	Done      bool
	Reference string // the system's reference (a return number), if any
	Message   string // the system's words, one line, bounded
}

// maxReplyText bounds the message and reference kept from a reply.
const maxReplyText = 300

// ErrNoActions is returned by Do when no actions endpoint is configured.
var ErrNoActions = kefu.Errorf(kefu.EUnavailable, "the shop's order system takes no actions from kefu")

// Do posts a to the actions endpoint:
//
//	POST {actions endpoint}
//	Idempotency-Key: {a.ID}
//	Content-Type: application/json
//	{"action_id", "kind", "order_id", "customer_id", "details"}
//
// A 2xx reply is the outcome: a JSON object whose "status" is "done" (or
// "accepted", "ok"; an empty body counts as done) or "rejected"/"failed",
// with an optional "reference" and "message". A 4xx reply is a refusal
// (Done false, the reply's "message" or its status as Message). A timeout,
// a broken connection or a 5xx is tried again, up to
// Config.ActionAttempts times in all, with the same Idempotency-Key, so
// that an action the system took before the reply was lost is not taken
// twice; after the last attempt Do fails with code kefu.EUnavailable and
// the outcome is unknown.
func (c *Client) Do(ctx context.Context, a Action) (Outcome, error) {
	if c.actions == nil {
		return Outcome{}, ErrNoActions
	}
	if a.ID == "" || a.Kind == "" || a.OrderID == "" || a.CustomerID == "" {
		return Outcome{}, kefu.Errorf(kefu.EInvalid, "an action needs its id, kind, order and customer")
	}
	body, err := json.Marshal(a)
	if err != nil {
		return Outcome{}, kefu.WrapError(kefu.EInvalid, "the action cannot be encoded", err)
	}
	var last error
	for attempt := 0; attempt < c.cfg.ActionAttempts; attempt++ {
		if attempt > 0 {
			wait := time.Duration(200<<(attempt-1)) * time.Millisecond
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return Outcome{}, c.fail(fmt.Errorf("action %s: %w (after %v)", a.ID, ctx.Err(), last))
			case <-t.C:
			}
		}
		out, retry, err := c.post(ctx, a, body)
		if err == nil {
			return out, nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return Outcome{}, c.fail(fmt.Errorf("action %s: %w", a.ID, last))
}

// post makes one attempt; retry says whether another may succeed.
func (c *Client) post(ctx context.Context, a Action, body []byte) (Outcome, bool, error) {
	done, ok := c.breaker.allow()
	if !ok {
		return Outcome{}, false, errResting
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.actions.String(), bytes.NewReader(body))
	if err != nil {
		done(errNotCounted)
		return Outcome{}, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", a.ID)
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			done(errNotCounted)
			return Outcome{}, false, ctx.Err()
		}
		done(err)
		if actx.Err() != nil {
			return Outcome{}, true, errors.New("timed out")
		}
		return Outcome{}, true, errors.New(c.scrub(err.Error()))
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case resp.StatusCode >= 500:
		done(fmt.Errorf("status %d", resp.StatusCode))
		return Outcome{}, true, fmt.Errorf("status %d", resp.StatusCode)
	case rerr != nil:
		done(rerr)
		return Outcome{}, true, fmt.Errorf("read reply: %s", c.scrub(rerr.Error()))
	case len(raw) > maxBody:
		done(nil)
		return Outcome{}, false, fmt.Errorf("reply larger than %d bytes", maxBody)
	}
	done(nil)
	out, err := DecodeOutcome(resp.StatusCode, raw)
	if err != nil {
		return Outcome{}, false, err
	}
	return out, false, nil
}

// DecodeOutcome reads the reply to an action of HTTP status status (below
// 500). It fails on a 2xx body that is neither empty nor a JSON object, or
// whose status is unknown.
func DecodeOutcome(status int, body []byte) (Outcome, error) {
	var rec struct {
		Status    any `json:"status"`
		Reference any `json:"reference"`
		Message   any `json:"message"`
	}
	trimmed := bytes.TrimSpace(body)
	parsed := len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &rec) == nil
	out := Outcome{Reference: clipLine(scalar(rec.Reference)), Message: clipLine(scalar(rec.Message))}
	if status < 200 || status >= 300 {
		if out.Message == "" {
			out.Message = fmt.Sprintf("the order system refused it (status %d)", status)
		}
		return out, nil
	}
	if len(trimmed) == 0 {
		out.Done = true
		return out, nil
	}
	if !parsed {
		return Outcome{}, errors.New("reply is not a JSON object")
	}
	switch strings.ToLower(scalar(rec.Status)) {
	case "", "done", "ok", "accepted", "success", "succeeded", "created":
		out.Done = true
	case "rejected", "refused", "failed", "denied", "ineligible":
		if out.Message == "" {
			out.Message = "the order system refused it"
		}
	default:
		return Outcome{}, fmt.Errorf("reply status %q is not one of done, accepted, rejected", clipLine(scalar(rec.Status)))
	}
	return out, nil
}

func clipLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxReplyText {
		return s
	}
	cut := maxReplyText
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
