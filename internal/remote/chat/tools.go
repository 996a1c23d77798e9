package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

// MaxToolRounds is how many times one answer may go back to the model
// with tool results; the request after the last round tells the model to
// answer without tools.
const MaxToolRounds = 4

// ToolCall is one call a model made: its id, the tool's name and the
// arguments as the model wrote them.
type ToolCall struct {
	ID, Name, Arguments string
}

// Round sends the conversation so far to the model once (the n-th time,
// from 0; at n == MaxToolRounds it must forbid tools), with call in ctx for
// the transport to fill, yields the text as it streams, and returns the
// tools the model called. Its error ends the stream: ErrStopped quietly
// (the reader stopped), any other as the Failer words it.
type Round func(ctx context.Context, call *remote.Call, n int) ([]ToolCall, error)

// WithTools runs rounds until the model answers without calling a tool.
// The calls of a round run in turn (RunTool) and answered adds the calls
// and their results, in the same order, to the conversation for the next
// round. A round's failure ends the stream with fail's error, a tool's
// with the tool's; a model still calling tools after MaxToolRounds rounds
// ends it with an error of code kefu.EUnavailable naming service.
func WithTools(ctx context.Context, tools []kefu.Tool, service string, round Round, fail Failer,
	answered func(calls []ToolCall, results []string), yield func(string, error) bool) {
	for n := 0; ; n++ {
		rctx, call := remote.WithCall(ctx)
		calls, err := round(rctx, call, n)
		if errors.Is(err, ErrStopped) {
			return
		}
		if err != nil {
			yield("", fail(rctx, call, err))
			return
		}
		if len(calls) == 0 {
			return
		}
		if n == MaxToolRounds {
			yield("", Unavailable(fmt.Errorf("%s: the model still called tools after %d rounds", service, MaxToolRounds)))
			return
		}
		results := make([]string, len(calls))
		for i, c := range calls {
			result, err := RunTool(ctx, tools, c)
			if err != nil {
				yield("", fmt.Errorf("tool %s: %w", c.Name, err))
				return
			}
			results[i] = result
		}
		answered(calls, results)
	}
}

// RunTool runs one call of the model's. Its arguments go to the tool as
// written ("{}" when empty); a call of a tool that was not offered is
// answered with an error text for the model, not run.
func RunTool(ctx context.Context, tools []kefu.Tool, c ToolCall) (string, error) {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
		if t.Name != c.Name || t.Call == nil {
			continue
		}
		args := strings.TrimSpace(c.Arguments)
		if args == "" {
			args = "{}"
		}
		return t.Call(ctx, json.RawMessage(args))
	}
	return fmt.Sprintf("error: there is no tool named %q; the tools are %s", c.Name, strings.Join(names, ", ")), nil
}

// Schema is a tool's parameters schema, an empty object's when it has none.
func Schema(t kefu.Tool) map[string]any {
	if t.Parameters == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}
	}
	return t.Parameters
}
