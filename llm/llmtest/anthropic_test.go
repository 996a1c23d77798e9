package llmtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const messagesBody = `{"model": "claude-x", "max_tokens": 100, "stream": %s, "system": "Be brief.",
	"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "hello"},
	{"role": "user", "content": "Hello 世界"}]}`

func postMessages(t *testing.T, s *Server, stream string, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/messages", strings.NewReader(strings.Replace(messagesBody, "%s", stream, 1)))
	req.Header.Set("x-api-key", key)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// events reads a server-sent event stream as (event, data) pairs.
func events(t *testing.T, r io.Reader) [][2]string {
	t.Helper()
	var out [][2]string
	var event string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			event = e
		}
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, [2]string{event, d})
		}
	}
	return out
}

func TestAnthropicMessagesStream(t *testing.T) {
	s := NewServer()
	defer s.Close()
	resp := postMessages(t, s, "true", "")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var names []string
	var text strings.Builder
	for _, ev := range events(t, resp.Body) {
		var data struct {
			Type  string `json:"type"`
			Delta struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(ev[1]), &data); err != nil || data.Type != ev[0] {
			t.Fatalf("event %q: data %q (%v)", ev[0], ev[1], err)
		}
		if len(names) == 0 || names[len(names)-1] != ev[0] {
			names = append(names, ev[0])
		}
		if data.Delta.Type == "text_delta" {
			text.WriteString(data.Delta.Text)
		}
	}
	want := "message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want || text.String() != "Hello 世界" {
		t.Fatalf("events %q, text %q", names, text.String())
	}
	c := s.ChatRequests()[0]
	if len(c.Messages) != 4 || c.Messages[0].Role != "system" || c.Messages[0].Content != "Be brief." ||
		c.Messages[1].Content != "hi" || c.Messages[2].Role != "assistant" || c.MaxTokens != 100 || c.Stream == nil || !*c.Stream {
		t.Fatalf("recorded %+v", c)
	}
}

func TestAnthropicMessagesWhole(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.Script(Reply{Text: "Sure.", ToolCalls: []ToolCall{{Name: "get_order", Arguments: `{"order_id": "W1"}`}}})
	var msg struct {
		Type       string `json:"type"`
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type  string         `json:"type"`
			Text  string         `json:"text"`
			Name  string         `json:"name"`
			Input map[string]any `json:"input"`
		} `json:"content"`
	}
	if err := json.NewDecoder(postMessages(t, s, "false", "").Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || msg.StopReason != "tool_use" || len(msg.Content) != 2 || msg.Content[0].Text != "Sure." ||
		msg.Content[1].Name != "get_order" || msg.Content[1].Input["order_id"] != "W1" {
		t.Fatalf("reply %+v", msg)
	}
}

func TestAnthropicMessagesFaults(t *testing.T) {
	s := NewServer(WithAPIKey("sk-ant-right"))
	defer s.Close()
	resp := postMessages(t, s, "true", "sk-ant-wrong")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"authentication_error"`) {
		t.Fatalf("wrong key: %d %s", resp.StatusCode, body)
	}
	s.Script(Reply{Fault: RateLimit, RetryAfter: "7"})
	resp = postMessages(t, s, "true", "sk-ant-right")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(string(body), `"type":"error"`) {
		t.Fatalf("rate limit: %d %s", resp.StatusCode, body)
	}
	s.Script(Reply{Text: "a b c", Fault: ErrorEvent, FaultAt: 1})
	evs := events(t, postMessages(t, s, "true", "sk-ant-right").Body)
	if last := evs[len(evs)-1]; last[0] != "error" || !strings.Contains(last[1], "overloaded_error") {
		t.Fatalf("error event: %q", evs)
	}
}
