package anthropic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/llm/llmtest"
)

const secret = "sk-ant-test-5e8d2c1a9f"

func newGen(t *testing.T, srv *llmtest.Server, mod func(*Config)) *Generator {
	t.Helper()
	cfg := Config{BaseURL: srv.Root, Model: "claude-test", APIKey: secret, Timeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var req = kefu.GenerateRequest{
	Question: "Can I return opened headphones?", Locale: "en",
	System: "You are Lumi's customer-service assistant. Answer only from the passages.",
	Messages: []kefu.Message{
		{Role: kefu.RoleUser, Content: "Hi, I bought headphones."},
		{Role: kefu.RoleAgent, Content: "Hello, how can I help?"},
		{Role: kefu.RoleUser, Content: "[1] Opened headphones can be returned within 30 days.\n\nQuestion: Can I return opened headphones?"},
	},
}

func TestGeneratorSendsThePromptAndStreamsTheAnswer(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithAPIKey(secret))
	defer srv.Close()
	temp := 0.0
	g := newGen(t, srv, func(c *Config) { c.Temperature = &temp; c.MaxTokens = 300 })
	answer := "Yes, within 30 days. 拆封的耳机可以退货。 [1]"
	srv.Script(llmtest.Reply{Text: answer})
	pieces, err := llmtest.Collect(g.Generate(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != answer || len(pieces) != len(llmtest.Pieces(answer)) {
		t.Fatalf("pieces %q; want the answer as the server streamed it", pieces)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/messages" {
		t.Fatalf("requests %+v", reqs)
	}
	if got := reqs[0].Header.Get("x-api-key"); got != secret {
		t.Errorf("x-api-key %q", got)
	}
	if reqs[0].Header.Get("anthropic-version") == "" || reqs[0].Header.Get("Authorization") != "" {
		t.Errorf("headers %v", reqs[0].Header)
	}
	if !strings.Contains(string(reqs[0].Body), `"system":"You are Lumi`) {
		t.Errorf("the system prompt is not in the system field: %s", reqs[0].Body)
	}
	c := reqs[0].Chat
	if c.Model != "claude-test" || c.Stream == nil || !*c.Stream || c.Temperature == nil || *c.Temperature != 0 || c.MaxTokens != 300 {
		t.Errorf("request %s", reqs[0].Body)
	}
	want := []llmtest.Message{
		{Role: "system", Content: req.System}, // the fake records the system field first
		{Role: "user", Content: req.Messages[0].Content},
		{Role: "assistant", Content: req.Messages[1].Content},
		{Role: "user", Content: req.Messages[2].Content},
	}
	if fmt.Sprint(c.Messages) != fmt.Sprint(want) {
		t.Errorf("messages\n%v\nwant\n%v", c.Messages, want)
	}
	if g.Name() != "anthropic/claude-test" {
		t.Errorf("Name %q", g.Name())
	}
}

func TestGeneratorDefaults(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	g := newGen(t, srv, func(c *Config) { c.BaseURL = srv.URL }) // with /v1, too
	if _, err := llmtest.Collect(g.Generate(context.Background(), req)); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Path != "/v1/messages" || r.Chat.Temperature == nil || *r.Chat.Temperature != DefaultTemperature || r.Chat.MaxTokens != DefaultMaxTokens {
		t.Errorf("request %s %s", r.Path, r.Body)
	}
}

func TestGeneratorFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     llmtest.Reply
		ctx       time.Duration
		status    int
		retry     time.Duration
		transient bool
		want      string
		pieces    int
	}{
		{name: "rate limit", reply: llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "3"}, status: 429, retry: 3 * time.Second, transient: true, want: "status 429"},
		{name: "server error", reply: llmtest.Reply{Fault: llmtest.ServerError}, status: 500, transient: true, want: "status 500"},
		{name: "malformed first event", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Malformed}, transient: true, want: "malformed stream event"},
		{name: "malformed later event", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Malformed, FaultAt: 2}, transient: true, want: "malformed stream event", pieces: 2},
		{name: "disconnect mid-stream", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Disconnect, FaultAt: 1}, transient: true, want: "cut short", pieces: 1},
		{name: "error event", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.ErrorEvent, FaultAt: 1}, transient: true, want: "failed mid-stream: overloaded_error", pieces: 1},
		{name: "tool call", reply: llmtest.Reply{ToolCalls: []llmtest.ToolCall{{Name: "refund", Arguments: `{"amount": 999}`}}}, transient: true, want: "tool call"},
		{name: "slow first token", reply: llmtest.Reply{Text: "a b", FirstTokenDelay: 5 * time.Second}, ctx: 100 * time.Millisecond, transient: true, want: "deadline exceeded"},
		{name: "endless stream", reply: llmtest.Reply{Text: "a b", Fault: llmtest.Endless}, ctx: 500 * time.Millisecond, transient: true, want: "deadline exceeded", pieces: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer()
			defer srv.Close()
			g := newGen(t, srv, nil)
			srv.Script(tc.reply)
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			pieces, err := llmtest.Collect(g.Generate(ctx, req))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one saying %q", err, tc.want)
			}
			if len(pieces) < tc.pieces || (tc.ctx == 0 && len(pieces) != tc.pieces) {
				t.Errorf("yielded %q before failing", pieces)
			}
			if strings.Contains(strings.Join(pieces, ""), "refund") {
				t.Errorf("a tool call leaked into the answer: %q", pieces)
			}
			if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), `anthropic messages "claude-test" at `+srv.Root) {
				t.Errorf("error %v does not name the service", err)
			}
			if strings.Contains(err.Error(), "API returned") || strings.Contains(err.Error(), "failed to create message") {
				t.Errorf("error %v repeats the library's wording", err)
			}
			var re *remote.Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v has no *remote.Error", err)
			}
			if re.Status != tc.status || re.RetryAfter() != tc.retry || re.Transient() != tc.transient {
				t.Errorf("status %d retry-after %v transient %t", re.Status, re.RetryAfter(), re.Transient())
			}
			if tc.ctx > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap the deadline", err)
			}
		})
	}
}

func TestTheKeyStaysSecret(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithAPIKey("sk-ant-the-right-one"))
	defer srv.Close()
	g := newGen(t, srv, nil)
	_, err := llmtest.Collect(g.Generate(context.Background(), req))
	if err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Fatalf("error %v; want a 401", err)
	}
	// The fake echoes the wrong key in its error, as some servers do.
	if srv.Requests()[0].Header.Get("x-api-key") != secret || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %q holds the key", err)
	}
	var re *remote.Error
	if !errors.As(err, &re) || re.Transient() {
		t.Errorf("a refused key counts as transient: %v", err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("llm", "config", g.cfg)
	for _, s := range []string{logged.String(), g.cfg.String(), fmt.Sprintf("%v %+v", g.cfg, g.cfg)} {
		if strings.Contains(s, secret) {
			t.Errorf("config printed with its key: %s", s)
		}
	}
}

func TestGeneratorUnreachable(t *testing.T) {
	srv := llmtest.NewServer()
	srv.Close()
	g := newGen(t, srv, nil)
	_, err := llmtest.Collect(g.Generate(context.Background(), req))
	var re *remote.Error
	if !errors.As(err, &re) || re.Status != 0 || !re.Transient() || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v; want a transient failure without status", err)
	}
}

func TestGeneratorStopsWhenTheReaderDoes(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	g := newGen(t, srv, nil)
	srv.Script(llmtest.Reply{Fault: llmtest.Endless})
	n := 0
	for _, err := range g.Generate(context.Background(), req) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
}

func TestSystemTurnsJoinTheSystemPrompt(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	g := newGen(t, srv, nil)
	r := kefu.GenerateRequest{System: "Be kind.", Messages: []kefu.Message{
		{Role: kefu.RoleSystem, Content: "The shopper is signed in."}, {Role: kefu.RoleUser, Content: "hi"}}}
	if _, err := llmtest.Collect(g.Generate(context.Background(), r)); err != nil {
		t.Fatal(err)
	}
	c := srv.ChatRequests()[0]
	if len(c.Messages) != 2 || c.Messages[0].Content != "Be kind.\n\nThe shopper is signed in." || c.Messages[1].Role != "user" {
		t.Errorf("messages %v", c.Messages)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{APIKey: "k"},
		{Model: "m"},
		{BaseURL: "localhost:8000", Model: "m", APIKey: "k"},
		{BaseURL: "ftp://example.com", Model: "m", APIKey: "k"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%v) succeeded", cfg)
		}
	}
}
