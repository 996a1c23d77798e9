package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

var testSecret = []byte("0123456789abcdef0123")

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"id":"ev_1"}`)
	const want = "sha256=0a6c4416f84faec6a793abcefc72cd2d7d7520863b6c135578c797b3554e5a9d"
	if got := Sign(testSecret, "1767225600", body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	now := time.Unix(1767225600, 0)
	tests := []struct {
		name          string
		secret        []byte
		ts, sig, body string
		now           time.Time
		ok            bool
	}{
		{"good", testSecret, "1767225600", want, string(body), now.Add(time.Minute), true},
		{"other body", testSecret, "1767225600", want, `{"id":"ev_2"}`, now, false},
		{"other secret", []byte("another secret of 16+"), "1767225600", want, string(body), now, false},
		{"old", testSecret, "1767225600", want, string(body), now.Add(10 * time.Minute), false},
		{"bad timestamp", testSecret, "yesterday", want, string(body), now, false},
		{"no prefix", testSecret, "1767225600", strings.TrimPrefix(want, "sha256="), string(body), now, false},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.ts, tt.sig, []byte(tt.body), tt.now, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v", tt.name, err)
		}
	}
}

func TestNewWorkerChecksItsConfig(t *testing.T) {
	for _, cfg := range []WebhookConfig{
		{URL: "", Secret: testSecret},
		{URL: "ftp://helpdesk.example/hook", Secret: testSecret},
		{URL: "/relative", Secret: testSecret},
		{URL: "https://helpdesk.example/hook", Secret: []byte("short")},
	} {
		if _, err := NewWorker(nil, cfg, nil); err == nil {
			t.Errorf("NewWorker(%q, %d-byte secret) succeeded", cfg.URL, len(cfg.Secret))
		}
	}
	_, err := NewWorker(nil, WebhookConfig{URL: "ftp://user:hunter2@helpdesk.example/hook", Secret: testSecret}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad URL's error shows its password: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	w, err := NewWorker(nil, WebhookConfig{URL: "http://x.example", Secret: testSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second,
		128 * time.Second, 256 * time.Second, 512 * time.Second, 10 * time.Minute, 10 * time.Minute}
	for i, d := range want {
		if got := w.backoff(i); got != d {
			t.Errorf("backoff(%d) = %v, want %v", i, got, d)
		}
	}
	if got := w.backoff(1000); got != 10*time.Minute {
		t.Errorf("backoff(1000) = %v", got)
	}
}

// receiver is a helpdesk that checks signatures and drops repeated events,
// as the documentation asks receivers to do.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	accept   bool             // answer 200; else 500
	attempts map[string]int   // requests per event id
	accepted map[string]int   // 2xx answers per event id
	events   map[string]Event // the first accepted body per event id
	hit      chan struct{}
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{t: t, attempts: map[string]int{}, accepted: map[string]int{}, events: map[string]Event{}, hit: make(chan struct{}, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	err := Verify(testSecret, req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute)
	if err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != req.Header.Get(HeaderEventID) {
		r.t.Errorf("receiver: body %s, event id header %q", body, req.Header.Get(HeaderEventID))
	}
	r.mu.Lock()
	r.attempts[ev.ID]++
	accept := r.accept
	if accept {
		if _, seen := r.events[ev.ID]; !seen {
			r.events[ev.ID] = ev
		}
		r.accepted[ev.ID]++
	}
	r.mu.Unlock()
	select {
	case r.hit <- struct{}{}:
	default:
	}
	if !accept {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}
}

func (r *receiver) setAccept(v bool) {
	r.mu.Lock()
	r.accept = v
	r.mu.Unlock()
}

func (r *receiver) snapshot() (attempts, accepted map[string]int, events map[string]Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	evs := map[string]Event{}
	for k, v := range r.events {
		evs[k] = v
	}
	return cp(r.attempts), cp(r.accepted), evs
}

// fast makes a worker retry at once, so tests need not wait.
func fast(url string) WebhookConfig {
	return WebhookConfig{URL: url, Secret: testSecret, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, PollInterval: 2 * time.Millisecond, Timeout: 5 * time.Second}
}

// start runs a worker until the returned stop is called.
func start(t *testing.T, w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func outboxLen(t *testing.T, s *store.Bolt) int {
	n, err := s.OutboxLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A receiver that fails the first attempts, and a restart in the middle:
// every event arrives, and the receiver, dropping repeats by event id,
// takes each exactly once.
func TestWebhookRetriesAndSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	recv, srv := newReceiver(t)

	s1, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w1, err := NewWorker(s1, fast(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	desk, err := NewDesk(s1, s1, Config{}, WithWebhook(w1.Notify))
	if err != nil {
		t.Fatal(err)
	}
	c := newConvo(t, s1, "C1001")
	c.user("I want a human, call me on 13812345678")
	tk, _, err := desk.Sync(ctx, c.id, decision(ReasonRequested, rag.IntentHuman))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Claim(ctx, tk.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if n := outboxLen(t, s1); n != 2 {
		t.Fatalf("outbox holds %d events, want 2", n)
	}

	stop1 := start(t, w1)
	waitFor(t, "failed attempts", func() bool {
		attempts, _, _ := recv.snapshot()
		return len(attempts) == 2 && attempts[firstKey(attempts)] >= 2
	})
	stop1()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// The process restarts: the events are still there, with their failed
	// attempts counted.
	s2 := openStore(t, dir)
	due, err := s2.DueOutbox(ctx, time.Now().Add(time.Hour), 0)
	if err != nil || len(due) != 2 || due[0].Attempts == 0 || !strings.Contains(due[0].LastError, "500") {
		t.Fatalf("outbox after restart = %+v, %v", due, err)
	}
	recv.setAccept(true)
	w2, err := NewWorker(s2, fast(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop2 := start(t, w2)
	waitFor(t, "delivery", func() bool { return outboxLen(t, s2) == 0 })
	stop2()

	attempts, accepted, events := recv.snapshot()
	if len(accepted) != 2 {
		t.Fatalf("receiver took %v, want two events", accepted)
	}
	for id, n := range accepted {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
		if attempts[id] < 2 {
			t.Errorf("event %s: %d attempts, want the failed ones too", id, attempts[id])
		}
	}
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, ev.Type+"/"+ev.Change)
		if ev.Ticket.ID != tk.ID || !json.Valid(ev.Ticket.Packet) {
			t.Errorf("event ticket = %+v", ev.Ticket)
		}
		if strings.Contains(string(ev.Ticket.Packet), "13812345678") {
			t.Errorf("event %s leaks a phone number", ev.ID)
		}
	}
	if !(contains(kinds, "ticket.created/opened") && contains(kinds, "ticket.updated/claimed")) {
		t.Errorf("events = %v", kinds)
	}
}

// flakyOutbox fails to record the first delivery, as a crash right after
// the receiver answered would.
type flakyOutbox struct {
	Outbox
	failed atomic.Bool
}

func (f *flakyOutbox) OutboxDelivered(ctx context.Context, id string) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("disk full")
	}
	return f.Outbox.OutboxDelivered(ctx, id)
}

func TestWebhookRedeliveryIsDroppedByTheReceiver(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	recv, srv := newReceiver(t)
	recv.setAccept(true)
	if err := s.Enqueue(ctx, store.OutboxEvent{ID: "ev_1", Body: json.RawMessage(`{"id":"ev_1","type":"ticket.created"}`)}); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(&flakyOutbox{Outbox: s}, fast(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, w)
	waitFor(t, "delivery", func() bool { return outboxLen(t, s) == 0 })
	stop()
	attempts, accepted, events := recv.snapshot()
	if attempts["ev_1"] != 2 || accepted["ev_1"] != 2 || len(events) != 1 {
		t.Errorf("attempts %v, accepted %v, distinct events %d; want the event twice, kept once", attempts, accepted, len(events))
	}
}

// A receiver that never answers costs only its events: each attempt ends
// at the timeout and is recorded as failed.
func TestWebhookSlowReceiver(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	if err := s.Enqueue(ctx, store.OutboxEvent{ID: "ev_1", Body: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	cfg := fast(srv.URL)
	cfg.Timeout = 20 * time.Millisecond
	w, err := NewWorker(s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, w)
	waitFor(t, "two timed-out attempts", func() bool {
		due, _ := s.DueOutbox(ctx, time.Now().Add(time.Hour), 0)
		return len(due) == 1 && due[0].Attempts >= 2
	})
	stop()
	due, _ := s.DueOutbox(ctx, time.Now().Add(time.Hour), 0)
	if !strings.Contains(due[0].LastError, "deadline") {
		t.Errorf("last error = %q", due[0].LastError)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// FuzzVerify plays a receiver's check against any call: a call signed
// with the secret at a time within tolerance verifies; any other
// signature, a changed body or a timestamp out of tolerance does not; no
// input panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("s3cret"), "1796000000", []byte(`{"type":"ticket.created"}`), "sha256=00", int64(0))
	f.Add([]byte(""), "-1", []byte(""), "", int64(1<<40))
	f.Add([]byte("k"), "1796000000.5", []byte("x"), "sha256=", int64(-301))
	f.Fuzz(func(t *testing.T, secret []byte, timestamp string, body []byte, forged string, skew int64) {
		now := time.Unix(1796000000, 0)
		const tol = 5 * time.Minute
		sig := Sign(secret, timestamp, body)
		err := Verify(secret, timestamp, sig, body, now, tol)
		sec, perr := strconv.ParseInt(timestamp, 10, 64)
		inTime := perr == nil && sec >= now.Add(-tol).Unix() && sec <= now.Add(tol).Unix()
		if inTime != (err == nil) {
			t.Fatalf("Verify(own signature, ts %q) = %v", timestamp, err)
		}
		if forged != sig && Verify(secret, timestamp, forged, body, now, tol) == nil {
			t.Fatalf("a forged signature %q verified", forged)
		}
		if inTime {
			tampered := append(append([]byte{}, body...), '!')
			if Verify(secret, timestamp, sig, tampered, now, tol) == nil {
				t.Fatal("a changed body verified")
			}
			later := now.Add(time.Duration(skew%(1<<20)) * time.Second)
			if d := later.Sub(time.Unix(sec, 0)); (d > tol || d < -tol) && Verify(secret, timestamp, sig, body, later, tol) == nil {
				t.Fatalf("a call %s old verified", d)
			}
		}
	})
}

// After a conversation's event fails, its later events in the same batch
// wait for it (a ticket's events arrive in order); other conversations'
// events go on.
func TestWebhookHoldsAConversationsLaterEvents(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderEventID)
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
		if id == "ev_1" {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, ev := range []store.OutboxEvent{
		{ID: "ev_1", ConversationID: "c_1", Body: json.RawMessage(`{"id":"ev_1"}`)},
		{ID: "ev_2", ConversationID: "c_1", Body: json.RawMessage(`{"id":"ev_2"}`)},
		{ID: "ev_3", ConversationID: "c_2", Body: json.RawMessage(`{"id":"ev_3"}`)},
	} {
		if err := s.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	w, err := NewWorker(s, fast(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.deliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "ev_1,ev_3" {
		t.Errorf("delivery attempts %v, want ev_1 (failed), then ev_3, and ev_2 held", got)
	}
}
