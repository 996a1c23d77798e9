package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The OpenAI-compatible API: chat completions (streamed as server-sent
// events or not), embeddings and the model list.

func (f *Fake) chatCompletions(w http.ResponseWriter, r *http.Request) {
	rec := f.record(r)
	if !f.authorized(w, r) {
		return
	}
	if rec.Chat == nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "the body is not a chat completion request")
		return
	}
	c := *rec.Chat
	reply := f.nextChat(c)
	if failEarly(w, reply) {
		return
	}
	model := c.Model
	text := f.text(reply, c)
	id := fmt.Sprintf("chatcmpl-%d", f.now().UnixNano())
	if c.Stream == nil || !*c.Stream {
		if !hold(r, reply) {
			return
		}
		if reply.Fault == Malformed {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id": "`+id+`", "choices": [`)
			return
		}
		msg := map[string]any{"role": "assistant", "content": text}
		finish := "stop"
		if len(reply.ToolCalls) > 0 {
			msg["tool_calls"] = toolCallsJSON(reply.ToolCalls, false)
			finish = "tool_calls"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": f.now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   usage(c, text),
		})
		return
	}

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": f.now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	if !hold(r, reply) {
		return
	}
	strike := func(fault Fault) bool { return f.strike(w, flusher, fault) }
	if !f.pump(r, reply, text, strike, func(piece string) { send(chunk(map[string]any{"content": piece}, nil)) }) {
		return
	}
	finish := "stop"
	if len(reply.ToolCalls) > 0 {
		for _, tc := range toolCallsJSON(reply.ToolCalls, true) {
			send(chunk(map[string]any{"tool_calls": []any{tc}}, nil))
		}
		finish = "tool_calls"
	}
	send(chunk(map[string]any{}, finish))
	if c.StreamOptions != nil && c.StreamOptions.IncludeUsage {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": f.now().Unix(), "model": model,
			"choices": []any{}, "usage": usage(c, text)})
	}
	io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func endlessGap(fault Fault, repeating bool) time.Duration {
	if fault == Endless && repeating {
		return 5 * time.Millisecond
	}
	return 0
}

func (f *Fake) strike(w http.ResponseWriter, flusher http.Flusher, fault Fault) bool {
	switch fault {
	case Malformed:
		io.WriteString(w, "data: {\"choices\": [{\"delta\": {\"content\": \"unfinished\n\n")
	case ErrorEvent:
		io.WriteString(w, `data: {"error": {"message": "The model failed while generating", "type": "server_error"}}`+"\n\n")
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

func toolCallsJSON(calls []ToolCall, streamed bool) []map[string]any {
	out := make([]map[string]any, len(calls))
	for i, tc := range calls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", i+1)
		}
		m := map[string]any{"id": id, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}}
		if streamed {
			m["index"] = i
		}
		out[i] = m
	}
	return out
}

func usage(c ChatRequest, answer string) map[string]int {
	prompt := 0
	for _, m := range c.Messages {
		prompt += len(Pieces(m.Content))
	}
	completion := len(Pieces(answer))
	return map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
}

func (f *Fake) listModels(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	if !f.authorized(w, r) {
		return
	}
	data := make([]any, len(f.models))
	for i, m := range f.models {
		data[i] = map[string]any{"id": m, "object": "model", "created": 0, "owned_by": "llmtest"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

func (f *Fake) embeddings(w http.ResponseWriter, r *http.Request) {
	rec := f.record(r)
	if !f.authorized(w, r) {
		return
	}
	if rec.Embed == nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "the body is not an embeddings request")
		return
	}
	reply := f.nextEmbed()
	if failEarly(w, reply) || !hold(r, reply) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.Fault == Malformed {
		io.WriteString(w, `{"object": "list", "data": [`)
		return
	}
	data := make([]any, len(rec.Embed.Input))
	for i, t := range rec.Embed.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": Vector(t, f.dims)}
	}
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": rec.Embed.Model,
		"usage": map[string]int{"prompt_tokens": len(rec.Embed.Input), "total_tokens": len(rec.Embed.Input)}})
}
