package escalate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/store"
)

// Webhook event types.
const (
	EventTicketCreated = "ticket.created"
	EventTicketUpdated = "ticket.updated"
)

// Event is the JSON body of a webhook call: one change of one ticket. ID
// is unique per event and repeats when a delivery is retried, so that a
// receiver can drop repeats; events may arrive out of order after a retry
// (order them by ticket.updated_at). The ticket carries a redacted copy of
// its packet.
type Event struct {
	ID         string       `json:"id"`
	Type       string       `json:"type"`
	Change     string       `json:"change"`
	OccurredAt time.Time    `json:"occurred_at"`
	Ticket     store.Ticket `json:"ticket"`
}

// Webhook headers. The signature is "sha256=" and the hex HMAC-SHA256,
// keyed with the webhook secret, of the timestamp (Unix seconds), a ".",
// and the body.
const (
	HeaderTimestamp = "X-Kefu-Timestamp"
	HeaderSignature = "X-Kefu-Signature"
	HeaderEventID   = "X-Kefu-Event-Id"
)

// Sign returns the X-Kefu-Signature value of a body sent at timestamp.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook call as a receiver should: the signature matches
// (compared in constant time) and the timestamp is within tolerance of
// now, so that a captured call cannot be replayed later.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q is not Unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook timestamp is %s away from now", d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return errors.New("webhook signature does not match")
	}
	return nil
}

// Outbox is the store's outbox as the worker uses it.
type Outbox interface {
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEvent, error)
	OutboxDelivered(ctx context.Context, id string) error
	OutboxFailed(ctx context.Context, id string, next time.Time, why string) error
}

var _ Outbox = (*store.Bolt)(nil)

// WebhookConfig says where and how events are delivered. The zero value of
// each duration means its default.
type WebhookConfig struct {
	URL    string // http or https
	Secret []byte // 16 bytes or more
	// Timeout bounds one delivery attempt; default 10s.
	Timeout time.Duration
	// MinBackoff is the wait before the first retry, doubled for each
	// failed attempt up to MaxBackoff; defaults 2s and 10m. A failing
	// event is retried forever, at most MaxBackoff apart.
	MinBackoff, MaxBackoff time.Duration
	// PollInterval is how often the worker looks for due events when
	// nothing wakes it; default 1s.
	PollInterval time.Duration
	// Client sends the calls; default a client that follows no redirects.
	Client *http.Client
}

// Webhook defaults.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultMinBackoff     = 2 * time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultPollInterval   = time.Second
	MinWebhookSecretLen   = 16
	// batchSize is how many due events one look at the outbox takes.
	batchSize = 32
	// maxResponseBytes of a receiver's answer are read (and dropped).
	maxResponseBytes = 64 << 10
)

// Worker delivers the outbox's events to the webhook, oldest first, one at
// a time, and removes each once the receiver answers 2xx. A failed event
// is retried with exponential backoff; the events of other conversations
// are not held up by it, its own conversation's later ones in the batch are.
// It runs apart from chat turns: a receiver that is down or slow delays
// only the events.
type Worker struct {
	outbox Outbox
	cfg    WebhookConfig
	log    *slog.Logger
	wake   chan struct{}
	now    func() time.Time
}

// NewWorker checks cfg and returns a worker over the outbox. log may be
// nil.
func NewWorker(o Outbox, cfg WebhookConfig, log *slog.Logger) (*Worker, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("escalation.webhook_url %q is not an http or https URL", redactURL(cfg.URL))
	}
	if len(cfg.Secret) < MinWebhookSecretLen {
		return nil, fmt.Errorf("the webhook secret (KEFU_WEBHOOK_SECRET) must be %d bytes or more", MinWebhookSecretLen)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{outbox: o, cfg: cfg, log: log, wake: make(chan struct{}, 1), now: time.Now}, nil
}

// Notify wakes the worker to look at the outbox now. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, then returns nil. An attempt cut by
// ctx is not counted as failed.
func (w *Worker) Run(ctx context.Context) error {
	for {
		full, err := w.deliverDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Error("webhook outbox", "error", err.Error())
		}
		if full && err == nil {
			continue // more may be due
		}
		timer := time.NewTimer(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// deliverDue tries every due event once; full reports a full batch.
func (w *Worker) deliverDue(ctx context.Context) (full bool, err error) {
	due, err := w.outbox.DueOutbox(ctx, w.now(), batchSize)
	if err != nil {
		return false, err
	}
	// After a conversation's event fails, its later events in the batch
	// wait, so that a ticket's events arrive in order.
	failed := map[string]bool{}
	for _, ev := range due {
		if ev.ConversationID != "" && failed[ev.ConversationID] {
			continue
		}
		err := w.deliver(ctx, ev)
		if ctx.Err() != nil {
			return false, nil
		}
		if err == nil {
			w.log.Debug("webhook delivered", "event_id", ev.ID, "attempts", ev.Attempts+1)
			if err := w.outbox.OutboxDelivered(ctx, ev.ID); err != nil {
				// The receiver will see the event again and drop it.
				w.log.Error("webhook delivered but not marked done", "event_id", ev.ID, "error", err.Error())
			}
			continue
		}
		failed[ev.ConversationID] = true
		wait := w.backoff(ev.Attempts)
		w.log.Warn("webhook delivery failed", "event_id", ev.ID, "attempt", ev.Attempts+1, "retry_in", wait.String(), "error", err.Error())
		if err := w.outbox.OutboxFailed(ctx, ev.ID, w.now().Add(wait), err.Error()); err != nil {
			w.log.Error("webhook failure not recorded", "event_id", ev.ID, "error", err.Error())
		}
	}
	return len(due) == batchSize, nil
}

// backoff is the wait after the attempt-th failed attempt (counting from
// 0): MinBackoff doubled attempt times, at most MaxBackoff.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.MinBackoff
	for range attempt {
		if d >= w.cfg.MaxBackoff/2 {
			return w.cfg.MaxBackoff
		}
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// deliver makes one attempt: a signed POST that succeeds on 2xx.
func (w *Worker) deliver(ctx context.Context, ev store.OutboxEvent) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(ev.Body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kefu-webhook")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, ts, ev.Body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold credentials
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// redactURL hides a URL's password for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.Index(s, "@"); i >= 0 {
		return "…" + s[i:]
	}
	return s
}
