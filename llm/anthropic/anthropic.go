// Package anthropic is a kefu answer generator over Anthropic's Messages
// API. It sends the prompt the pipeline rendered (the system prompt in the
// request's system field, then the conversation; personal data already
// redacted) and streams the answer back as it arrives, reading the
// server-sent events itself (langchaingo's client keeps only the first
// block of a reply, so it loses tool calls that follow text). When the
// request offers tools, the model may call them before it answers, for a
// bounded number of rounds, as with the OpenAI-compatible generator.
package anthropic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

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

// messagesURL is the Messages API's address.
func (c Config) messagesURL() string {
	base := c.baseURL()
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return base + "/messages"
}

// apiVersion is the Messages API version kefu speaks.
const apiVersion = "2023-06-01"

// Generator streams answers from Anthropic's Messages API. It is safe for
// concurrent use.
type Generator struct {
	cfg     Config
	client  *http.Client
	temp    float64
	service string
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
	return &Generator{
		cfg: cfg, client: remote.Client(cfg.HTTPClient, nil), temp: temp,
		service: fmt.Sprintf("anthropic messages %q at %s", cfg.Model, remote.RedactURL(cfg.baseURL())),
	}, nil
}

// Name is the backend name reported with answers: "anthropic/<model>".
func (g *Generator) Name() string { return "anthropic/" + g.cfg.Model }

// Generate sends req.System and req.Messages and yields the answer's text
// as it arrives, piece by piece. A failure ends the stream with an error
// of code kefu.EUnavailable whose cause is a *remote.Error (status,
// Retry-After); no error holds the API key. When ctx ends, the request is
// abandoned and ctx's error is the cause.
//
// With req.Tools, the tools are offered to the model. When it calls some,
// each call runs in turn (an unknown tool is answered with an error text,
// not run), the results go back as tool_result blocks and the model is
// asked again; text it writes along the way is yielded as it comes. After
// chat.MaxToolRounds rounds the model must answer in text. A tool's error
// ends the stream with that error.
func (g *Generator) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
		system, msgs := messages(req)
		tools := toolDefs(req.Tools)
		var text string // the text of the last round
		round := func(ctx context.Context, call *remote.Call, n int) ([]chat.ToolCall, error) {
			r := request{Model: g.cfg.Model, MaxTokens: g.cfg.MaxTokens, Temperature: g.temp, System: system,
				Messages: msgs, Stream: true, Tools: tools}
			if len(tools) > 0 && n == chat.MaxToolRounds {
				r.ToolChoice = &toolChoice{Type: "none"}
			}
			got, err := g.stream(ctx, r, call, yield)
			text = got.text
			return got.calls, err
		}
		answered := func(calls []chat.ToolCall, results []string) {
			var asked, answers []block
			if strings.TrimSpace(text) != "" { // the API refuses a blank text block
				asked = append(asked, block{Type: "text", Text: text})
			}
			for i, c := range calls {
				input := json.RawMessage(strings.TrimSpace(c.Arguments))
				if !json.Valid(input) || !bytes.HasPrefix(input, []byte("{")) {
					input = json.RawMessage("{}") // the tool got the arguments as written
				}
				asked = append(asked, block{Type: "tool_use", ID: c.ID, Name: c.Name, Input: input})
				answers = append(answers, block{Type: "tool_result", ToolUseID: c.ID, Content: results[i]})
			}
			msgs = append(msgs, message{Role: "assistant", Content: asked}, message{Role: "user", Content: answers})
		}
		chat.WithTools(ctx, req.Tools, g.service, round, g.fail, answered, yield)
	}
}

// The Messages API request, as much of it as kefu sends.
type (
	request struct {
		Model       string      `json:"model"`
		MaxTokens   int         `json:"max_tokens"`
		Temperature float64     `json:"temperature"`
		System      string      `json:"system,omitempty"`
		Messages    []message   `json:"messages"`
		Stream      bool        `json:"stream"`
		Tools       []tool      `json:"tools,omitempty"`
		ToolChoice  *toolChoice `json:"tool_choice,omitempty"`
	}
	message struct {
		Role    string `json:"role"`
		Content any    `json:"content"` // a string, or []block
	}
	block struct {
		Type      string          `json:"type"`
		Text      string          `json:"text,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   string          `json:"content,omitempty"`
	}
	tool struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitempty"`
		InputSchema map[string]any `json:"input_schema"`
	}
	toolChoice struct {
		Type string `json:"type"`
	}
)

// messages is the rendered prompt (chat.Turns) as the API takes it: the
// system turns joined into the system field (the API has no system role
// inside the conversation), then the conversation.
func messages(req kefu.GenerateRequest) (string, []message) {
	var system []string
	var out []message
	for _, t := range chat.Turns(req) {
		if t.Role == "system" {
			system = append(system, t.Content)
		} else {
			out = append(out, message{Role: t.Role, Content: t.Content})
		}
	}
	return strings.Join(system, "\n\n"), out
}

// toolDefs is the request's tools as the API takes them.
func toolDefs(tools []kefu.Tool) []tool {
	out := make([]tool, 0, len(tools))
	for _, t := range tools {
		out = append(out, tool{Name: t.Name, Description: t.Description, InputSchema: chat.Schema(t)})
	}
	return out
}

// reply is what one round of the model wrote.
type reply struct {
	text  string
	calls []chat.ToolCall
}

// stream makes one call and reads its reply to the end: server-sent
// events, or one JSON message from a server that does not stream.
func (g *Generator) stream(ctx context.Context, r request, call *remote.Call, yield func(string, error) bool) (reply, error) {
	header := http.Header{}
	header.Set("x-api-key", g.cfg.APIKey)
	header.Set("anthropic-version", apiVersion)
	resp, err := chat.Post(ctx, g.client, g.cfg.messagesURL(), header, r)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	tools := len(r.Tools) > 0
	if t, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); t == "application/json" {
		return readWhole(resp.Body, tools, call, yield)
	}
	return readStream(resp.Body, tools, call, yield)
}

// event is one streamed event, as much of it as kefu reads.
type event struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"content_block"`
	Delta *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// maxBlocks bounds the content blocks of one reply, whatever indexes a
// server sends.
const maxBlocks = 64

// readStream reads a streamed reply, yielding its text and gathering its
// tool calls. Every data line must be a JSON event; an error event, or a
// tool call when no tools were offered, fails the stream; and a stream
// must end with message_stop, else it was cut short. A fault is recorded
// in call, so that it is the error's cause; a reader that stops early
// gives chat.ErrStopped.
func readStream(body io.Reader, tools bool, call *remote.Call, yield func(string, error) bool) (reply, error) {
	br := bufio.NewReaderSize(body, 8<<10)
	var text strings.Builder
	calls := map[int]*chat.ToolCall{}
	var order []int
	fault := func(err error) (reply, error) {
		call.StreamFault(err)
		return reply{}, err
	}
	complete := false
	for !complete {
		data, err := remote.ReadData(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault(err)
		}
		var ev event
		if err := json.Unmarshal(data, &ev); err != nil {
			return fault(fmt.Errorf("malformed stream event: %w", err))
		}
		switch ev.Type {
		case "error":
			msg := "no reason given"
			if ev.Error != nil {
				msg = strings.TrimSpace(ev.Error.Type + ": " + ev.Error.Message)
			}
			return fault(fmt.Errorf("the model failed mid-stream: %s", msg))
		case "content_block_start":
			if ev.ContentBlock == nil || ev.ContentBlock.Type != "tool_use" {
				continue
			}
			if !tools {
				return fault(errors.New("the model answered with a tool call, and no tools were offered"))
			}
			if _, seen := calls[ev.Index]; !seen && len(calls) < maxBlocks {
				calls[ev.Index] = &chat.ToolCall{ID: ev.ContentBlock.ID, Name: ev.ContentBlock.Name}
				order = append(order, ev.Index)
			}
		case "content_block_delta":
			if ev.Delta == nil {
				continue
			}
			switch ev.Delta.Type {
			case "text_delta":
				if ev.Delta.Text == "" {
					continue
				}
				text.WriteString(ev.Delta.Text)
				if !yield(ev.Delta.Text, nil) {
					return reply{}, chat.ErrStopped
				}
			case "input_json_delta":
				if c, ok := calls[ev.Index]; ok {
					c.Arguments += ev.Delta.PartialJSON
				}
			}
		case "message_stop":
			complete = true
		}
	}
	if !complete {
		return fault(errors.New("stream cut short: it ended without message_stop"))
	}
	out := reply{text: text.String()}
	for _, i := range order {
		if c := calls[i]; c.Name != "" {
			out.calls = append(out.calls, *c)
		}
	}
	return out, nil
}

// readWhole reads a reply that came as one JSON message.
func readWhole(body io.Reader, tools bool, call *remote.Call, yield func(string, error) bool) (reply, error) {
	var m struct {
		Content []struct {
			Type  string          `json:"type"`
			Text  string          `json:"text"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content"`
	}
	if err := json.NewDecoder(io.LimitReader(body, remote.MaxLine)).Decode(&m); err != nil {
		err = fmt.Errorf("malformed reply: %w", err)
		call.StreamFault(err)
		return reply{}, err
	}
	var out reply
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			out.text += b.Text
		case "tool_use":
			if !tools {
				err := errors.New("the model answered with a tool call, and no tools were offered")
				call.StreamFault(err)
				return reply{}, err
			}
			out.calls = append(out.calls, chat.ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
		}
	}
	if out.text != "" && !yield(out.text, nil) {
		return reply{}, chat.ErrStopped
	}
	return out, nil
}

// fail turns a failed call into kefu's error, naming the service and never
// the key.
func (g *Generator) fail(ctx context.Context, call *remote.Call, err error) error {
	return chat.Unavailable(remote.Failure(ctx, g.service, call, err, g.cfg.APIKey))
}
