// Package anthropic is a kefu answer generator over Anthropic's Messages
// API. It sends the prompt the pipeline rendered (the system prompt in the
// request's system field, then the conversation; personal data already
// redacted) through langchaingo's Anthropic client and streams the answer
// back as it arrives. It does not call tools: a request's Tools are
// ignored, as kefu.GenerateRequest allows.
package anthropic

import (
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
	lcanthropic "github.com/tmc/langchaingo/llms/anthropic"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
)

// DefaultBaseURL is Anthropic's API.
const DefaultBaseURL = "https://api.anthropic.com"

// Defaults of Config's zero values.
const (
	DefaultTemperature = 0.2
	DefaultMaxTokens   = 1024
	DefaultTimeout     = 60 * time.Second
)

// Config is plain data; the zero value of a field means its default.
type Config struct {
	// BaseURL is the API's address, with or without its /v1 (default
	// DefaultBaseURL).
	BaseURL string
	// Model is the model name, e.g. claude-3-5-haiku-latest (required).
	Model string
	// APIKey is sent in the x-api-key header (required). It is a secret:
	// read it from the environment or a file, never log it.
	APIKey string
	// Temperature is the sampling temperature (nil: DefaultTemperature; a
	// customer-service answer should stay close to its sources).
	Temperature *float64
	// MaxTokens caps the answer's length in tokens (0: DefaultMaxTokens;
	// the API requires a cap).
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
	return remote.ConfigView{Kind: "anthropic.Config", BaseURL: c.baseURL(), Model: c.Model, KeySet: c.APIKey != "",
		MaxTokens: c.MaxTokens, Timeout: c.Timeout}
}

func (c Config) baseURL() string { return remote.BaseURL(c.BaseURL, DefaultBaseURL) }

// apiURL is the base the client library appends /messages to.
func (c Config) apiURL() string {
	base := c.baseURL()
	if strings.HasSuffix(base, "/v1") {
		return base
	}
	return base + "/v1"
}

// Generator streams answers from Anthropic's Messages API. It is safe for
// concurrent use.
type Generator struct {
	cfg     Config
	llm     *lcanthropic.LLM
	service string
	opts    []llms.CallOption
}

// New returns a generator for cfg. It fails on a missing model or key, or
// a base URL that is not http(s); it does not call the server.
func New(cfg Config) (*Generator, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("anthropic generator: no model configured")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("anthropic generator: no API key configured")
	}
	if _, err := remote.HTTPURL(cfg.baseURL()); err != nil {
		return nil, fmt.Errorf("anthropic generator: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	temp := DefaultTemperature
	if cfg.Temperature != nil {
		temp = *cfg.Temperature
	}
	llm, err := lcanthropic.New(
		lcanthropic.WithToken(cfg.APIKey),
		lcanthropic.WithModel(cfg.Model),
		lcanthropic.WithBaseURL(cfg.apiURL()),
		lcanthropic.WithHTTPClient(remote.Client(cfg.HTTPClient, sseCheck)),
	)
	if err != nil {
		return nil, fmt.Errorf("anthropic generator: %s", remote.Scrub(err.Error(), cfg.APIKey))
	}
	return &Generator{
		cfg: cfg, llm: llm,
		opts:    []llms.CallOption{llms.WithModel(cfg.Model), llms.WithTemperature(temp), llms.WithMaxTokens(cfg.MaxTokens)},
		service: fmt.Sprintf("anthropic messages %q at %s", cfg.Model, remote.RedactURL(cfg.baseURL())),
	}, nil
}

// Name is the backend name reported with answers: "anthropic/<model>".
func (g *Generator) Name() string { return "anthropic/" + g.cfg.Model }

// Generate sends req.System and req.Messages and yields the answer's text
// as it arrives, piece by piece. A failure ends the stream with an error
// of code kefu.EUnavailable whose cause is a *remote.Error (status,
// Retry-After); no error holds the API key. When ctx ends, the request is
// abandoned and ctx's error is the cause. req.Tools are not offered.
func (g *Generator) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
		chat.Stream(ctx, g.llm, messages(req), g.opts, nil, g.fail, yield)
	}
}

// fail turns a failed call into kefu's error, naming the service and never
// the key.
func (g *Generator) fail(ctx context.Context, call *remote.Call, err error) error {
	e := remote.Failure(ctx, g.service, call, err, g.cfg.APIKey)
	e.Message = libraryPrefix.ReplaceAllString(e.Message, "")
	return chat.Unavailable(e)
}

// libraryPrefix is how the client library words a failure and a bad
// status, which the error already states.
var libraryPrefix = regexp.MustCompile(`^(anthropic: failed to create message: )?(API returned unexpected status code: \d+:? ?)?`)

// messages is the rendered prompt in the client library's form (see
// chat.Messages) with its system turns joined into one, first: the library
// moves it to the request's system field, and the API has no system role
// inside the conversation.
func messages(req kefu.GenerateRequest) []llms.MessageContent {
	var out []llms.MessageContent
	var system []string
	for _, m := range chat.Messages(req) {
		if m.Role != llms.ChatMessageTypeSystem {
			out = append(out, m)
			continue
		}
		for _, p := range m.Parts {
			if t, ok := p.(llms.TextContent); ok {
				system = append(system, t.Text)
			}
		}
	}
	if len(system) > 0 {
		out = append([]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeSystem, strings.Join(system, "\n\n"))}, out...)
	}
	return out
}

// sseCheck checks a streamed reply line by line: every data line must be a
// JSON event; an error event, or a tool call (none are offered), ends the
// stream with an error; and a stream must end with message_stop, else it
// was cut short. A reply that is not streamed passes unchecked.
func sseCheck(body io.ReadCloser, call *remote.Call) io.ReadCloser {
	complete, streamed := false, false
	return remote.LineCheck{
		Line: func(line []byte) error {
			data, ok := strings.CutPrefix(string(line), "data:")
			if !ok {
				if strings.HasPrefix(string(line), "event:") {
					streamed = true
				}
				return nil // blank lines, comments, event: and id: fields
			}
			streamed = true
			var ev struct {
				Type  string `json:"type"`
				Error *struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
				ContentBlock *struct {
					Type string `json:"type"`
				} `json:"content_block"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &ev); err != nil {
				return fmt.Errorf("malformed stream event: %w", err)
			}
			switch {
			case ev.Type == "error":
				msg := "no reason given"
				if ev.Error != nil {
					msg = strings.TrimSpace(ev.Error.Type + ": " + ev.Error.Message)
				}
				return fmt.Errorf("the model failed mid-stream: %s", msg)
			case ev.Type == "content_block_start" && ev.ContentBlock != nil && ev.ContentBlock.Type == "tool_use":
				return errors.New("the model answered with a tool call, and no tools were offered")
			case ev.Type == "message_stop":
				complete = true
			}
			return nil
		},
		End: func() error {
			if streamed && !complete {
				return errors.New("stream cut short: it ended without message_stop")
			}
			return nil
		},
	}.Wrap(body, call)
}
