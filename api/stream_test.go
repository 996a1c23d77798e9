package api_test

import (
	"context"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/rag"
)

// failAfter guards a test against hanging; it asserts nothing about time.
const failAfter = 10 * time.Second

// streamServer serves e over a real connection and returns a request
// factory for the chat stream.
func streamServer(t *testing.T, e *env) (*httptest.Server, func(ctx context.Context) *http.Request) {
	t.Helper()
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	return ts, func(ctx context.Context) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat", strings.NewReader(`{"message":"where is my order"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		return req
	}
}

func TestChatHeartbeat(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.HeartbeatInterval = time.Millisecond })
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			if !yield(answerEvents(theAnswer)[0], nil) {
				return
			}
			// Wait, as a slow model would, until the client has seen a
			// heartbeat.
			select {
			case <-release:
			case <-ctx.Done():
				return
			}
			for _, ev := range answerEvents(theAnswer)[1:] {
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
	ts, newReq := streamServer(t, e)
	resp, err := ts.Client().Do(newReq(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	timer := time.AfterFunc(failAfter, func() { resp.Body.Close() })
	defer timer.Stop()

	released := false
	evs := readSSE(t, resp.Body, func(ev sseEvent) bool {
		if ev.name == ":" && !released {
			released = true
			close(release)
		}
		return false
	})
	if !released {
		t.Fatalf("no heartbeat before the stream ended: %v", names(evs, false))
	}
	for _, ev := range evs {
		if ev.name == ":" && ev.data != "ping" {
			t.Errorf("heartbeat %q, want ping", ev.data)
		}
	}
	if got := strings.Join(names(evs, true), ","); got != "meta,delta,delta,citations,done" {
		t.Errorf("events = %s", got)
	}
}

func TestChatClientDisconnect(t *testing.T) {
	cancelled := make(chan error, 1)
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.HeartbeatInterval = time.Hour })
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			evs := answerEvents(theAnswer)
			if !yield(evs[0], nil) || !yield(evs[1], nil) {
				return
			}
			<-ctx.Done() // a model that is still thinking when the shopper leaves
			cancelled <- ctx.Err()
			yield(rag.Event{}, ctx.Err())
		}
	}
	ts, newReq := streamServer(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := ts.Client().Do(newReq(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readSSE(t, resp.Body, func(ev sseEvent) bool { return ev.name == "delta" })
	cancel() // the shopper closes the tab

	select {
	case err := <-cancelled:
		if err == nil {
			t.Fatal("the answerer's context ended without an error")
		}
	case <-time.After(failAfter):
		t.Fatal("the answerer's context was not cancelled after the client left")
	}
	// The part streamed before the client left is kept, marked partial.
	ts.Close() // waits for the handler to finish
	conv := e.store.only(t)
	msgs := e.store.all(t, conv.ID)
	if len(msgs) != 2 || !msgs[1].Partial || msgs[1].Content != theAnswer[:len(theAnswer)/2] {
		t.Errorf("stored %+v", msgs)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "status=200") || !strings.Contains(logs, "context canceled") {
		t.Errorf("log:\n%s", logs)
	}
}
