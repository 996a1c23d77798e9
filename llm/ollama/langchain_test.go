package ollama

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

func TestMessages(t *testing.T) {
	tests := []struct {
		name string
		req  kefu.GenerateRequest
		want []llms.MessageContent
	}{
		{"question alone", kefu.GenerateRequest{Question: "where is it?"},
			[]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "where is it?")}},
		{"roles", kefu.GenerateRequest{System: "sys", Question: "ignored", Messages: []kefu.Message{
			{Role: kefu.RoleUser, Content: "u"}, {Role: kefu.RoleAgent, Content: "a"},
			{Role: kefu.RoleAssistant, Content: "b"}, {Role: kefu.RoleSystem, Content: "s"}}},
			[]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeSystem, "sys"),
				llms.TextParts(llms.ChatMessageTypeHuman, "u"), llms.TextParts(llms.ChatMessageTypeAI, "a"),
				llms.TextParts(llms.ChatMessageTypeAI, "b"), llms.TextParts(llms.ChatMessageTypeSystem, "s")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := messages(tt.req); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Messages = %v, want %v", got, tt.want)
			}
		})
	}
}

// modelFunc streams its chunks and returns err.
type modelFunc struct {
	chunks []string
	err    error
}

func (m modelFunc) GenerateContent(ctx context.Context, _ []llms.MessageContent, opts ...llms.CallOption) (*llms.ContentResponse, error) {
	var o llms.CallOptions
	for _, opt := range opts {
		opt(&o)
	}
	for _, c := range m.chunks {
		if err := o.StreamingFunc(ctx, []byte(c)); err != nil {
			return nil, err
		}
	}
	return &llms.ContentResponse{}, m.err
}

func (m modelFunc) Call(context.Context, string, ...llms.CallOption) (string, error) { return "", nil }

func TestStream(t *testing.T) {
	fail := func(_ context.Context, _ *remote.Call, err error) error { return errors.New("failed: " + err.Error()) }
	tests := []struct {
		name   string
		model  modelFunc
		stopAt int // stop reading after this many chunks; 0: never
		want   []string
		ok     bool
	}{
		{"answer", modelFunc{chunks: []string{"a", "", "b"}}, 0, []string{"a", "b"}, true},
		{"failure", modelFunc{chunks: []string{"a"}, err: errors.New("boom")}, 0, []string{"a", "error: failed: boom"}, false},
		{"reader stops", modelFunc{chunks: []string{"a", "b", "c"}, err: errors.New("boom")}, 1, []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			yield := func(s string, err error) bool {
				if err != nil {
					s = "error: " + err.Error()
				}
				got = append(got, s)
				return tt.stopAt == 0 || len(got) < tt.stopAt
			}
			_, ok := stream(context.Background(), tt.model, nil, nil, fail, yield)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Stream = %q, ok %t; want %q, ok %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}
