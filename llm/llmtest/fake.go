package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Fault is a failure the fake injects into one reply.
type Fault int

const (
	// NoFault answers normally.
	NoFault Fault = iota
	// RateLimit answers 429 with the Reply's RetryAfter header.
	RateLimit
	// ServerError answers 500 with an error body.
	ServerError
	// Malformed sends a chunk that is not JSON after FaultAt pieces (a
	// whole non-JSON body when not streaming).
	Malformed
	// Disconnect drops the connection after FaultAt pieces.
	Disconnect
	// Endless streams pieces until the client goes away.
	Endless
	// ErrorEvent sends an error object inside the stream after FaultAt
	// pieces, as OpenAI does when a model fails mid-answer.
	ErrorEvent
	// BadRequest answers 400, as a server does for a request it rejects
	// (a prompt past the context window, a filtered word).
	BadRequest
)

var faultNames = [...]string{"none", "rate_limit", "server_error", "malformed", "disconnect", "endless", "error_event", "bad_request"}

func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Reply scripts the answer to one request.
type Reply struct {
	// Text is the answer, streamed in word-sized pieces (a Chinese
	// character is a piece). Empty: the last user message, echoed.
	Text string
	// ToolCalls, when set, are returned as the model's tool calls, after
	// Text if any.
	ToolCalls []ToolCall
	// FirstTokenDelay holds back the first piece (or a whole reply that is
	// not streamed). The response headers are sent at once, as real
	// servers do.
	FirstTokenDelay time.Duration
	// Gate, when set, also holds back the first piece until it is closed,
	// so that a test can act while a reply is known to be pending.
	Gate <-chan struct{}
	// Fault, when set, is injected into this reply.
	Fault Fault
	// FaultAt is how many pieces go out before a Malformed, Disconnect or
	// ErrorEvent fault (0: before the first).
	FaultAt int
	// RetryAfter is the Retry-After header sent with RateLimit ("1" when
	// empty).
	RetryAfter string
}

// ToolCall is a function call the fake's model makes, or one a client
// sends back in the history.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON, as the model wrote it
}

// Message is one chat message as received. An assistant message may
// carry the tool calls the model made, and a "tool" message answers one
// of them by ToolCallID.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// UnmarshalJSON accepts content as a string or as a list of parts, whose
// text parts are joined, and tool-call arguments as a JSON string (OpenAI)
// or an object (Ollama).
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID       string `json:"id"`
			Function struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	m.Content = ""
	m.ToolCallID = raw.ToolCallID
	m.ToolCalls = nil
	for _, tc := range raw.ToolCalls {
		args := string(tc.Function.Arguments)
		var s string
		if json.Unmarshal(tc.Function.Arguments, &s) == nil {
			args = s
		}
		m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args})
	}
	if len(raw.Content) == 0 || string(raw.Content) == "null" {
		return nil
	}
	if raw.Content[0] == '"' {
		return json.Unmarshal(raw.Content, &m.Content)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw.Content, &parts); err != nil {
		return err
	}
	for _, p := range parts {
		m.Content += p.Text
	}
	return nil
}

// ChatRequest is a chat request as received, from either API.
type ChatRequest struct {
	Model               string            `json:"model"`
	Messages            []Message         `json:"messages"`
	Stream              *bool             `json:"stream"`
	Temperature         *float64          `json:"temperature"`
	MaxTokens           int               `json:"max_tokens"`
	MaxCompletionTokens int               `json:"max_completion_tokens"`
	Tools               []json.RawMessage `json:"tools"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// Options are Ollama's generation options (temperature, num_predict…).
	Options map[string]any `json:"options"`
}

// ToolResults returns the contents of the "tool" messages, oldest first.
func (r ChatRequest) ToolResults() []Message {
	var out []Message
	for _, m := range r.Messages {
		if m.Role == "tool" {
			out = append(out, m)
		}
	}
	return out
}

// LastUser returns the content of the last user message, "" when none.
func (r ChatRequest) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// EmbedRequest is an embeddings request as received, from either API.
type EmbedRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"-"`
	Dimensions int      `json:"dimensions"`
}

// Request is one recorded request.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Chat   *ChatRequest  // set for chat requests that parsed
	Embed  *EmbedRequest // set for embedding requests that parsed
}

// Option configures a Fake.
type Option func(*Fake)

// WithModels sets the models /v1/models lists (default "fake-model").
func WithModels(names ...string) Option { return func(f *Fake) { f.models = names } }

// WithDims sets the size of the embedding vectors (default 64).
func WithDims(n int) Option { return func(f *Fake) { f.dims = n } }

// WithTokensPerSecond paces streamed pieces (default: as fast as it can).
func WithTokensPerSecond(n float64) Option { return func(f *Fake) { f.tps = n } }

// WithAPIKey makes the fake refuse (401) requests without this bearer key.
func WithAPIKey(key string) Option { return func(f *Fake) { f.apiKey = key } }

// WithDefault sets how requests are answered when the script is empty
// (default: an echo of the last user message).
func WithDefault(reply func(ChatRequest) Reply) Option { return func(f *Fake) { f.dflt = reply } }

// WithMaxRecorded bounds the requests kept (default 1000, oldest dropped).
func WithMaxRecorded(n int) Option { return func(f *Fake) { f.maxRecorded = n } }

// Fake is the model server as an http.Handler. It is safe for concurrent
// use.
type Fake struct {
	models      []string
	dims        int
	tps         float64
	apiKey      string
	dflt        func(ChatRequest) Reply
	maxRecorded int
	now         func() time.Time

	mu       sync.Mutex
	chat     []Reply
	embed    []Reply
	requests []Request
	mux      *http.ServeMux
}

// New returns a Fake.
func New(opts ...Option) *Fake {
	f := &Fake{models: []string{"fake-model"}, dims: 64, maxRecorded: 1000, now: time.Now}
	for _, o := range opts {
		o(f)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.chatCompletions)
	mux.HandleFunc("POST /v1/embeddings", f.embeddings)
	mux.HandleFunc("GET /v1/models", f.listModels)
	mux.HandleFunc("POST /api/chat", f.ollamaChat)
	mux.HandleFunc("POST /api/embed", f.ollamaEmbed)
	mux.HandleFunc("GET /api/tags", f.ollamaTags)
	mux.HandleFunc("POST /v1/messages", f.anthropicMessages)
	f.mux = mux
	return f
}

// Script queues replies for the next chat requests, one each, in order.
func (f *Fake) Script(replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat = append(f.chat, replies...)
}

// ScriptEmbeddings queues faults (or delays) for the next embedding
// requests; a Reply with no Fault answers normally.
func (f *Fake) ScriptEmbeddings(replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.embed = append(f.embed, replies...)
}

// Requests returns the recorded requests, oldest first.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// ChatRequests returns the recorded chat requests, oldest first.
func (f *Fake) ChatRequests() []ChatRequest {
	var out []ChatRequest
	for _, r := range f.Requests() {
		if r.Chat != nil {
			out = append(out, *r.Chat)
		}
	}
	return out
}

// Reset forgets the script and the recorded requests.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat, f.embed, f.requests = nil, nil, nil
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Server is a Fake listening on a loopback port.
type Server struct {
	*Fake
	// URL is the OpenAI-compatible base URL, ending in /v1.
	URL string
	// Root is the server's address without a path, Ollama's base URL.
	Root string
	srv  *httptest.Server
}

// NewServer starts a Fake on 127.0.0.1; the caller closes it.
func NewServer(opts ...Option) *Server {
	f := New(opts...)
	srv := httptest.NewServer(f)
	return &Server{Fake: f, URL: srv.URL + "/v1", Root: srv.URL, srv: srv}
}

// Close shuts the server down, cutting open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// record reads the body and keeps the request.
func (f *Fake) record(r *http.Request) Request {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	switch {
	case strings.HasSuffix(r.URL.Path, "/chat/completions"), r.URL.Path == "/api/chat":
		var c ChatRequest
		if json.Unmarshal(body, &c) == nil {
			req.Chat = &c
		}
	case strings.HasSuffix(r.URL.Path, "/embeddings"), r.URL.Path == "/api/embed":
		var e EmbedRequest
		var in struct {
			Input json.RawMessage `json:"input"`
		}
		if json.Unmarshal(body, &e) == nil && json.Unmarshal(body, &in) == nil {
			if e.Input = inputs(in.Input); e.Input != nil {
				req.Embed = &e
			}
		}
	}
	return f.keep(req)
}

// keep records req, dropping the oldest beyond the fake's limit, and
// returns it.
func (f *Fake) keep(req Request) Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	if f.maxRecorded > 0 && len(f.requests) > f.maxRecorded {
		f.requests = append([]Request(nil), f.requests[len(f.requests)-f.maxRecorded:]...)
	}
	return req
}

// inputs reads an embeddings input: one string or a list of them.
func inputs(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && many != nil {
		return many
	}
	return nil
}

func (f *Fake) nextChat(c ChatRequest) Reply {
	f.mu.Lock()
	if len(f.chat) > 0 {
		r := f.chat[0]
		f.chat = f.chat[1:]
		f.mu.Unlock()
		return r
	}
	f.mu.Unlock()
	if f.dflt != nil {
		return f.dflt(c)
	}
	return Reply{}
}

func (f *Fake) nextEmbed() Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.embed) == 0 {
		return Reply{}
	}
	r := f.embed[0]
	f.embed = f.embed[1:]
	return r
}

// authorized checks the bearer key when one is configured. A wrong key is
// echoed in the error, as some servers do, so that tests can check that
// clients keep it out of their own errors.
func (f *Fake) authorized(w http.ResponseWriter, r *http.Request) bool {
	if f.apiKey == "" {
		return true
	}
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == f.apiKey {
		return true
	}
	writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided: "+got)
	return false
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": typ}})
}

// failEarly answers the faults that replace the whole reply; it reports
// whether it did.
func failEarly(w http.ResponseWriter, reply Reply) bool {
	switch reply.Fault {
	case RateLimit:
		ra := reply.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Rate limit reached, please retry later")
		return true
	case ServerError:
		writeError(w, http.StatusInternalServerError, "server_error", "The server had an error while processing your request")
		return true
	case BadRequest:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "This model's maximum context length was exceeded")
		return true
	}
	return false
}

func (f *Fake) text(reply Reply, c ChatRequest) string {
	if reply.Text != "" || len(reply.ToolCalls) > 0 {
		return reply.Text
	}
	return c.LastUser()
}

// pump sends text piece by piece at the fake's pace (then filler without
// end for an Endless reply), striking the reply's fault before piece
// FaultAt or after the last piece. It reports false when the stream is
// over: strike ended it or the client went away.
func (f *Fake) pump(r *http.Request, reply Reply, text string, strike func(Fault) bool, send func(piece string)) bool {
	pieces := Pieces(text)
	for i := 0; ; i++ {
		if i == reply.FaultAt && strike(reply.Fault) {
			return false
		}
		var piece string
		switch {
		case i < len(pieces):
			piece = pieces[i]
		case reply.Fault == Endless:
			piece = endlessPiece
		}
		if piece == "" {
			break
		}
		if i > 0 && !wait(r, max(f.pace(), endlessGap(reply.Fault, i >= len(pieces)))) {
			return false
		}
		send(piece)
	}
	return reply.FaultAt <= len(pieces) || !strike(reply.Fault)
}

// hold waits for the reply's first-token delay and its gate; it reports
// false when the client went away first.
func hold(r *http.Request, reply Reply) bool {
	if reply.Gate != nil {
		select {
		case <-reply.Gate:
		case <-r.Context().Done():
			return false
		}
	}
	return wait(r, reply.FirstTokenDelay)
}

// wait sleeps for d unless the client goes away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// pace is the gap between streamed pieces.
func (f *Fake) pace() time.Duration {
	if f.tps <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / f.tps)
}

// endlessPiece is what an Endless stream repeats.
const endlessPiece = "and so on "

// endlessGap keeps a never-ending stream from flooding the client.
// strike injects a mid-stream fault into an SSE stream; it reports whether
// the stream is over.
// usage estimates token counts the way the fake counts pieces.
// Vector is the fake's embedding of text: deterministic, unit length, dims
// long. Equal texts get equal vectors; different texts almost orthogonal ones.
// Pieces splits text the way the fake streams it: each word with the
// spaces after it, each Chinese character (and CJK punctuation) alone.
// Joined, the pieces give back text.
// jsonLine writes one NDJSON line and flushes.
// strikeNDJSON injects a mid-stream fault into an NDJSON stream; it
// reports whether the stream is over.
