package anthropic

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
	"github.com/kefuhq/kefu/llm/llmtest"
)

// sent is the raw Messages API request as the fake received it.
type sent struct {
	Tools []struct {
		Name        string         `json:"name"`
		InputSchema map[string]any `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
	} `json:"tool_choice"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func TestToolCallsRunAndTheAnswerFollows(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithAPIKey(secret))
	defer srv.Close()
	srv.Script(
		llmtest.Reply{Text: "Let me check. ", ToolCalls: []llmtest.ToolCall{
			{ID: "toolu_other", Name: "get_order", Arguments: `{"order_id": "W2002"}`}, // another shopper's
			{ID: "toolu_mine", Name: "get_order", Arguments: `{"order_id": "W1001"}`},
			{ID: "toolu_ghost", Name: "refund", Arguments: `{}`}, // not offered
		}},
		llmtest.Reply{Text: "Your order W1001 has shipped."},
	)
	var args []string
	r := req
	r.Tools = []kefu.Tool{llmtest.OrderTool(&args)}
	pieces, err := llmtest.Collect(newGen(t, srv, nil).Generate(context.Background(), r))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pieces, ""); got != "Let me check. Your order W1001 has shipped." {
		t.Errorf("answer %q", got)
	}
	if strings.Join(args, "|") != `{"order_id": "W2002"}|{"order_id": "W1001"}` {
		t.Errorf("tool called with %q", args)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	var first, second sent
	if json.Unmarshal(reqs[0].Body, &first) != nil || json.Unmarshal(reqs[1].Body, &second) != nil {
		t.Fatal("requests are not JSON")
	}
	if len(first.Tools) != 1 || first.Tools[0].Name != "get_order" || first.Tools[0].InputSchema["type"] != "object" || first.ToolChoice != nil {
		t.Errorf("first request offers %+v, tool_choice %+v", first.Tools, first.ToolChoice)
	}
	n := len(first.Messages)
	if len(second.Messages) != n+2 || second.Messages[n].Role != "assistant" || second.Messages[n+1].Role != "user" {
		t.Fatalf("second request messages %+v", second.Messages)
	}
	var asked, results []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   string          `json:"content"`
	}
	json.Unmarshal(second.Messages[n].Content, &asked)
	json.Unmarshal(second.Messages[n+1].Content, &results)
	if len(asked) != 4 || asked[0].Type != "text" || asked[0].Text != "Let me check. " || asked[2].Type != "tool_use" ||
		asked[2].ID != "toolu_mine" || string(asked[2].Input) != `{"order_id":"W1001"}` {
		t.Errorf("the model's round as sent back: %+v", asked)
	}
	want := map[string]string{"toolu_other": "not found", "toolu_mine": "Status: shipped", "toolu_ghost": `no tool named "refund"`}
	if len(results) != 3 {
		t.Fatalf("tool results %+v", results)
	}
	for _, b := range results {
		if b.Type != "tool_result" || !strings.Contains(b.Content, want[b.ToolUseID]) {
			t.Errorf("result %+v, want it to hold %q", b, want[b.ToolUseID])
		}
	}
}

func TestToolLimits(t *testing.T) {
	llmtest.RunToolLimits(t, chat.MaxToolRounds, func(srv *llmtest.Server) llmtest.Generator { return newGen(t, srv, nil) }, req,
		func(body []byte) bool {
			var r sent
			return json.Unmarshal(body, &r) == nil && r.ToolChoice != nil && r.ToolChoice.Type == "none"
		})
}

// TestNonStreamedReply: a proxy that does not stream answers with one JSON
// message; its text and tool calls are read as a stream's would be.
func TestNonStreamedReply(t *testing.T) {
	body := `{"content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_1","name":"get_order","input":{"order_id":"W1001"}}],"stop_reason":"tool_use"}`
	var pieces []string
	got, err := readWhole(strings.NewReader(body), true, &remote.Call{}, func(p string, _ error) bool { pieces = append(pieces, p); return true })
	if err != nil || got.text != "Let me check." || strings.Join(pieces, "") != got.text ||
		len(got.calls) != 1 || got.calls[0] != (chat.ToolCall{ID: "toolu_1", Name: "get_order", Arguments: `{"order_id":"W1001"}`}) {
		t.Fatalf("readWhole = %+v, %v", got, err)
	}
	call := &remote.Call{}
	if _, err := readWhole(strings.NewReader(body), false, call, func(string, error) bool { return true }); err == nil || call.StreamErr() == nil {
		t.Errorf("a tool call without tools offered: %v", err)
	}
	if _, err := readWhole(strings.NewReader(`{"content": [`), false, call, func(string, error) bool { return true }); err == nil {
		t.Error("a malformed reply was read")
	}
}

// FuzzReadStream: any body either reads to a complete answer or fails
// with a recorded fault; nothing panics.
func FuzzReadStream(f *testing.F) {
	f.Add("event: message_start\ndata: {\"type\":\"message_start\"}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\ndata: {\"type\":\"message_stop\"}\n", true)
	f.Add("data: {\"type\":\"content_block_start\",\"index\":9,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"x\"}}\ndata: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\ndata: {\"type\":\"message_stop\"}", true)
	f.Add("data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n", false)
	f.Fuzz(func(t *testing.T, body string, tools bool) {
		call := &remote.Call{}
		var text strings.Builder
		got, err := readStream(strings.NewReader(body), tools, call, func(p string, _ error) bool { text.WriteString(p); return true })
		switch {
		case err == nil:
			if got.text != text.String() || len(got.calls) > maxBlocks || !tools && len(got.calls) > 0 {
				t.Fatalf("complete stream %+v, yielded %q", got, text.String())
			}
		case call.StreamErr() == nil:
			t.Fatalf("fault %v not recorded", err)
		}
	})
}
