// Package openai is a kefu answer generator over any OpenAI-compatible
// chat-completions endpoint: OpenAI itself, DeepSeek, Qwen's compatible
// mode, vLLM, llama.cpp's server, LM Studio, Ollama's /v1. It sends the
// prompt the pipeline rendered (system prompt and messages, personal data
// already redacted) through langchaingo's OpenAI client and streams the
// answer back as it arrives. When the request offers tools, the model may
// call them before it answers: the calls are run and their results sent
// back, for a bounded number of rounds.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	lcopenai "github.com/tmc/langchaingo/llms/openai"

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
	cfg     Config
	llm     *lcopenai.LLM // refuses tool calls in a reply
	toolLLM *lcopenai.LLM // lets them through, for requests that offer tools
	service string
	opts    []llms.CallOption
}

// placeholderKey is sent when no key is configured: the client library
// refuses to start without one, and local servers ignore it.
const placeholderKey = "no-key"

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
	key := cfg.APIKey
	if key == "" {
		key = placeholderKey
	}
	newLLM := func(tools bool) (*lcopenai.LLM, error) {
		check := func(body io.ReadCloser, call *remote.Call) io.ReadCloser { return sseCheck(body, call, tools) }
		llm, err := lcopenai.New(
			lcopenai.WithToken(key),
			lcopenai.WithModel(cfg.Model),
			lcopenai.WithBaseURL(cfg.baseURL()),
			lcopenai.WithHTTPClient(remote.Client(cfg.HTTPClient, check)),
		)
		if err != nil {
			return nil, fmt.Errorf("openai generator: %s", remote.Scrub(err.Error(), cfg.APIKey))
		}
		return llm, nil
	}
	llm, err := newLLM(false)
	if err != nil {
		return nil, err
	}
	toolLLM, err := newLLM(true)
	if err != nil {
		return nil, err
	}
	opts := []llms.CallOption{llms.WithModel(cfg.Model), llms.WithTemperature(temp)}
	if cfg.MaxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(cfg.MaxTokens))
		// OpenAI's own API wants max_completion_tokens (its reasoning
		// models refuse max_tokens); the compatible servers understand
		// max_tokens, and not all of them the newer field.
		if u.Hostname() != "api.openai.com" {
			opts = append(opts, llms.WithMetadata(map[string]any{"openai:use_legacy_max_tokens": true}))
		}
	}
	return &Generator{
		cfg: cfg, llm: llm, toolLLM: toolLLM, opts: opts,
		service: fmt.Sprintf("openai chat %q at %s", cfg.Model, remote.RedactURL(cfg.baseURL())),
	}, nil
}

// Name is the backend name reported with answers: "openai/<model>".
func (g *Generator) Name() string { return "openai/" + g.cfg.Model }

// MaxToolRounds is how many times one answer may go back to the model
// with tool results; the request after the last round tells the model to
// answer without tools.
const MaxToolRounds = 4

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
		llm, tools := g.llm, toolDefs(req.Tools)
		if len(tools) > 0 {
			llm = g.toolLLM
		}
		msgs := chat.Messages(req)
		for round := 0; ; round++ {
			calls, ok := g.round(ctx, llm, msgs, tools, round, yield)
			if !ok || len(calls.calls) == 0 {
				return
			}
			if round == MaxToolRounds {
				yield("", chat.Unavailable(fmt.Errorf("%s: the model still called tools after %d rounds", g.service, MaxToolRounds)))
				return
			}
			msgs = append(msgs, calls.message())
			for _, c := range calls.calls {
				result, err := runTool(ctx, req.Tools, c)
				if err != nil {
					yield("", fmt.Errorf("tool %s: %w", c.FunctionCall.Name, err))
					return
				}
				msgs = append(msgs, llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
					llms.ToolCallResponse{ToolCallID: c.ID, Name: c.FunctionCall.Name, Content: result}}})
			}
		}
	}
}

// turnCalls is what a model round asked for: the text it wrote with them,
// and the calls.
type turnCalls struct {
	text  string
	calls []llms.ToolCall
}

// message is the model's round as it goes back into the history.
func (tc turnCalls) message() llms.MessageContent {
	var parts []llms.ContentPart
	if tc.text != "" {
		parts = append(parts, llms.TextContent{Text: tc.text})
	}
	for _, c := range tc.calls {
		parts = append(parts, c)
	}
	return llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: parts}
}

// round sends msgs once, yielding the text as it streams, and returns the
// tool calls the model made. ok is false when the stream ended (an error
// was yielded or the reader stopped).
func (g *Generator) round(ctx context.Context, llm *lcopenai.LLM, msgs []llms.MessageContent, tools []llms.Tool, round int,
	yield func(string, error) bool) (calls turnCalls, ok bool) {
	var skip func([]byte) bool
	opts := g.opts
	if len(tools) > 0 {
		skip = toolDelta
		opts = append(append([]llms.CallOption(nil), opts...), llms.WithTools(tools))
		if round == MaxToolRounds {
			opts = append(opts, llms.WithToolChoice("none"))
		}
	}
	resp, ok := chat.Stream(ctx, llm, msgs, opts, skip, g.fail, yield)
	if !ok {
		return calls, false
	}
	if len(resp.Choices) > 0 {
		calls.text = resp.Choices[0].Content
		for _, c := range resp.Choices[0].ToolCalls {
			if c.FunctionCall != nil && c.FunctionCall.Name != "" {
				calls.calls = append(calls.calls, c)
			}
		}
	}
	return calls, true
}

// toolDefs is the request's tools in the client library's form.
func toolDefs(tools []kefu.Tool) []llms.Tool {
	out := make([]llms.Tool, 0, len(tools))
	for _, t := range tools {
		params := t.Parameters
		if params == nil {
			params = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		out = append(out, llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
			Name: t.Name, Description: t.Description, Parameters: params}})
	}
	return out
}

// runTool runs one call of the model's. Its arguments go to the tool as
// written ("{}" when empty); a call of a tool that was not offered is
// answered with an error text.
func runTool(ctx context.Context, tools []kefu.Tool, c llms.ToolCall) (string, error) {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
		if t.Name != c.FunctionCall.Name || t.Call == nil {
			continue
		}
		args := strings.TrimSpace(c.FunctionCall.Arguments)
		if args == "" {
			args = "{}"
		}
		return t.Call(ctx, json.RawMessage(args))
	}
	return fmt.Sprintf("error: there is no tool named %q; the tools are %s", c.FunctionCall.Name, strings.Join(names, ", ")), nil
}

// toolDelta reports whether a streamed chunk is the client library's
// rendering of tool-call deltas (a JSON list of calls) rather than text.
func toolDelta(chunk []byte) bool {
	if !bytes.HasPrefix(bytes.TrimSpace(chunk), []byte("[{")) {
		return false
	}
	var deltas []struct {
		Function *json.RawMessage `json:"function"`
	}
	if json.Unmarshal(chunk, &deltas) != nil || len(deltas) == 0 {
		return false
	}
	for _, d := range deltas {
		if d.Function == nil {
			return false
		}
	}
	return true
}

// fail turns a failed call into kefu's error, naming the service and never
// the key.
func (g *Generator) fail(ctx context.Context, call *remote.Call, err error) error {
	e := remote.Failure(ctx, g.service, call, err, g.cfg.APIKey)
	e.Message = statusPrefix.ReplaceAllString(e.Message, "")
	return chat.Unavailable(e)
}

// statusPrefix is how the client library words a bad status, which the
// error already states.
var statusPrefix = regexp.MustCompile(`^API returned unexpected status code: \d+:? ?`)

// sseCheck checks a streamed reply line by line: every data line must be
// JSON or [DONE]; an error object, a legacy function call, or a tool call
// when no tools were offered, ends the stream with an error; and a stream
// must end with [DONE] or a finish reason, else it was cut short.
func sseCheck(body io.ReadCloser, call *remote.Call, tools bool) io.ReadCloser {
	complete := false
	return remote.LineCheck{
		Line: func(line []byte) error {
			data, ok := bytes.CutPrefix(line, []byte("data:"))
			if !ok {
				return nil // blank lines, comments, event: and id: fields
			}
			data = bytes.TrimSpace(data)
			if string(data) == "[DONE]" {
				complete = true
				return nil
			}
			if plainChunk(data) {
				return nil
			}
			finished, err := checkChunk(data, tools)
			complete = complete || finished
			return err
		},
		End: func() error {
			if !complete {
				return errors.New("stream cut short: it ended without [DONE]")
			}
			return nil
		},
	}.Wrap(body, call)
}

// checkChunk decodes one streamed chunk and fails it when it is not JSON,
// holds an error, a legacy function call, or a tool call when no tools
// were offered; finished reports a finish reason.
func checkChunk(data []byte, tools bool) (finished bool, err error) {
	var chunk struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
		Choices []struct {
			Delta struct {
				ToolCalls    json.RawMessage `json:"tool_calls"`
				FunctionCall json.RawMessage `json:"function_call"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &chunk); err != nil {
		return false, fmt.Errorf("malformed stream chunk: %w", err)
	}
	if chunk.Error != nil {
		return false, fmt.Errorf("the model failed mid-stream: %s", chunk.Error.Message)
	}
	for _, c := range chunk.Choices {
		if isSet(c.Delta.FunctionCall) || (!tools && isSet(c.Delta.ToolCalls)) {
			return false, errors.New("the model answered with a tool call, and no tools were offered")
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			finished = true
		}
	}
	return finished, nil
}

// plainChunk reports, without decoding it, that data is JSON with no
// error, no tool or function call and no finish reason other than null:
// the text chunks that make up nearly all of a stream, which need no
// closer look. Keys are matched as encoding/json matches them, ignoring
// case; a chunk with an escaped ASCII character (\u00XX), which could spell
// a key, goes to the full check. It may say false of a plain chunk (a
// piece of text that is the word "error" in quotes, say); that only costs
// the full check. Values of the wrong type are left to the client
// library's decoder, which fails on them.
func plainChunk(data []byte) bool {
	if !json.Valid(data) || bytes.Contains(data, []byte(`\u00`)) {
		return false
	}
	const finish = `"finish_reason"`
	for i := bytes.IndexByte(data, '"'); i >= 0; {
		rest := data[i:]
		switch {
		case hasPrefixFold(rest, `"error"`), hasPrefixFold(rest, `"tool_calls"`), hasPrefixFold(rest, `"function_call"`):
			return false
		case hasPrefixFold(rest, finish):
			rest = bytes.TrimLeft(rest[len(finish):], " \t\r\n")
			if len(rest) == 0 || rest[0] != ':' {
				return false
			}
			if !bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("null")) {
				return false
			}
		}
		j := bytes.IndexByte(data[i+1:], '"')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return true
}

// hasPrefixFold reports whether data begins with the lower-case ASCII key,
// ignoring the case of data's letters.
func hasPrefixFold(data []byte, key string) bool {
	if len(data) < len(key) {
		return false
	}
	for j := 0; j < len(key); j++ {
		c := data[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[j] {
			return false
		}
	}
	return true
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "[]"
}
