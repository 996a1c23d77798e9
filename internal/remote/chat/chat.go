// Package chat is what kefu's answer generators share: the rendered prompt
// in langchaingo's form and one streamed call through a langchaingo client
// (Ollama), a JSON request to an API that streams server-sent events
// (OpenAI-compatible, Anthropic), and the rounds of tool calls before an
// answer.
package chat

import (
	"context"
	"errors"

	"github.com/tmc/langchaingo/llms"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

// Messages is the rendered prompt in the client library's form: the system
// prompt first, then the conversation (the question alone when there is
// none). A human agent's turns are the assistant side, as the shopper saw
// them.
func Messages(req kefu.GenerateRequest) []llms.MessageContent {
	var out []llms.MessageContent
	if req.System != "" {
		out = append(out, llms.TextParts(llms.ChatMessageTypeSystem, req.System))
	}
	for _, m := range req.Messages {
		role := llms.ChatMessageTypeHuman
		switch m.Role {
		case kefu.RoleAssistant, kefu.RoleAgent:
			role = llms.ChatMessageTypeAI
		case kefu.RoleSystem:
			role = llms.ChatMessageTypeSystem
		}
		out = append(out, llms.TextParts(role, m.Content))
	}
	if len(req.Messages) == 0 && req.Question != "" {
		out = append(out, llms.TextParts(llms.ChatMessageTypeHuman, req.Question))
	}
	return out
}

// Unavailable is err as kefu's error for an answer model that failed: code
// kefu.EUnavailable, the same message from every backend, err the cause.
func Unavailable(err error) error {
	return kefu.WrapError(kefu.EUnavailable, "the answer model is unavailable", err)
}

// errStopped ends a stream whose reader stopped early.
var errStopped = errors.New("reader stopped")

// Failer turns a failed call into the error the stream ends with; it must
// name the service and never the key.
type Failer func(ctx context.Context, call *remote.Call, err error) error

// Stream sends msgs to model once with opts and yields each non-empty
// chunk of the answer as it arrives, except those skip reports (skip may
// be nil). The call carries a fresh remote.Call for the transport to fill.
// When the call fails, or the body check found a fault the client library
// read past (some end quietly on a dropped connection), fail's error is
// yielded. ok is false when the stream ended: an error was yielded or the
// reader stopped; otherwise resp is the library's reply.
func Stream(ctx context.Context, model llms.Model, msgs []llms.MessageContent, opts []llms.CallOption,
	skip func(chunk []byte) bool, fail Failer, yield func(string, error) bool) (resp *llms.ContentResponse, ok bool) {
	ctx, call := remote.WithCall(ctx)
	stopped := false
	stream := func(_ context.Context, chunk []byte) error {
		if len(chunk) == 0 || (skip != nil && skip(chunk)) {
			return nil
		}
		if !yield(string(chunk), nil) {
			stopped = true
			return errStopped
		}
		return nil
	}
	opts = append(append([]llms.CallOption(nil), opts...), llms.WithStreamingFunc(stream))
	resp, err := model.GenerateContent(ctx, msgs, opts...)
	if stopped {
		return nil, false
	}
	if err == nil {
		err = call.StreamErr()
	}
	if err != nil {
		yield("", fail(ctx, call, err))
		return nil, false
	}
	return resp, true
}
