package llmtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Ollama's native API: /api/chat streamed as NDJSON, /api/embed and
// /api/tags.

func jsonLine(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

func (f *Fake) ollamaChat(w http.ResponseWriter, r *http.Request) {
	rec := f.record(r)
	if rec.Chat == nil {
		ollamaError(w, http.StatusBadRequest, "invalid chat request")
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
		ollamaError(w, http.StatusTooManyRequests, "server busy, please try again")
		return
	case ServerError:
		ollamaError(w, http.StatusInternalServerError, "model runner has unexpectedly stopped")
		return
	}
	text := f.text(reply, c)
	created := f.now().UTC().Format(time.RFC3339Nano)
	line := func(content string, done bool) map[string]any {
		m := map[string]any{"model": c.Model, "created_at": created,
			"message": map[string]any{"role": "assistant", "content": content}, "done": done}
		if done {
			m["done_reason"] = "stop"
			m["eval_count"] = len(Pieces(text))
		}
		return m
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	if !hold(r, reply) {
		return
	}
	if c.Stream != nil && !*c.Stream {
		if reply.Fault == Malformed {
			io.WriteString(w, `{"model": "`+c.Model+`", "message": {`+"\n")
			return
		}
		jsonLine(w, line(text, true))
		return
	}
	strike := func(fault Fault) bool { return strikeNDJSON(w, fault) }
	if !f.pump(r, reply, text, strike, func(piece string) { jsonLine(w, line(piece, false)) }) {
		return
	}
	jsonLine(w, line("", true))
}

func strikeNDJSON(w http.ResponseWriter, fault Fault) bool {
	switch fault {
	case Malformed:
		io.WriteString(w, "{\"model\": \"unfinished\n")
	case ErrorEvent:
		jsonLine(w, map[string]any{"error": "model runner failed while generating"})
	case Disconnect:
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	default:
		return false
	}
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	return true
}

func ollamaError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (f *Fake) ollamaEmbed(w http.ResponseWriter, r *http.Request) {
	rec := f.record(r)
	if rec.Embed == nil {
		ollamaError(w, http.StatusBadRequest, "invalid embed request")
		return
	}
	reply := f.nextEmbed()
	switch reply.Fault {
	case RateLimit, ServerError:
		status := http.StatusInternalServerError
		if reply.Fault == RateLimit {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", cmp.Or(reply.RetryAfter, "1"))
		}
		ollamaError(w, status, "embedding failed")
		return
	}
	vecs := make([][]float32, len(rec.Embed.Input))
	for i, t := range rec.Embed.Input {
		vecs[i] = Vector(t, f.dims)
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(map[string]any{"model": rec.Embed.Model, "embeddings": vecs})
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}

func (f *Fake) ollamaTags(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	models := make([]any, len(f.models))
	for i, m := range f.models {
		models[i] = map[string]any{"name": m, "model": m}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"models": models})
}
