// Package chat is what kefu's clients of chat-model APIs share: one JSON
// request to an API that streams server-sent events (OpenAI-compatible,
// Anthropic), the rounds of tool calls before an answer, and the error a
// failed answer model ends the stream with.
package chat

import (
	"context"
	"errors"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

// Unavailable is err as kefu's error for an answer model that failed: code
// kefu.EUnavailable, the same message from every backend, err the cause.
func Unavailable(err error) error {
	return kefu.WrapError(kefu.EUnavailable, "the answer model is unavailable", err)
}

// ErrStopped ends a stream whose reader stopped early: not a failure.
var ErrStopped = errors.New("reader stopped")

// Failer turns a failed call into the error the stream ends with; it must
// name the service and never the key.
type Failer func(ctx context.Context, call *remote.Call, err error) error
