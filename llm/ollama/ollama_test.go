package ollama

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/llm/llmtest"
)

var req = kefu.GenerateRequest{
	Question: "退货期限是多久？", Locale: "zh",
	System: "你是鹿米家居数码的客服助手。",
	Messages: []kefu.Message{
		{Role: kefu.RoleUser, Content: "你好"},
		{Role: kefu.RoleAssistant, Content: "您好，请问有什么可以帮您？"},
		{Role: kefu.RoleUser, Content: "[1] 大部分商品自签收之日起30天内可以退货。\n\n问题：退货期限是多久？"},
	},
}

func newGen(t *testing.T, srv *llmtest.Server) *Generator {
	t.Helper()
	g, err := New(Config{BaseURL: srv.Root, Model: "qwen2.5:7b", MaxTokens: 200, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeneratorStreamsFromOllama(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	g := newGen(t, srv)
	answer := "大部分商品自签收之日起30天内可以退货。[1]"
	srv.Script(llmtest.Reply{Text: answer})
	pieces, err := llmtest.Collect(g.Generate(context.Background(), req))
	if err != nil || strings.Join(pieces, "") != answer || len(pieces) < 10 {
		t.Fatalf("pieces %q, %v", pieces, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/api/chat" {
		t.Fatalf("requests %+v", reqs)
	}
	c := reqs[0].Chat
	want := fmt.Sprint([]llmtest.Message{{Role: "system", Content: req.System}, {Role: "user", Content: "你好"},
		{Role: "assistant", Content: req.Messages[1].Content}, {Role: "user", Content: req.Messages[2].Content}})
	if c.Model != "qwen2.5:7b" || fmt.Sprint(c.Messages) != want || c.Options["num_predict"] != float64(200) || c.Options["temperature"] != 0.2 {
		t.Errorf("request %s", reqs[0].Body)
	}
	if g.Name() != "ollama/qwen2.5:7b" {
		t.Errorf("Name %q", g.Name())
	}
}

func TestGeneratorFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  llmtest.Reply
		ctx    time.Duration
		status int
		retry  time.Duration
		want   string
		pieces int
	}{
		{name: "rate limit", reply: llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "2"}, status: 429, retry: 2 * time.Second, want: "status 429"},
		{name: "server error", reply: llmtest.Reply{Fault: llmtest.ServerError}, status: 500, want: "status 500"},
		{name: "malformed line", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Malformed, FaultAt: 1}, want: "malformed", pieces: 1},
		{name: "disconnect mid-stream", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.Disconnect, FaultAt: 2}, want: "cut short", pieces: 2},
		{name: "error line", reply: llmtest.Reply{Text: "a b c", Fault: llmtest.ErrorEvent, FaultAt: 1}, want: "failed mid-stream", pieces: 1},
		{name: "slow first token", reply: llmtest.Reply{Text: "a", FirstTokenDelay: 5 * time.Second}, ctx: 100 * time.Millisecond, want: "deadline exceeded"},
		{name: "endless stream", reply: llmtest.Reply{Fault: llmtest.Endless}, ctx: 500 * time.Millisecond, want: "deadline exceeded", pieces: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer()
			defer srv.Close()
			g := newGen(t, srv)
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
			var re *remote.Error
			if kefu.ErrorCode(err) != kefu.EUnavailable || !errors.As(err, &re) || !re.Transient() {
				t.Fatalf("error %v: want a transient, unavailable failure", err)
			}
			if re.Status != tc.status || re.RetryAfter() != tc.retry || !strings.Contains(err.Error(), `ollama chat "qwen2.5:7b" at `+srv.Root) {
				t.Errorf("error %v: status %d, retry after %v", err, re.Status, re.RetryAfter())
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Model: "m", BaseURL: "localhost:11434"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
