package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kefuhq/kefu"
)

// flakyEmbedder fails its first Failures calls with Err, then embeds.
type flakyEmbedder struct {
	Failures int
	Err      error
	inner    hashEmbedder
	calls    atomic.Int32
}

func (e *flakyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if int(e.calls.Add(1)) <= e.Failures {
		return nil, e.Err
	}
	return e.inner.Embed(ctx, texts)
}

// transientErr is an embedder's own error type that says it is transient.
type transientErr struct{ transient bool }

func (e transientErr) Error() string   { return fmt.Sprintf("rate limited (transient %v)", e.transient) }
func (e transientErr) Transient() bool { return e.transient }

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{kefu.Errorf(kefu.EUnavailable, "embedding service unavailable"), true},
		{fmt.Errorf("embed: %w", kefu.Errorf(kefu.EUnavailable, "busy")), true},
		{kefu.Errorf(kefu.EInvalid, "text too long"), false},
		{transientErr{true}, true},
		{fmt.Errorf("call: %w", transientErr{true}), true},
		{transientErr{false}, false},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, true},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), true},
		{errors.New("401 unauthorized"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestEmbedRetries(t *testing.T) {
	fast := Options{RetryDelay: time.Millisecond, MaxAttempts: 3, Concurrency: 1}
	tests := []struct {
		name      string
		emb       *flakyEmbedder
		wantCalls int32 // at least, for the first batch and the others
		wantErr   string
	}{
		{"transient failures, then success", &flakyEmbedder{Failures: 2, Err: kefu.Errorf(kefu.EUnavailable, "overloaded")}, 3, ""},
		{"an embedder's transient error type", &flakyEmbedder{Failures: 1, Err: transientErr{true}}, 2, ""},
		{"too many failures", &flakyEmbedder{Failures: 100, Err: kefu.Errorf(kefu.EUnavailable, "overloaded")}, 3, "overloaded (gave up after 3 attempts)"},
		{"a permanent failure is not retried", &flakyEmbedder{Failures: 100, Err: errors.New("401 unauthorized")}, 1, "401 unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore()
			sum, err := New(st, tt.emb, fast).Run(context.Background(), "testdata/shop")
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ...%q", err, tt.wantErr)
				}
				if got := tt.emb.calls.Load(); got != tt.wantCalls {
					t.Errorf("%d calls, want %d", got, tt.wantCalls)
				}
				if sum.Documents != 0 || len(st.ids()) != 0 {
					t.Errorf("wrote %d documents", sum.Documents)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Documents != 16 || len(st.ids()) != 16 {
				t.Errorf("summary %+v, stored %d", sum, len(st.ids()))
			}
			if got := tt.emb.calls.Load(); got < tt.wantCalls {
				t.Errorf("%d calls, want at least %d", got, tt.wantCalls)
			}
		})
	}
}

// TestEmbedRetryPauseHonoursContext cancels a run while it waits an hour
// before a retry: it ends at once.
func TestEmbedRetryPauseHonoursContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	emb := &flakyEmbedder{Failures: 100, Err: kefu.Errorf(kefu.EUnavailable, "overloaded")}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(newMemStore(), emb, Options{RetryDelay: time.Hour}).Run(ctx, "testdata/shop")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
}

// TestEmbedBlockedUntilCancelled runs against an embedder that never
// answers until its context ends: the run ends with the context's error,
// leaving no goroutine behind.
func TestEmbedBlockedUntilCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var started atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	emb := EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		if started.Add(1) == 3 {
			// Every slot is taken: the shopper gives up.
			time.AfterFunc(20*time.Millisecond, cancel)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	st := newMemStore()
	sum, err := New(st, emb, Options{BatchSize: 2, Concurrency: 3}).Run(ctx, "testdata/shop")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := started.Load(); n != 3 {
		t.Errorf("%d calls started, want the 3 allowed at once", n)
	}
	if sum.Documents != 0 || len(st.ids()) != 0 {
		t.Errorf("summary %+v", sum)
	}
}

// TestEmbedConcurrency checks that no more than Options.Concurrency calls
// run at once, that as many do, and that documents are still written in
// the order they were loaded.
func TestEmbedConcurrency(t *testing.T) {
	const limit = 3
	var (
		mu           sync.Mutex
		running, top int
		full         = make(chan struct{})
		once         sync.Once
		inner        hashEmbedder
	)
	emb := EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		mu.Lock()
		running++
		top = max(top, running)
		if running == limit {
			once.Do(func() { close(full) })
		}
		mu.Unlock()
		// Hold the first calls until all the slots are taken.
		select {
		case <-full:
		case <-time.After(2 * time.Second):
		}
		mu.Lock()
		running--
		mu.Unlock()
		return inner.Embed(ctx, texts)
	})
	st := newMemStore()
	var order []string
	st.ReplaceFn = func(doc kefu.Document, _ []kefu.Chunk) error {
		order = append(order, doc.ID)
		return nil
	}
	sum, err := New(st, emb, Options{BatchSize: 2, Concurrency: limit}).Run(context.Background(), "testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	if top != limit {
		t.Errorf("at most %d calls ran at once, want %d", top, limit)
	}
	if sum.Documents != 16 || len(order) != 16 {
		t.Fatalf("summary %+v", sum)
	}
	// Walk order: catalog.json comes first, store-hours.txt last.
	if !strings.HasSuffix(order[0], "catalog.json#LM-PC-001") || !strings.HasSuffix(order[15], "store-hours.txt") {
		t.Errorf("write order %q", order)
	}
}

func TestProgress(t *testing.T) {
	var got []Progress
	opts := Options{Progress: func(p Progress) { got = append(got, p) }}
	sum, err := New(newMemStore(), &hashEmbedder{}, opts).Run(context.Background(), "testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < sum.Files+1 {
		t.Fatalf("%d progress calls for %d files", len(got), sum.Files)
	}
	for i, p := range got[:len(got)-1] {
		if p.FilesTotal != 9 || p.Done || p.File == "" {
			t.Errorf("call %d: %+v", i, p)
		}
		if i > 0 && (p.Files < got[i-1].Files || p.Documents < got[i-1].Documents || p.Chunks < got[i-1].Chunks) {
			t.Errorf("call %d went back: %+v after %+v", i, p, got[i-1])
		}
	}
	last := got[len(got)-1]
	want := Progress{Files: 9, FilesTotal: 9, Documents: sum.Documents, Chunks: sum.Chunks, Failed: len(sum.Failed), File: got[len(got)-2].File, Done: true}
	if last != want {
		t.Errorf("last call %+v, want %+v", last, want)
	}
}

func TestBadEmbedOptions(t *testing.T) {
	for _, o := range []Options{{Concurrency: -1}, {MaxAttempts: -2}, {RetryDelay: -time.Second}} {
		if _, err := New(newMemStore(), &hashEmbedder{}, o).Run(context.Background(), "testdata/shop"); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}
