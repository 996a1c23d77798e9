package ollama

import (
	"context"

	"github.com/tmc/langchaingo/llms"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/internal/remote/chat"
)

// messages is the rendered prompt (chat.Turns) in the client library's form.
func messages(req kefu.GenerateRequest) []llms.MessageContent {
	roles := map[string]llms.ChatMessageType{"system": llms.ChatMessageTypeSystem, "user": llms.ChatMessageTypeHuman, "assistant": llms.ChatMessageTypeAI}
	var out []llms.MessageContent
	for _, t := range chat.Turns(req) {
		out = append(out, llms.TextParts(roles[t.Role], t.Content))
	}
	return out
}

// stream sends msgs to model once with opts and yields each non-empty
// chunk of the answer as it arrives. The call carries a fresh remote.Call for the transport to fill.
// When the call fails, or the body check found a fault the client library
// read past (some end quietly on a dropped connection), fail's error is
// yielded. ok is false when the stream ended: an error was yielded or the
// reader stopped; otherwise resp is the library's reply.
func stream(ctx context.Context, model llms.Model, msgs []llms.MessageContent, opts []llms.CallOption,
	fail chat.Failer, yield func(string, error) bool) (resp *llms.ContentResponse, ok bool) {
	ctx, call := remote.WithCall(ctx)
	stopped := false
	pass := func(_ context.Context, chunk []byte) error {
		if len(chunk) == 0 {
			return nil
		}
		if !yield(string(chunk), nil) {
			stopped = true
			return chat.ErrStopped
		}
		return nil
	}
	opts = append(append([]llms.CallOption(nil), opts...), llms.WithStreamingFunc(pass))
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
