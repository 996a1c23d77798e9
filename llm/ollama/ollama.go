// Package ollama is a kefu answer generator over Ollama's native chat API
// (/api/chat, streamed as NDJSON) through langchaingo's Ollama client. It
// sends the prompt the pipeline rendered (system prompt and messages,
// personal data already redacted) and streams the answer back as it
// arrives. (Ollama also serves an OpenAI-compatible API under /v1, which
// the openai package speaks.)
package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	lcollama "github.com/tmc/langchaingo/llms/ollama"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
)

// Defaults of Config's zero values.
const (
	DefaultBaseURL     = "http://localhost:11434"
	DefaultTemperature = 0.2
	DefaultTimeout     = 60 * time.Second
)

// Config is plain data; the zero value of a field means its default.
type Config struct {
	BaseURL     string        // Ollama's address, without /api (default DefaultBaseURL)
	Model       string        // required, e.g. qwen2.5:7b
	Temperature *float64      // nil: DefaultTemperature
	MaxTokens   int           // num_predict; 0: the model's default
	Timeout     time.Duration // bounds one whole answer (default DefaultTimeout)
	HTTPClient  *http.Client  // its transport carries the requests (default http.DefaultTransport)
}

// Generator streams answers from Ollama. It is safe for concurrent use.
type Generator struct {
	cfg     Config
	llm     *lcollama.LLM
	service string
	opts    []llms.CallOption
}

// New returns a generator for cfg. It fails on a missing model or a base
// URL that is not http(s); it does not call the server.
func New(cfg Config) (*Generator, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("ollama generator: no model configured")
	}
	cfg.BaseURL = remote.BaseURL(cfg.BaseURL, DefaultBaseURL)
	if _, err := remote.HTTPURL(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("ollama generator: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	temp := DefaultTemperature
	if cfg.Temperature != nil {
		temp = *cfg.Temperature
	}
	client := remote.Client(cfg.HTTPClient, ndjsonCheck)
	llm, err := lcollama.New(lcollama.WithServerURL(cfg.BaseURL), lcollama.WithModel(cfg.Model), lcollama.WithHTTPClient(client))
	if err != nil {
		return nil, fmt.Errorf("ollama generator: %w", err)
	}
	opts := []llms.CallOption{llms.WithTemperature(temp)}
	if cfg.MaxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(cfg.MaxTokens))
	}
	return &Generator{cfg: cfg, llm: llm, opts: opts,
		service: fmt.Sprintf("ollama chat %q at %s", cfg.Model, remote.RedactURL(cfg.BaseURL))}, nil
}

// Name is the backend name reported with answers: "ollama/<model>".
func (g *Generator) Name() string { return "ollama/" + g.cfg.Model }

// Generate sends req.System and req.Messages and yields the answer's text
// as it arrives. A failure ends the stream with an error of code
// kefu.EUnavailable whose cause is a *remote.Error; when ctx ends, the
// request is abandoned and ctx's error is the cause.
func (g *Generator) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
		stream(ctx, g.llm, messages(req), g.opts, g.fail, yield)
	}
}

// fail turns a failed call into kefu's error, naming the service.
func (g *Generator) fail(ctx context.Context, call *remote.Call, err error) error {
	e := remote.Failure(ctx, g.service, call, err)
	return chat.Unavailable(e)
}

// ndjsonCheck checks a streamed reply line by line: every line must be a
// JSON object; one with an error, or with tool calls (kefu offers no
// tools), ends the stream with an error; and the stream must end with a
// line marked done, else it was cut short.
func ndjsonCheck(body io.ReadCloser, call *remote.Call) io.ReadCloser {
	done := false
	return remote.LineCheck{
		Line: func(line []byte) error {
			if len(bytes.TrimSpace(line)) == 0 {
				return nil
			}
			var msg struct {
				Error   string `json:"error"`
				Done    bool   `json:"done"`
				Message *struct {
					ToolCalls json.RawMessage `json:"tool_calls"`
				} `json:"message"`
			}
			if err := json.Unmarshal(line, &msg); err != nil {
				return fmt.Errorf("malformed stream line: %w", err)
			}
			if msg.Error != "" {
				return fmt.Errorf("the model failed mid-stream: %s", msg.Error)
			}
			if msg.Message != nil && len(msg.Message.ToolCalls) > 0 && string(msg.Message.ToolCalls) != "null" && string(msg.Message.ToolCalls) != "[]" {
				return errors.New("the model answered with a tool call, and kefu offers no tools")
			}
			done = done || msg.Done
			return nil
		},
		End: func() error {
			if !done {
				return errors.New("stream cut short: it ended before the line marked done")
			}
			return nil
		},
	}.Wrap(body, call)
}
