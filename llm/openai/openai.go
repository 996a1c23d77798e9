// Package openai is a kefu answer generator over any OpenAI-compatible
// chat-completions endpoint: OpenAI itself, DeepSeek, Qwen's compatible
// mode, vLLM, llama.cpp's server, LM Studio, Ollama's /v1. It sends the
// prompt the pipeline rendered (system prompt and messages, personal data
// already redacted) and streams the answer back as it arrives, reading the
// server-sent events itself (see docs/DECISIONS.md: the client library's
// stream reader was the largest cost of a streamed turn). When the request
// offers tools, the model may call them before it answers: the calls are
// run and their results sent back, for a bounded number of rounds.
package openai

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Defaults of Config's zero values.
const (
	DefaultTemperature = 0.2
	DefaultTimeout     = 60 * time.Second
)

// Config is plain data; the zero value of a field means its default.
type Config struct {
	// BaseURL is the API's base URL, ending in /v1 for most servers
	// (default DefaultBaseURL).
	BaseURL string
	// Model is the model name the server knows (required).
	Model string
	// APIKey is sent as a bearer token. Local servers need none. It is a
	// secret: read it from the environment or a file, never log it.
	APIKey string
	// Temperature is the sampling temperature (nil: DefaultTemperature; a
	// customer-service answer should stay close to its sources).
	Temperature *float64
	// MaxTokens caps the answer's length in tokens (0: the server's
	// default).
	MaxTokens int
	// Timeout bounds one whole answer (default DefaultTimeout).
	Timeout time.Duration
	// HTTPClient's transport carries the requests (default
	// http.DefaultTransport); its Timeout is ignored in favour of Timeout.
	HTTPClient *http.Client
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }

// String keeps the API key out of anything that prints the config.
func (c Config) String() string { return c.view().String() }

func (c Config) view() remote.ConfigView {
	return remote.ConfigView{Kind: "openai.Config", BaseURL: c.baseURL(), Model: c.Model, KeySet: c.APIKey != "",
		MaxTokens: c.MaxTokens, Timeout: c.Timeout}
}

func (c Config) baseURL() string { return remote.BaseURL(c.BaseURL, DefaultBaseURL) }

// Generator streams answers from an OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Generator struct {
	cfg      Config
	client   *http.Client
	endpoint string // the chat-completions URL
	maxField string // "max_tokens", or "max_completion_tokens" for OpenAI itself
	temp     float64
	service  string
}

// New returns a generator for cfg. It fails on a missing model or a base
// URL that is not http(s); it does not call the server.
func New(cfg Config) (*Generator, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("openai generator: no model configured")
	}
	u, err := remote.HTTPURL(cfg.baseURL())
	if err != nil {
		return nil, fmt.Errorf("openai generator: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	temp := DefaultTemperature
	if cfg.Temperature != nil {
		temp = *cfg.Temperature
	}
	// OpenAI's own API wants max_completion_tokens (its reasoning models
	// refuse max_tokens); the compatible servers understand max_tokens,
	// and not all of them the newer field.
	maxField := "max_tokens"
	if u.Hostname() == "api.openai.com" {
		maxField = "max_completion_tokens"
	}
	return &Generator{
		cfg: cfg, client: remote.Client(cfg.HTTPClient, nil), temp: temp, maxField: maxField,
		endpoint: strings.TrimSuffix(cfg.baseURL(), "/") + "/chat/completions",
		service:  fmt.Sprintf("openai chat %q at %s", cfg.Model, remote.RedactURL(cfg.baseURL())),
	}, nil
}

// Name is the backend name reported with answers: "openai/<model>".
func (g *Generator) Name() string { return "openai/" + g.cfg.Model }

// MaxToolRounds is how many times one answer may go back to the model
// with tool results; the request after the last round tells the model to
// answer without tools.
const MaxToolRounds = chat.MaxToolRounds

// Generate sends req.System and req.Messages and yields the answer's text
// as it arrives, piece by piece. A failure ends the stream with an error
// of code kefu.EUnavailable whose cause is a *remote.Error (status,
// Retry-After); no error holds the API key. When ctx ends, the request is
// abandoned and ctx's error is the cause.
//
// With req.Tools, the tools are offered to the model. When it calls some,
// each call runs in turn (an unknown tool is answered with an error text,
// not run), the results go back as tool messages and the model is asked
// again; text it writes along the way is yielded as it comes. After
// MaxToolRounds rounds the model must answer in text. A tool's error ends
// the stream with that error.
func (g *Generator) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
		tools := toolDefs(req.Tools)
		msgs := messages(req)
		var text string // the text of the last round
		round := func(ctx context.Context, call *remote.Call, n int) ([]chat.ToolCall, error) {
			r := request{Model: g.cfg.Model, Messages: msgs, Temperature: g.temp, Stream: true, Tools: tools}
			if len(tools) > 0 && n == MaxToolRounds {
				r.ToolChoice = "none"
			}
			r.setMaxTokens(g.maxField, g.cfg.MaxTokens)
			got, err := g.stream(ctx, r, call, yield)
			text = got.text
			return got.toolCalls(), err
		}
		answered := func(calls []chat.ToolCall, results []string) {
			msgs = append(msgs, assistantCalls(text, calls))
			for i, c := range calls {
				msgs = append(msgs, message{Role: "tool", Content: &results[i], ToolCallID: c.ID})
			}
		}
		chat.WithTools(ctx, req.Tools, g.service, round, g.fail, answered, yield)
	}
}

// The chat-completions request, as much of it as kefu sends.
type (
	request struct {
		Model       string    `json:"model"`
		Messages    []message `json:"messages"`
		Temperature float64   `json:"temperature"`
		Stream      bool      `json:"stream"`
		Tools       []tool    `json:"tools,omitempty"`
		ToolChoice  string    `json:"tool_choice,omitempty"`
		// One of the two caps is set (see Generator.maxField).
		MaxTokens           int `json:"max_tokens,omitempty"`
		MaxCompletionTokens int `json:"max_completion_tokens,omitempty"`
	}
	message struct {
		Role       string     `json:"role"`
		Content    *string    `json:"content"` // null on a round of only tool calls
		ToolCalls  []toolCall `json:"tool_calls,omitempty"`
		ToolCallID string     `json:"tool_call_id,omitempty"`
	}
	tool struct {
		Type     string      `json:"type"`
		Function functionDef `json:"function"`
	}
	functionDef struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitempty"`
		Parameters  map[string]any `json:"parameters"`
	}
	toolCall struct {
		ID       string       `json:"id"`
		Type     string       `json:"type"`
		Function functionCall `json:"function"`
	}
	functionCall struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
)

// setMaxTokens caps the answer at n tokens (0: no cap) in the field the
// server reads.
func (r *request) setMaxTokens(field string, n int) {
	if field == "max_completion_tokens" {
		r.MaxCompletionTokens = n
	} else {
		r.MaxTokens = n
	}
}

// messages is the rendered prompt (chat.Turns) as the API takes it.
func messages(req kefu.GenerateRequest) []message {
	var out []message
	for _, t := range chat.Turns(req) {
		out = append(out, message{Role: t.Role, Content: &t.Content})
	}
	return out
}

// assistantCalls is the model's round as it goes back into the history:
// the text it wrote and the calls it made.
func assistantCalls(text string, calls []chat.ToolCall) message {
	m := message{Role: "assistant"}
	if text != "" {
		m.Content = &text
	}
	for _, c := range calls {
		m.ToolCalls = append(m.ToolCalls, toolCall{ID: c.ID, Type: "function", Function: functionCall{Name: c.Name, Arguments: c.Arguments}})
	}
	return m
}

// turnCalls is what a model round wrote: its text and its tool calls.
type turnCalls struct {
	text  string
	calls []toolCall
}

// toolCalls is the round's calls as the tool rounds take them.
func (tc turnCalls) toolCalls() []chat.ToolCall {
	var out []chat.ToolCall
	for _, c := range tc.calls {
		out = append(out, chat.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
	}
	return out
}

// stream makes one streamed call and reads it to its end.
func (g *Generator) stream(ctx context.Context, r request, call *remote.Call, yield func(string, error) bool) (turnCalls, error) {
	header := http.Header{}
	if g.cfg.APIKey != "" {
		header.Set("Authorization", "Bearer "+g.cfg.APIKey)
	}
	resp, err := chat.Post(ctx, g.client, g.endpoint, header, r)
	if err != nil {
		return turnCalls{}, err
	}
	defer resp.Body.Close()
	return readStream(resp.Body, len(r.Tools) > 0, call, yield)
}

// readStream reads a streamed reply, yielding its text and gathering its
// tool calls. Every data line must be JSON or [DONE]; an error object, a
// legacy function call, or a tool call when no tools were offered, fails
// the stream; and a stream must end with [DONE] or a finish reason, else
// it was cut short. A fault is recorded in call, so that it is the
// error's cause; a reader that stops early gives chat.ErrStopped.
func readStream(body io.Reader, tools bool, call *remote.Call, yield func(string, error) bool) (turnCalls, error) {
	br := bufio.NewReaderSize(body, 8<<10)
	var text strings.Builder
	var calls toolCalls
	complete := false
	fault := func(err error) (turnCalls, error) {
		call.StreamFault(err)
		return turnCalls{}, err
	}
	for {
		data, err := remote.ReadData(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault(err)
		}
		if string(data) == "[DONE]" {
			complete = true
			break
		}
		c, err := decodeChunk(data, tools)
		if err != nil {
			return fault(err)
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				complete = true
			}
			for _, d := range ch.Delta.ToolCalls {
				calls.add(d)
			}
			if piece := ch.Delta.Content; piece != "" {
				text.WriteString(piece)
				if !yield(piece, nil) {
					return turnCalls{}, chat.ErrStopped
				}
			}
		}
	}
	if !complete {
		return fault(errors.New("stream cut short: it ended without [DONE]"))
	}
	out := turnCalls{text: text.String()}
	for _, c := range calls.list {
		if c.Function.Name != "" {
			out.calls = append(out.calls, c)
		}
	}
	return out, nil
}

// chunk is one streamed piece of a reply, as much of it as kefu reads.
type chunk struct {
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
	Choices []struct {
		Delta struct {
			Content      string          `json:"content"`
			ToolCalls    []toolDelta     `json:"tool_calls"`
			FunctionCall json.RawMessage `json:"function_call"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// toolDelta is a piece of a tool call: the first names it, the next add
// to its arguments.
type toolDelta struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// decodeChunk decodes one data line and fails it when it is not JSON,
// holds an error, a legacy function call, or a tool call when no tools
// were offered.
func decodeChunk(data []byte, tools bool) (chunk, error) {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("malformed stream chunk: %w", err)
	}
	if c.Error != nil {
		return c, fmt.Errorf("the model failed mid-stream: %s", c.Error.Message)
	}
	for _, ch := range c.Choices {
		if isSet(ch.Delta.FunctionCall) || (!tools && len(ch.Delta.ToolCalls) > 0) {
			return c, errors.New("the model answered with a tool call, and no tools were offered")
		}
	}
	return c, nil
}

// maxToolCalls bounds the calls of one round, whatever indexes a server
// sends.
const maxToolCalls = 32

// toolCalls gathers a round's tool calls from their pieces, by index. A
// piece that brings a new id at an index already taken starts a new call:
// some servers (Ollama's /v1 among them) number every call 0.
type toolCalls struct {
	list []toolCall
	at   map[int]int // index -> position in list
}

func (tc *toolCalls) add(d toolDelta) {
	p, ok := tc.at[d.Index]
	if !ok || d.ID != "" && tc.list[p].ID != "" && tc.list[p].ID != d.ID {
		if len(tc.list) >= maxToolCalls {
			return
		}
		if tc.at == nil {
			tc.at = map[int]int{}
		}
		tc.list = append(tc.list, toolCall{Type: "function"})
		p = len(tc.list) - 1
		tc.at[d.Index] = p
	}
	c := &tc.list[p]
	if d.ID != "" {
		c.ID = d.ID
	}
	if d.Type != "" {
		c.Type = d.Type
	}
	if c.Function.Name == "" {
		c.Function.Name = d.Function.Name // sent once; a server that repeats it does not double it
	}
	c.Function.Arguments += d.Function.Arguments
}

// toolDefs is the request's tools as the API takes them.
func toolDefs(tools []kefu.Tool) []tool {
	out := make([]tool, 0, len(tools))
	for _, t := range tools {
		out = append(out, tool{Type: "function", Function: functionDef{Name: t.Name, Description: t.Description, Parameters: chat.Schema(t)}})
	}
	return out
}

// fail turns a failed call into kefu's error, naming the service and never
// the key.
func (g *Generator) fail(ctx context.Context, call *remote.Call, err error) error {
	return chat.Unavailable(remote.Failure(ctx, g.service, call, err, g.cfg.APIKey))
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "[]"
}
