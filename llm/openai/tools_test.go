package openai

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm/llmtest"
)

// orderTool is a get_order tool over one shopper's orders: anything else
// is "not found". It records the arguments it was called with.
func orderTool(got *[]string) kefu.Tool {
	mine := map[string]string{"W1001": "Order id: W1001\nStatus: shipped"}
	return kefu.Tool{
		Name: "get_order", Description: "Look up one of the shopper's orders.",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}},
			"required": []string{"order_id"}},
		Call: func(_ context.Context, args json.RawMessage) (string, error) {
			*got = append(*got, string(args))
			var a struct {
				OrderID string `json:"order_id"`
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return `error: arguments must be JSON like {"order_id": "W1001"}`, nil
			}
			if text, ok := mine[a.OrderID]; ok {
				return text, nil
			}
			return "not found", nil
		},
	}
}

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
	r.Tools = []kefu.Tool{orderTool(&args)}
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

func TestToolRoundsAreBounded(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDefault(func(llmtest.ChatRequest) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{Name: "get_order", Arguments: `{"order_id": "W1001"}`}}}
	}))
	defer srv.Close()
	var args []string
	r := req
	r.Tools = []kefu.Tool{orderTool(&args)}
	_, err := llmtest.Collect(newGen(t, srv, nil).Generate(context.Background(), r))
	if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), "after 4 rounds") {
		t.Fatalf("err %v; want the model to be cut off", err)
	}
	reqs := srv.Requests()
	if len(reqs) != MaxToolRounds+1 || len(args) != MaxToolRounds {
		t.Fatalf("%d requests and %d tool calls", len(reqs), len(args))
	}
	var last struct {
		ToolChoice any `json:"tool_choice"`
	}
	json.Unmarshal(reqs[len(reqs)-1].Body, &last)
	var first struct {
		ToolChoice any `json:"tool_choice"`
	}
	json.Unmarshal(reqs[0].Body, &first)
	if last.ToolChoice != "none" || first.ToolChoice != nil {
		t.Errorf("tool_choice first %v, last %v; want none only on the last request", first.ToolChoice, last.ToolChoice)
	}
}

func TestToolFailureEndsTheAnswer(t *testing.T) {
	srv := llmtest.NewServer()
	defer srv.Close()
	srv.Script(llmtest.Reply{ToolCalls: []llmtest.ToolCall{{Name: "get_order", Arguments: `{"order_id": "W1001"}`}}})
	down := kefu.WrapError(kefu.EUnavailable, "the order service is unavailable", errors.New("connection refused"))
	r := req
	r.Tools = []kefu.Tool{{Name: "get_order", Call: func(context.Context, json.RawMessage) (string, error) { return "", down }}}
	pieces, err := llmtest.Collect(newGen(t, srv, nil).Generate(context.Background(), r))
	if !errors.Is(err, down) || len(pieces) != 0 {
		t.Fatalf("pieces %q err %v; want the tool's error", pieces, err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests after the tool failed", n)
	}
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
