package openai

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm/llmtest"
)

func TestToolCallsRunAndTheAnswerFollows(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithAPIKey(secret))
	defer srv.Close()
	g := newGen(t, srv, nil)
	srv.Script(
		llmtest.Reply{Text: "Let me check. ", ToolCalls: []llmtest.ToolCall{
			{ID: "call_other", Name: "get_order", Arguments: `{"order_id": "W2002"}`}, // another shopper's
			{ID: "call_bad", Name: "get_order", Arguments: `{"order_id": W1001`},      // not JSON
			{ID: "call_mine", Name: "get_order", Arguments: `{"order_id": "W1001"}`},
			{ID: "call_ghost", Name: "refund", Arguments: `{}`}, // not offered
		}},
		llmtest.Reply{Text: "Your order W1001 has shipped."},
	)
	var args []string
	r := req
	r.Tools = []kefu.Tool{llmtest.OrderTool(&args)}
	pieces, err := llmtest.Collect(g.Generate(context.Background(), r))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pieces, ""); got != "Let me check. Your order W1001 has shipped." {
		t.Errorf("answer %q", got)
	}
	for _, p := range pieces {
		if strings.Contains(p, "get_order") || strings.Contains(p, "call_") {
			t.Errorf("a tool call leaked into the answer: %q", p)
		}
	}
	if want := []string{`{"order_id": "W2002"}`, `{"order_id": W1001`, `{"order_id": "W1001"}`}; strings.Join(args, "|") != strings.Join(want, "|") {
		t.Errorf("tool called with %q, want %q", args, want)
	}

	reqs := srv.ChatRequests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if len(reqs[0].Tools) != 1 || !strings.Contains(string(reqs[0].Tools[0]), `"get_order"`) || !strings.Contains(string(reqs[0].Tools[0]), `"order_id"`) {
		t.Errorf("tools offered %s", reqs[0].Tools)
	}
	second := reqs[1].Messages
	if len(second) != len(reqs[0].Messages)+5 {
		t.Fatalf("second request messages %+v", second)
	}
	asked := second[len(reqs[0].Messages)]
	if asked.Role != "assistant" || len(asked.ToolCalls) != 4 || asked.ToolCalls[1].ID != "call_bad" || asked.ToolCalls[1].Arguments != `{"order_id": W1001` ||
		!strings.Contains(asked.Content, "Let me check.") {
		t.Errorf("the model's round as sent back: %+v", asked)
	}
	results := reqs[1].ToolResults()
	want := map[string]string{"call_other": "not found", "call_bad": "error: arguments must be JSON", "call_mine": "Status: shipped", "call_ghost": `no tool named "refund"`}
	if len(results) != len(want) {
		t.Fatalf("tool results %+v", results)
	}
	for _, m := range results {
		if !strings.Contains(m.Content, want[m.ToolCallID]) {
			t.Errorf("result for %s: %q, want it to hold %q", m.ToolCallID, m.Content, want[m.ToolCallID])
		}
	}
	if results[0].ToolCallID != "call_other" || results[0].Content != "not found" {
		t.Errorf("another shopper's order came back as %q", results[0].Content)
	}
}

func TestToolLimits(t *testing.T) {
	llmtest.RunToolLimits(t, MaxToolRounds, func(srv *llmtest.Server) llmtest.Generator { return newGen(t, srv, nil) }, req,
		func(body []byte) bool {
			var r struct {
				ToolChoice any `json:"tool_choice"`
			}
			return json.Unmarshal(body, &r) == nil && r.ToolChoice == "none"
		})
}

func TestNoToolsNoToolsOffered(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	srv.Script(llmtest.Reply{Text: "Yes. [1]"})
	if _, err := llmtest.Collect(newGen(t, srv, nil).Generate(context.Background(), req)); err != nil {
		t.Fatal(err)
	}
	if c := srv.ChatRequests()[0]; len(c.Tools) != 0 || strings.Contains(string(srv.Requests()[0].Body), "tool_choice") {
		t.Errorf("a request without tools offered some: %s", srv.Requests()[0].Body)
	}
}
