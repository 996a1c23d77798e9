package openai

import (
	"encoding/json"
	"errors"
	"testing"
)

var chunkCases = []struct {
	data  string
	plain bool
}{
	{`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"You "},"finish_reason":null}]}`, true},
	{`{"choices":[{"delta":{"content":"can"},"finish_reason" : null}]}`, true},
	{`{"choices":[{"delta":{"content":"x"}}]}`, true},
	{`{"choices":[{"delta":{},"finish_reason":"stop"}]}`, false},
	{`{"choices":[{"delta":{},"finish_reason":""}]}`, false},
	{`{"choices":[{"delta":{"tool_calls":[{"id":"t"}]}}]}`, false},
	{`{"choices":[{"delta":{"function_call":{"name":"f"}}}]}`, false},
	{`{"error":{"message":"overloaded"}}`, false},
	{`{"choices":[{"delta":{"content":"error"}}]}`, false}, // the full check says it is fine
	{`{"choices":[{"delta":{"content":"cut`, false},
	{`not json`, false},
	{`{"finish_reason"`, false},
	{`{"ERROR":{"message":"overloaded"}}`, false},
	{`{"choices":[{"delta":{},"Finish_Reason":"stop"}]}`, false},
	{`{"\u0065rror":{"message":"overloaded"}}`, false},
	{`{"choices":[{"delta":{"content":"\u4f60\u597d"},"finish_reason":null}]}`, true},
}

func TestPlainChunk(t *testing.T) {
	for _, c := range chunkCases {
		if got := plainChunk([]byte(c.data)); got != c.plain {
			t.Errorf("plainChunk(%s) = %v, want %v", c.data, got, c.plain)
		}
	}
}

// FuzzPlainChunk checks the fast path against the full check: a chunk the
// fast path lets through must be one the full check passes and that does
// not finish the stream, but for values of the wrong type, which the client
// library's decoder fails on.
func FuzzPlainChunk(f *testing.F) {
	for _, c := range chunkCases {
		f.Add([]byte(c.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !plainChunk(data) {
			return
		}
		finished, err := checkChunk(data, false)
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return
		}
		if err != nil || finished {
			t.Fatalf("plainChunk(%q) = true, but the full check gives finished %v, error %v", data, finished, err)
		}
	})
}

func BenchmarkChunkCheck(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"content":"returned "},"finish_reason":null}]}`)
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if !plainChunk(data) {
				b.Fatal("not plain")
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := checkChunk(data, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
