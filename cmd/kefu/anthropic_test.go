package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/llm/llmtest"
)

func TestAskWithAnthropic(t *testing.T) {
	dir := demoDataDir(t)
	const key = "sk-ant-e2e-3b7c9d1e5f"
	srv := llmtest.NewServer(llmtest.WithAPIKey(key))
	defer srv.Close()
	env := modelEnv(srv, key)
	env["KEFU_LLM_PROVIDER"] = "anthropic"
	env["KEFU_LLM_BASE_URL"] = srv.Root

	t.Run("the model answers", func(t *testing.T) {
		srv.Reset()
		answer := "大部分商品自签收之日起30天内可以退货。[1]"
		srv.Script(llmtest.Reply{Text: answer})
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "退货期限是多久？")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, answer+"\n") || !strings.Contains(out, "returns.zh.md") {
			t.Fatalf("answer:\n%s\nwant the model's answer with its citation", out)
		}
		if !strings.Contains(stderr, "backend=anthropic/fake-model") {
			t.Errorf("stderr %q does not name the model", stderr)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].Path != "/v1/messages" || reqs[0].Header.Get("x-api-key") != key {
			t.Fatalf("the model got %d requests: %+v", len(reqs), reqs)
		}
		c := reqs[0].Chat
		if c.Model != "fake-model" || c.Messages[0].Role != "system" || !strings.Contains(c.LastUser(), "30天") {
			t.Fatalf("the model got %+v", c)
		}
	})

	t.Run("get_order sees only the shopper's own orders", func(t *testing.T) {
		srv.Reset()
		srv.Script(
			llmtest.Reply{ToolCalls: []llmtest.ToolCall{
				{ID: "toolu_theirs", Name: "get_order", Arguments: `{"order_id": "W260920-1006"}`}, // C1002's
				{ID: "toolu_mine", Name: "get_order", Arguments: `{"order_id": "W261118-1004"}`},
			}},
			llmtest.Reply{Text: "Your order W261118-1004 is on its way. [2]"},
		)
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "--customer", "C1001", "How long do I have to return an item?")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		reqs := srv.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests to the model, want 2\n%s", len(reqs), out)
		}
		second := string(reqs[1].Body)
		if strings.Contains(second, "C1002") || !strings.Contains(second, "W261118-1004") || !strings.Contains(second, "not found") {
			t.Errorf("tool results sent to the model:\n%s", second)
		}
		if strings.Contains(out, "W260920-1006") || strings.Contains(out, "C1002") {
			t.Errorf("another shopper's order reached the answer:\n%s", out)
		}
	})

	t.Run("a failing model falls back to the documents", func(t *testing.T) {
		srv.Reset()
		srv.Script(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.ServerError})
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "退货期限是多久？")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, llm.FallbackNotes["zh"]+"\n") || !strings.Contains(out, "returns.zh.md") {
			t.Fatalf("answer:\n%s\nwant the note, then the extractive answer with its citation", out)
		}
		if n := len(srv.ChatRequests()); n != 2 {
			t.Errorf("%d model calls, want 2 (one retry)", n)
		}
		if strings.Contains(out+stderr, key) {
			t.Error("the API key was printed")
		}
	})

	t.Run("a wrong key is not printed", func(t *testing.T) {
		srv.Reset()
		env := maps.Clone(env)
		env["KEFU_LLM_API_KEY"] = "sk-ant-wrong-8a6f4e2d"
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "退货期限是多久？")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, llm.FallbackNotes["zh"]+"\n") {
			t.Errorf("answer:\n%s\nwant the extractive answer under its note", out)
		}
		if strings.Contains(out+stderr, "sk-ant-wrong-8a6f4e2d") {
			t.Errorf("the API key was printed:\n%s\n%s", out, stderr)
		}
	})
}

func TestAnthropicConfigProblems(t *testing.T) {
	hot, ok := 1.5, 0.7
	for _, tc := range []struct {
		cfg  LLMConfig
		want string
	}{
		{LLMConfig{Provider: "anthropic", Model: "claude-x", Temperature: &ok}, ""},
		{LLMConfig{Provider: "anthropic", Temperature: &ok}, "llm.model is required"},
		{LLMConfig{Provider: "anthropic", Model: "claude-x", Temperature: &hot}, "above 1"},
		{LLMConfig{Provider: "claude", Model: "claude-x"}, "not extractive, openai, ollama or anthropic"},
	} {
		got := strings.Join(tc.cfg.problems(), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: problems %q, want %q", tc.cfg, got, tc.want)
		}
	}
}
