package openai

import (
	"errors"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
)

func TestReadStreamGathersSplitToolCalls(t *testing.T) {
	body := strings.Join([]string{
		`data: {"choices":[{"delta":{"content":"Let me look. "}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_order","arguments":""}}]}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"order_id\":"}}]}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"search_knowledge","arguments":"{}"}}]}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"W1\"}"}}]}}]}`,
		`data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`,
		``, `data: [DONE]`, ``,
	}, "\n")
	var pieces []string
	got, err := readStream(strings.NewReader(body), true, &remote.Call{}, func(p string, _ error) bool { pieces = append(pieces, p); return true })
	if err != nil {
		t.Fatal(err)
	}
	if got.text != "Let me look. " || strings.Join(pieces, "") != got.text || len(got.calls) != 2 {
		t.Fatalf("got %+v, pieces %q", got, pieces)
	}
	if c := got.calls[0]; c.ID != "call_1" || c.Function.Name != "get_order" || c.Function.Arguments != `{"order_id": "W1"}` {
		t.Errorf("first call %+v", c)
	}
	if c := got.calls[1]; c.ID != "call_2" || c.Function.Name != "search_knowledge" || c.Type != "function" {
		t.Errorf("second call %+v", c)
	}
}

// TestReadStreamSeparatesCallsOfOneIndex: servers that number every call
// 0 (Ollama's /v1) still give two calls, told apart by their ids.
func TestReadStreamSeparatesCallsOfOneIndex(t *testing.T) {
	body := strings.Join([]string{
		`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"W1\"}"}}]}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_b","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"W2\"}"}}]}}]}`,
		`data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`,
		`data: [DONE]`,
	}, "\n")
	got, err := readStream(strings.NewReader(body), true, &remote.Call{}, func(string, error) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(got.calls) != 2 || got.calls[0].ID != "call_a" || got.calls[1].ID != "call_b" ||
		got.calls[0].Function.Name != "get_order" || got.calls[1].Function.Arguments != `{"order_id":"W2"}` {
		t.Fatalf("calls %+v", got.calls)
	}
}

// FuzzReadStream: any body either reads to a complete answer or fails
// with a fault that is recorded for the error; nothing panics, and no
// text is yielded after a fault.
func FuzzReadStream(f *testing.F) {
	f.Add("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n", true)
	f.Add("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"name\":\"x\"}}]},\"finish_reason\":\"stop\"}]}\n", true)
	f.Add("data: {\"error\":{\"message\":\"overloaded\"}}\n", false)
	f.Add("data: {\"choices\":[{\"delta\":{\"content\":\"cut", false)
	f.Add(": ping\n\nevent: x\ndata: [DONE]", false)
	f.Fuzz(func(t *testing.T, body string, tools bool) {
		call := &remote.Call{}
		var text strings.Builder
		got, err := readStream(strings.NewReader(body), tools, call, func(p string, _ error) bool { text.WriteString(p); return true })
		switch {
		case err == nil:
			if got.text != text.String() || len(got.calls) > maxToolCalls || !tools && len(got.calls) > 0 {
				t.Fatalf("complete stream %+v, yielded %q", got, text.String())
			}
		case errors.Is(err, chat.ErrStopped):
			t.Fatal("stopped without the reader stopping")
		case call.StreamErr() == nil:
			t.Fatalf("fault %v not recorded", err)
		}
	})
}
