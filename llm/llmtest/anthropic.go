package llmtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Anthropic's Messages API: POST /v1/messages, streamed as server-sent
// events (message_start, content_block_start, content_block_delta,
// content_block_stop, message_delta, message_stop; "event: error" when the
// model fails mid-answer) or not.

// anthropicMessages answers a Messages API request with the next scripted
// Reply. The key is read from x-api-key; errors have Anthropic's shape,
// {"type": "error", "error": {"type", "message"}}.
func (f *Fake) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	rec := f.recordAnthropic(r)
	if f.apiKey != "" {
		if got := r.Header.Get("x-api-key"); got != f.apiKey {
			// The wrong key is echoed, so that tests can check that
			// clients keep it out of their own errors.
			anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key: "+got)
			return
		}
	}
	if rec.Chat == nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "the body is not a Messages API request")
		return
	}
	c := *rec.Chat
	reply := f.nextChat(c)
	switch reply.Fault {
	case RateLimit:
		ra := reply.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		anthropicError(w, http.StatusTooManyRequests, "rate_limit_error", "Number of requests has exceeded your rate limit")
		return
	case ServerError:
		anthropicError(w, http.StatusInternalServerError, "api_error", "Internal server error")
		return
	}
	text := f.text(reply, c)
	id := fmt.Sprintf("msg_%d", f.now().UnixNano())
	stop := "end_turn"
	if len(reply.ToolCalls) > 0 {
		stop = "tool_use"
	}
	in, out := anthropicUsage(c, text)

	if c.Stream == nil || !*c.Stream {
		if !hold(r, reply) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if reply.Fault == Malformed {
			io.WriteString(w, `{"id": "`+id+`", "type": "message", "content": [`)
			return
		}
		var content []any
		if text != "" {
			content = append(content, map[string]any{"type": "text", "text": text})
		}
		for i, tc := range reply.ToolCalls {
			content = append(content, map[string]any{"type": "tool_use", "id": toolUseID(tc, i), "name": tc.Name, "input": toolInput(tc)})
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": c.Model, "content": content,
			"stop_reason": stop, "stop_sequence": nil, "usage": map[string]int{"input_tokens": in, "output_tokens": out},
		})
		return
	}

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v map[string]any) {
		v["type"] = event
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send("message_start", map[string]any{"message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": c.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": in, "output_tokens": 1},
	}})
	if !hold(r, reply) {
		return
	}
	block := 0
	send("content_block_start", map[string]any{"index": block, "content_block": map[string]any{"type": "text", "text": ""}})
	strike := func(fault Fault) bool { return f.strikeAnthropic(w, flusher, fault) }
	delta := func(piece string) {
		send("content_block_delta", map[string]any{"index": block, "delta": map[string]any{"type": "text_delta", "text": piece}})
	}
	if !f.pump(r, reply, text, strike, delta) {
		return
	}
	send("content_block_stop", map[string]any{"index": block})
	for i, tc := range reply.ToolCalls {
		block++
		send("content_block_start", map[string]any{"index": block, "content_block": map[string]any{
			"type": "tool_use", "id": toolUseID(tc, i), "name": tc.Name, "input": map[string]any{}}})
		send("content_block_delta", map[string]any{"index": block, "delta": map[string]any{
			"type": "input_json_delta", "partial_json": cmp.Or(tc.Arguments, "{}")}})
		send("content_block_stop", map[string]any{"index": block})
	}
	send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": out}})
	send("message_stop", map[string]any{})
}

// strikeAnthropic injects a mid-stream fault; it reports whether the
// stream is over.
func (f *Fake) strikeAnthropic(w http.ResponseWriter, flusher http.Flusher, fault Fault) bool {
	switch fault {
	case Malformed:
		io.WriteString(w, "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"delta\": {\"text\": \"unfinished\n\n")
	case ErrorEvent:
		io.WriteString(w, "event: error\ndata: "+`{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`+"\n\n")
	case Disconnect:
		if flusher != nil {
			flusher.Flush()
		}
		panic(http.ErrAbortHandler) // the server drops the connection without ending the stream
	default:
		return false
	}
	if flusher != nil {
		flusher.Flush()
	}
	return true
}

// recordAnthropic reads and keeps a Messages API request. Its chat is
// recorded in the common form: the "system" field becomes a leading
// system message, so tests read the prompt the same way for every API.
func (f *Fake) recordAnthropic(r *http.Request) Request {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var c ChatRequest
	var sys struct {
		System json.RawMessage `json:"system"`
	}
	if json.Unmarshal(body, &c) == nil && json.Unmarshal(body, &sys) == nil {
		if s := systemText(sys.System); s != "" {
			c.Messages = append([]Message{{Role: "system", Content: s}}, c.Messages...)
		}
		req.Chat = &c
	}
	return f.keep(req)
}

// systemText reads Anthropic's system field: a string or a list of text
// blocks.
func systemText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &blocks)
	for _, b := range blocks {
		s += b.Text
	}
	return s
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
}

func anthropicUsage(c ChatRequest, answer string) (in, out int) {
	for _, m := range c.Messages {
		in += len(Pieces(m.Content))
	}
	return in, len(Pieces(answer))
}

func toolUseID(tc ToolCall, i int) string {
	if tc.ID != "" {
		return tc.ID
	}
	return fmt.Sprintf("toolu_%d", i+1)
}

// toolInput is a call's arguments as the object Anthropic sends.
func toolInput(tc ToolCall) map[string]any {
	in := map[string]any{}
	json.Unmarshal([]byte(tc.Arguments), &in)
	return in
}
