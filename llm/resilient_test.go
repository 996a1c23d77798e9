package llm

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm/llmtest"
	"github.com/kefuhq/kefu/llm/openai"
)

// failoverRig is a Failover over an OpenAI-compatible generator talking to
// the fake server, with the extractive answerer as fallback, and sleeps
// that are recorded instead of slept.
type failoverRig struct {
	srv *llmtest.Server
	f   *Failover

	mu    sync.Mutex
	waits []time.Duration
}

func newRig(t *testing.T, opts ...ResilientOption) *failoverRig {
	t.Helper()
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	gen, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "fake-model", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &failoverRig{srv: srv}
	r.f = Resilient(gen, Extractive{}, opts...)
	r.f.sleep = func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.waits = append(r.waits, d)
		r.mu.Unlock()
		return ctx.Err()
	}
	return r
}

// waitHalfOpen waits until the breaker's cool-down is over.
func (r *failoverRig) waitHalfOpen(t *testing.T) {
	t.Helper()
	for r.f.BreakerOpen() {
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *failoverRig) recordedWaits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

const policy = "Most items can be returned within 30 days of delivery. Opened headphones can be returned if undamaged."

func request(locale string) kefu.GenerateRequest {
	q := "Can I return opened headphones?"
	text := policy
	if locale == "zh" {
		q, text = "耳机拆封后可以退货吗？", "大部分商品自签收之日起30天内可以退货。拆封的耳机在完好的情况下可以退货。"
	}
	return kefu.GenerateRequest{
		Question: q, Query: q, Locale: locale,
		Context:  []kefu.Hit{{Chunk: kefu.Chunk{ID: "returns#0", Type: kefu.TypePolicy, Title: "Returns", Text: text}, Score: 1, Lexical: 1}},
		System:   "You are the shop's assistant.",
		Messages: []kefu.Message{{Role: kefu.RoleUser, Content: "[1] " + text + "\n\nQuestion: " + q}},
	}
}

// collect runs a turn and returns the text, the pieces and the error.
func collect(ctx context.Context, g Generator, req kefu.GenerateRequest) (string, []string, error) {
	var pieces []string
	for p, err := range g.Generate(ctx, req) {
		if err != nil {
			return strings.Join(pieces, ""), pieces, err
		}
		pieces = append(pieces, p)
	}
	return strings.Join(pieces, ""), pieces, nil
}

const modelAnswer = "Yes: opened headphones can be returned within 30 days if undamaged. [1]"

func TestFailoverPassesTheModelsAnswer(t *testing.T) {
	r := newRig(t)
	r.srv.Script(llmtest.Reply{Text: modelAnswer})
	req := request("en")
	req.FellBack = func(name string) { t.Errorf("FellBack(%q) on an answer of the model's", name) }
	got, pieces, err := collect(context.Background(), r.f, req)
	if err != nil || got != modelAnswer {
		t.Fatalf("got %q, %v; want the model's answer", got, err)
	}
	if len(pieces) < 5 {
		t.Errorf("answer came in %d pieces; want it streamed", len(pieces))
	}
	if n := len(r.srv.ChatRequests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestFailoverRetriesOnceBeforeTheFirstToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault llmtest.Reply
		wait  func(time.Duration) bool
	}{
		{"server error", llmtest.Reply{Fault: llmtest.ServerError}, func(d time.Duration) bool { return d >= retryBackoff && d < 2*retryBackoff }},
		{"rate limit honours Retry-After", llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "2"}, func(d time.Duration) bool { return d == 2*time.Second }},
		{"malformed chunk", llmtest.Reply{Fault: llmtest.Malformed, Text: "Yes"}, nil},
		{"disconnect", llmtest.Reply{Fault: llmtest.Disconnect, Text: "Yes"}, nil},
		{"error event", llmtest.Reply{Fault: llmtest.ErrorEvent, Text: "Yes"}, nil},
		{"tool call", llmtest.Reply{ToolCalls: []llmtest.ToolCall{{Name: "lookup_order", Arguments: `{"id": "W1"}`}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.srv.Script(tc.fault, llmtest.Reply{Text: modelAnswer})
			got, _, err := collect(context.Background(), r.f, request("en"))
			if err != nil || got != modelAnswer {
				t.Fatalf("got %q, %v; want the retried model answer", got, err)
			}
			if n := len(r.srv.ChatRequests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
			waits := r.recordedWaits()
			if len(waits) != 1 || (tc.wait != nil && !tc.wait(waits[0])) {
				t.Errorf("waited %v before the retry", waits)
			}
		})
	}
}

func TestFailoverFallsBackWithANoteInTheShoppersLanguage(t *testing.T) {
	for _, tc := range []struct{ locale, note, quote string }{
		{"en", "(The assistant is busy; here is what our documents say. Write \"human\" any time to reach a person.)", "Opened headphones can be returned"},
		{"zh", "（智能助手暂时繁忙，以下是相关资料原文；如需人工客服，随时回复“转人工”。）", "拆封的耳机"},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			r := newRig(t)
			r.srv.Script(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.ServerError})
			req := request(tc.locale)
			var fellBack []string
			req.FellBack = func(name string) { fellBack = append(fellBack, name) }
			got, _, err := collect(context.Background(), r.f, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(fellBack) != 1 || fellBack[0] != "extractive" {
				t.Errorf("FellBack calls %q, want one naming the extractive answerer", fellBack)
			}
			if !strings.HasPrefix(got, tc.note+"\n") || !strings.Contains(got, tc.quote) || !strings.Contains(got, "[1]") {
				t.Fatalf("fallback answer %q; want the note, then the quoted, cited policy", got)
			}
			if n := len(r.srv.ChatRequests()); n != 2 {
				t.Errorf("%d requests, want 2 (one retry)", n)
			}
		})
	}
}

func TestFailoverDoesNotRetryWhatWillNotPass(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault llmtest.Reply
		opts  []ResilientOption
	}{
		{"Retry-After past the cap", llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "30"}, nil},
		{"slow first token", llmtest.Reply{Text: modelAnswer, FirstTokenDelay: 5 * time.Second}, []ResilientOption{WithFirstTokenTimeout(100 * time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.opts...)
			r.srv.Script(tc.fault, llmtest.Reply{Text: modelAnswer})
			got, _, err := collect(context.Background(), r.f, request("en"))
			if err != nil || !strings.HasPrefix(got, FallbackNotes["en"]) {
				t.Fatalf("got %q, %v; want the fallback", got, err)
			}
			if n := len(r.srv.ChatRequests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		srv := llmtest.NewServer(llmtest.WithAPIKey("sk-right"))
		t.Cleanup(srv.Close)
		gen, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m", APIKey: "sk-wrong-key-1234"})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := collect(context.Background(), Resilient(gen, Extractive{}), request("en"))
		if err != nil || !strings.HasPrefix(got, FallbackNotes["en"]) {
			t.Fatalf("got %q, %v; want the fallback", got, err)
		}
		if n := len(srv.ChatRequests()); n != 1 {
			t.Errorf("%d requests, want 1: a refused key is not retried", n)
		}
	})
}

// A failure after the first token is not retried: the model's words stay,
// and the fallback's answer follows a note saying the answer was
// interrupted, whatever the fault: a dropped connection, a broken chunk,
// an error inside the stream, or the overall timeout.
func TestFailoverFinishesAStartedAnswerWithTheFallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply llmtest.Reply
		opts  []ResilientOption
	}{
		{"disconnect", llmtest.Reply{Text: modelAnswer, Fault: llmtest.Disconnect, FaultAt: 3}, nil},
		{"malformed chunk", llmtest.Reply{Text: modelAnswer, Fault: llmtest.Malformed, FaultAt: 3}, nil},
		{"error event", llmtest.Reply{Text: modelAnswer, Fault: llmtest.ErrorEvent, FaultAt: 3}, nil},
		{"endless stream", llmtest.Reply{Text: modelAnswer, Fault: llmtest.Endless}, []ResilientOption{WithOverallTimeout(700 * time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.opts...)
			r.srv.Script(tc.reply, llmtest.Reply{Text: "a second answer"})
			req := request("en")
			var fellBack []string
			req.FellBack = func(name string) { fellBack = append(fellBack, name) }
			got, _, err := collect(context.Background(), r.f, req)
			if err != nil {
				t.Fatalf("error %v; want the fallback to finish the answer", err)
			}
			model, rest, ok := strings.Cut(got, "\n\n"+CutShortNotes["en"]+"\n")
			if !ok || len(model) < 5 || !strings.HasPrefix(modelAnswer+strings.Repeat("and so on ", 1000), model) {
				t.Fatalf("answer %q; want the model's first pieces, the note, then the fallback", got)
			}
			if !strings.Contains(rest, "Opened headphones can be returned") || !strings.Contains(rest, "[1]") {
				t.Errorf("fallback part %q; want the quoted, cited policy", rest)
			}
			if len(fellBack) != 1 || fellBack[0] != "extractive" {
				t.Errorf("FellBack calls %q", fellBack)
			}
			if n := len(r.srv.ChatRequests()); n != 1 {
				t.Errorf("%d requests: a started answer was retried", n)
			}
		})
	}
}

// When the fallback fails too, a started answer ends with the failure.
func TestFailoverStartedAnswerWithABrokenFallback(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	gen, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	broken := generatorFunc(func(yield func(string, error) bool) { yield("", errors.New("no passages")) })
	srv.Script(llmtest.Reply{Text: modelAnswer, Fault: llmtest.Disconnect, FaultAt: 3})
	got, _, err := collect(context.Background(), Resilient(gen, broken), request("en"))
	if err == nil || !strings.Contains(err.Error(), "cut short") || kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("error %v; want the cut answer's", err)
	}
	if !strings.HasPrefix(got, "Yes") {
		t.Errorf("text %q", got)
	}
}

type generatorFunc func(yield func(string, error) bool)

func (g generatorFunc) Generate(context.Context, kefu.GenerateRequest) iter.Seq2[string, error] {
	return iter.Seq2[string, error](g)
}

// The breaker counts failures over a window, as a share of the attempts:
// a few failures among many answers leave it closed, and so do failures
// spread wider than the window.
func TestFailoverBreakerCountsAWindow(t *testing.T) {
	answer := func(r *failoverRig) {
		t.Helper()
		r.srv.Script(llmtest.Reply{Text: modelAnswer})
		if got, _, err := collect(context.Background(), r.f, request("en")); err != nil || got != modelAnswer {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	fail := func(r *failoverRig) { // two failed attempts: the first and its retry
		t.Helper()
		r.srv.Script(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.ServerError})
		if got, _, err := collect(context.Background(), r.f, request("en")); err != nil || !strings.HasPrefix(got, FallbackNotes["en"]) {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	t.Run("a share of the attempts", func(t *testing.T) {
		r := newRig(t, WithBreaker(3, time.Minute), WithBreakerWindow(time.Hour))
		for range 6 {
			answer(r)
		}
		fail(r)
		fail(r) // 4 failures of 10 attempts
		if r.f.BreakerOpen() {
			t.Fatal("4 failures among 6 answers opened the breaker")
		}
		fail(r) // 6 of 12
		if !r.f.BreakerOpen() {
			t.Fatal("6 failures of 12 attempts left the breaker closed")
		}
	})
	t.Run("within the window", func(t *testing.T) {
		const window = 300 * time.Millisecond
		r := newRig(t, WithBreaker(3, time.Minute), WithBreakerWindow(window))
		fail(r)
		time.Sleep(window + window/2) // those failures leave the window
		fail(r)
		if r.f.BreakerOpen() {
			t.Fatal("2 failures in the window opened a breaker that needs 3")
		}
	})
}

// A request the backend rejects for what it holds (400) says nothing of
// its health and does not count.
func TestFailoverBreakerIgnoresRejectedRequests(t *testing.T) {
	r := newRig(t, WithBreaker(1, time.Minute))
	for range 3 {
		r.srv.Script(llmtest.Reply{Fault: llmtest.BadRequest})
		if got, _, err := collect(context.Background(), r.f, request("en")); err != nil || !strings.HasPrefix(got, FallbackNotes["en"]) {
			t.Fatalf("got %q, %v; want the fallback", got, err)
		}
	}
	if r.f.BreakerOpen() {
		t.Fatal("rejected requests opened the breaker")
	}
	if n := len(r.srv.ChatRequests()); n != 3 {
		t.Errorf("%d requests, want 3 (a rejected request is not retried)", n)
	}
}

func TestFailoverBreaker(t *testing.T) {
	const coolDown = 500 * time.Millisecond
	r := newRig(t, WithBreaker(2, coolDown))
	fallback := func(want int) {
		t.Helper()
		got, _, err := collect(context.Background(), r.f, request("en"))
		if err != nil || !strings.HasPrefix(got, FallbackNotes["en"]) {
			t.Fatalf("got %q, %v; want the fallback", got, err)
		}
		if n := len(r.srv.ChatRequests()); n != want {
			t.Fatalf("%d requests so far, want %d", n, want)
		}
	}
	// Two failed attempts (the first and its retry) open the breaker.
	r.srv.Script(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.ServerError})
	fallback(2)
	if !r.f.BreakerOpen() {
		t.Fatal("breaker closed after 2 consecutive failures")
	}
	// While open, the fallback answers without calling the model.
	fallback(2)
	fallback(2)
	// After the cool-down one probe goes through; it fails: open again, no retry.
	r.waitHalfOpen(t)
	r.srv.Script(llmtest.Reply{Fault: llmtest.ServerError})
	fallback(3)
	fallback(3)
	// The next probe succeeds and closes the breaker.
	r.waitHalfOpen(t)
	gate := make(chan struct{})
	r.srv.Script(llmtest.Reply{Text: modelAnswer, Gate: gate})
	done := make(chan string)
	go func() {
		got, _, _ := collect(context.Background(), r.f, request("en"))
		done <- got
	}()
	for len(r.srv.ChatRequests()) < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	// A turn during the probe does not pile onto the backend.
	fallback(4)
	close(gate)
	if got := <-done; got != modelAnswer {
		t.Fatalf("probe answered %q", got)
	}
	if r.f.BreakerOpen() {
		t.Fatal("breaker still open after a successful probe")
	}
	r.srv.Script(llmtest.Reply{Text: modelAnswer})
	if got, _, err := collect(context.Background(), r.f, request("en")); err != nil || got != modelAnswer {
		t.Fatalf("after closing: %q, %v", got, err)
	}
}

func TestFailoverStopsWhenTheCallerGoesAway(t *testing.T) {
	r := newRig(t, WithBreaker(1, time.Minute))
	r.srv.Script(llmtest.Reply{Text: modelAnswer, FirstTokenDelay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got, _, err := collect(ctx, r.f, request("en"))
	if !errors.Is(err, context.DeadlineExceeded) || got != "" {
		t.Fatalf("got %q, %v; want the caller's deadline and no fallback", got, err)
	}
	if r.f.BreakerOpen() {
		t.Error("a turn the caller abandoned counted against the backend")
	}
}

func TestFailoverReaderMayStopEarly(t *testing.T) {
	r := newRig(t)
	r.srv.Script(llmtest.Reply{Text: modelAnswer})
	n := 0
	for range r.f.Generate(context.Background(), request("en")) {
		n++
		if n == 2 {
			break
		}
	}
	if c := r.f.brk.cb.Counts(); r.f.BreakerOpen() || c.TotalFailures != 0 {
		t.Error("stopping early counted as a failure")
	}
}

var _ Generator = (*Failover)(nil)
var _ Generator = Extractive{}
