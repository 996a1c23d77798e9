package openai

import (
	"context"
	"encoding/json"
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

const secret = "sk-test-4f9a1c2b7e"

func newGen(t *testing.T, srv *llmtest.Server, mod func(*Config)) *Generator {
	t.Helper()
	cfg := Config{BaseURL: srv.URL, Model: "qwen2.5-7b-instruct", APIKey: secret, Timeout: 10 * time.Second}
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
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("Authorization %q", got)
	}
	c := reqs[0].Chat
	if c.Model != "qwen2.5-7b-instruct" || c.Stream == nil || !*c.Stream || c.Temperature == nil || *c.Temperature != 0 || c.MaxTokens != 300 {
		t.Errorf("request %s", reqs[0].Body)
	}
	want := []llmtest.Message{
		{Role: "system", Content: req.System},
		{Role: "user", Content: req.Messages[0].Content},
		{Role: "assistant", Content: req.Messages[1].Content},
		{Role: "user", Content: req.Messages[2].Content},
	}
	if fmt.Sprint(c.Messages) != fmt.Sprint(want) {
		t.Errorf("messages\n%v\nwant\n%v", c.Messages, want)
	}
	if g.Name() != "openai/qwen2.5-7b-instruct" {
		t.Errorf("Name %q", g.Name())
	}
}

func TestGeneratorDefaults(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	g := newGen(t, srv, func(c *Config) { c.APIKey = "" })
	if _, err := llmtest.Collect(g.Generate(context.Background(), req)); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Chat.Temperature == nil || *r.Chat.Temperature != DefaultTemperature || r.Chat.MaxTokens != 0 || r.Chat.MaxCompletionTokens != 0 {
		t.Errorf("request %s", r.Body)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("without a key, Authorization %q; want none", got)
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
		{name: "malformed first chunk", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Malformed}, transient: true, want: "malformed stream chunk"},
		{name: "malformed later chunk", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Malformed, FaultAt: 2}, transient: true, want: "malformed stream chunk", pieces: 2},
		{name: "disconnect mid-stream", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Disconnect, FaultAt: 1}, transient: true, want: "cut short", pieces: 1},
		{name: "error event", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.ErrorEvent, FaultAt: 1}, transient: true, want: "failed mid-stream", pieces: 1},
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
			if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), `openai chat "qwen2.5-7b-instruct" at `+srv.URL) {
				t.Errorf("error %v does not name the service", err)
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
	srv := llmtest.NewServer(llmtest.WithAPIKey("sk-the-right-one"))
	defer srv.Close()
	g := newGen(t, srv, nil)
	_, err := llmtest.Collect(g.Generate(context.Background(), req))
	if err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Fatalf("error %v; want a 401", err)
	}
	// The fake echoes the wrong key in its error, as some servers do.
	if !strings.Contains(string(srv.Requests()[0].Header.Get("Authorization")), secret) || strings.Contains(err.Error(), secret) {
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
	if !errors.As(err, &re) || re.Status != 0 || !re.Transient() {
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

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "http://localhost:8000/v1"},
		{BaseURL: "localhost:8000", Model: "m"},
		{BaseURL: "ftp://example.com", Model: "m"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%v) succeeded", cfg)
		}
	}
}

func TestMaxTokensField(t *testing.T) {
	// OpenAI itself gets max_completion_tokens, the compatible servers
	// max_tokens; tested on the encoded request, since no test may reach
	// api.openai.com.
	for base, field := range map[string]string{"": "max_completion_tokens", "http://localhost:8000/v1": "max_tokens"} {
		g, err := New(Config{BaseURL: base, Model: "gpt-4o-mini", MaxTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		r := request{Model: "m"}
		r.setMaxTokens(g.maxField, 100)
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil || got[field] != 100.0 || len(got) != 5 {
			t.Errorf("base %q: request %s, %v; want %s: 100", base, raw, err, field)
		}
	}
}
