package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

// OrderTool is a get_order tool over one shopper's orders, as the
// generators' tool tests offer it: W1001 is the shopper's ("Order id:
// W1001\nStatus: shipped"), any other id, and arguments that are not JSON
// like {"order_id": "W1001"}, get the texts a real tool would give. It
// appends the arguments of every call to *got.
func OrderTool(got *[]string) kefu.Tool {
	mine := map[string]string{"W1001": "Order id: W1001\nStatus: shipped"}
	return kefu.Tool{
		Name: "get_order", Description: "Look up one of the shopper's orders.",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}},
			"required": []string{"order_id"}},
		Call: func(_ context.Context, args json.RawMessage) (string, error) {
			*got = append(*got, string(args))
			var a struct {
				OrderID string `json:"order_id"`
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return `error: arguments must be JSON like {"order_id": "W1001"}`, nil
			}
			if text, ok := mine[a.OrderID]; ok {
				return text, nil
			}
			return "not found", nil
		},
	}
}

// Generator is an answer generator under test.
type Generator interface {
	Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error]
}

// RunToolLimits checks how a tool-calling generator ends its rounds,
// against the fake: a model that keeps calling tools is cut off after
// maxRounds rounds (the last request forbids tools, which forbidsTools
// reads from a request body, and the first does not), and a tool that
// fails ends the answer with its error and no further request. newGen
// returns the generator for a fake server; req is a request to send.
func RunToolLimits(t *testing.T, maxRounds int, newGen func(*Server) Generator, req kefu.GenerateRequest, forbidsTools func(body []byte) bool) {
	t.Run("RoundsAreBounded", func(t *testing.T) {
		srv := NewServer(WithDefault(func(ChatRequest) Reply {
			return Reply{ToolCalls: []ToolCall{{Name: "get_order", Arguments: `{"order_id": "W1001"}`}}}
		}))
		defer srv.Close()
		var args []string
		r := req
		r.Tools = []kefu.Tool{OrderTool(&args)}
		_, err := Collect(newGen(srv).Generate(context.Background(), r))
		if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), fmt.Sprintf("after %d rounds", maxRounds)) {
			t.Fatalf("err %v; want the model to be cut off", err)
		}
		reqs := srv.Requests()
		if len(reqs) != maxRounds+1 || len(args) != maxRounds {
			t.Fatalf("%d requests and %d tool calls", len(reqs), len(args))
		}
		if forbidsTools(reqs[0].Body) || !forbidsTools(reqs[len(reqs)-1].Body) {
			t.Errorf("first request %s\nlast request %s\nwant tools forbidden only on the last", reqs[0].Body, reqs[len(reqs)-1].Body)
		}
	})
	t.Run("ToolFailureEndsTheAnswer", func(t *testing.T) {
		srv := NewServer()
		defer srv.Close()
		srv.Script(Reply{ToolCalls: []ToolCall{{Name: "get_order", Arguments: `{"order_id": "W1001"}`}}})
		down := kefu.WrapError(kefu.EUnavailable, "the order service is unavailable", errors.New("connection refused"))
		r := req
		r.Tools = []kefu.Tool{{Name: "get_order", Call: func(context.Context, json.RawMessage) (string, error) { return "", down }}}
		pieces, err := Collect(newGen(srv).Generate(context.Background(), r))
		if !errors.Is(err, down) || len(pieces) != 0 {
			t.Fatalf("pieces %q err %v; want the tool's error", pieces, err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests after the tool failed", n)
		}
	})
}
