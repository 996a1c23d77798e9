package openai

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/llm/llmtest"
)

const secret = "sk-embed-9c1d2e3f"

// newEmbedder returns an embedder against srv whose pauses are recorded
// instead of slept.
func newEmbedder(t *testing.T, srv *llmtest.Server, mod func(*Config)) (*Embedder, *[]time.Duration) {
	t.Helper()
	cfg := Config{BaseURL: srv.URL, Model: "bge-m3", APIKey: secret, Dims: 16, BatchSize: 3}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	e.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return e, waits
}

func TestEmbedInBatchesInOrder(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16), llmtest.WithAPIKey(secret))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, nil)
	texts := []string{"returns", "", "shipping", "warranty", "  ", "退货", "gift wrap"}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		want := llmtest.Vector(text, 16)
		if strings.TrimSpace(text) == "" {
			want = make([]float32, 16)
		}
		if !slices.Equal(vecs[i], want) {
			t.Errorf("vector %d (%q) is not the server's", i, text)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || len(reqs[0].Embed.Input) != 3 || len(reqs[1].Embed.Input) != 2 {
		t.Fatalf("requests %d; want two batches (3 + 2 non-blank texts)", len(reqs))
	}
	if reqs[0].Embed.Model != "bge-m3" || reqs[0].Embed.Dimensions != 0 || reqs[0].Header.Get("Authorization") != "Bearer "+secret {
		t.Errorf("request %s", reqs[0].Body)
	}
	if e.Name() != "openai:bge-m3" || e.Dims() != 16 {
		t.Errorf("Name %q Dims %d", e.Name(), e.Dims())
	}
}

func TestEmbedRequestsDimensionsOfTextEmbedding3(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, func(c *Config) { c.Model = "text-embedding-3-small" })
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Embed.Dimensions; got != 16 {
		t.Errorf("dimensions %d, want 16", got)
	}
}

func TestEmbedRetriesTransientFailures(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16))
	defer srv.Close()
	e, waits := newEmbedder(t, srv, nil)
	srv.ScriptEmbeddings(llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "2"}, llmtest.Reply{Fault: llmtest.ServerError})
	vecs, err := e.Embed(context.Background(), []string{"a", "b"})
	if err != nil || len(vecs) != 2 {
		t.Fatalf("got %d vectors, %v", len(vecs), err)
	}
	if len(srv.Requests()) != 3 || len(*waits) != 2 || (*waits)[0] != 2*time.Second || (*waits)[1] < firstBackoff {
		t.Fatalf("%d requests, waits %v; want Retry-After 2s, then the doubled backoff", len(srv.Requests()), *waits)
	}
}

func TestEmbedGivesUp(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, nil)
	srv.ScriptEmbeddings(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.Malformed}, llmtest.Reply{Fault: llmtest.ServerError})
	_, err := e.Embed(context.Background(), []string{"a"})
	var re *remote.Error
	if !errors.As(err, &re) || !re.Transient() || re.Status != 500 {
		t.Fatalf("error %v; want the last transient failure", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 1 + %d retries", n, DefaultMaxRetries)
	}
	if !strings.Contains(err.Error(), `openai embeddings "bge-m3" at `+srv.URL) {
		t.Errorf("error %q does not name the service", err)
	}
	// A Retry-After past the cap is not waited for.
	srv.Reset()
	srv.ScriptEmbeddings(llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "120"})
	if _, err := e.Embed(context.Background(), []string{"a"}); err == nil || len(srv.Requests()) != 1 {
		t.Fatalf("error %v after %d requests; want an immediate failure", err, len(srv.Requests()))
	}
}

func TestEmbedHonoursCtx(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, nil)
	e.sleep = sleepCtx
	srv.ScriptEmbeddings(llmtest.Reply{Fault: llmtest.RateLimit, RetryAfter: "20"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.Embed(ctx, []string{"a"}); err == nil || len(srv.Requests()) != 1 {
		t.Fatalf("error %v after %d requests; want the call abandoned with ctx", err, len(srv.Requests()))
	}
	srv.ScriptEmbeddings(llmtest.Reply{FirstTokenDelay: 5 * time.Second})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := e.Embed(ctx2, []string{"a"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v; want the deadline", err)
	}
}

func TestEmbedRefusesTheWrongSize(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(24))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, nil)
	_, err := e.Embed(context.Background(), []string{"a"})
	var re *remote.Error
	if !errors.Is(err, ErrDims) || !errors.As(err, &re) || re.Transient() || !strings.Contains(err.Error(), "24-dimensional") || !strings.Contains(err.Error(), "16 are configured") {
		t.Fatalf("error %v; want a final error naming both sizes", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests: a wrong size was retried", n)
	}
}

func TestEmbedKeepsTheKeySecret(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(16), llmtest.WithAPIKey("sk-other"))
	defer srv.Close()
	e, _ := newEmbedder(t, srv, nil)
	_, err := e.Embed(context.Background(), []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "status 401") || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v; want a 401 without the key", err)
	}
	if strings.Contains(e.cfg.String(), secret) {
		t.Error("config prints its key")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Dims: 8},
		{Model: "m"},
		{Model: "m", Dims: 8, BaseURL: "localhost:1234"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%v) succeeded", cfg)
		}
	}
}
