package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// scriptedAnswerer answers every turn with the same cited answer, in
// several deltas, and records who asked on which channel.
type scriptedAnswerer struct {
	mu    sync.Mutex
	turns []rag.Turn
}

func (a *scriptedAnswerer) Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	a.mu.Lock()
	a.turns = append(a.turns, t)
	a.mu.Unlock()
	const answer = "Most items can be returned within 30 days of delivery [1]."
	evs := []rag.Event{{Type: rag.EventMeta, Meta: &rag.Meta{Intent: "return_refund", Locale: "en", Decision: rag.DecideAnswer, Backend: "scripted"}}}
	for _, w := range strings.SplitAfter(answer, " ") {
		evs = append(evs, rag.Event{Type: rag.EventDelta, Delta: w})
	}
	evs = append(evs,
		rag.Event{Type: rag.EventCitations, Citations: []rag.Citation{{N: 1, DocID: "returns", Title: "Returns"}}},
		rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: answer}})
	return func(yield func(rag.Event, error) bool) {
		for _, ev := range evs {
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func benchJSON(t *testing.T, out string) benchReport {
	t.Helper()
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	return rep
}

// kefu bench loads a real API server (with a scripted answerer) with a
// key and a shopper token, in both modes, and finds nothing wrong.
func TestBenchAgainstServer(t *testing.T) {
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const key = "bench-widget-key-0123456789"
	secret := []byte("bench-token-secret")
	keys, err := auth.NewKeys([]auth.KeyConfig{{Name: "bench", Role: auth.RoleWidget, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	answerer := &scriptedAnswerer{}
	srv := api.New(api.Config{}, api.Deps{Answerer: answerer, Conversations: db, Keys: keys, TokenSecret: secret})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tok, err := auth.Mint(secret, "C1001", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"json", "sse"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"bench", "--url", ts.URL, "--requests", "12", "--concurrency", "3", "--json", "--api-key", key, "--token", tok}
			if mode == "sse" {
				args = append(args, "--sse", "--ramp", "30ms") // the clients start 10 ms apart
			}
			out, stderr, err := run(t, nil, args...)
			if err != nil {
				t.Fatalf("bench: %v\n%s\n%s", err, out, stderr)
			}
			rep := benchJSON(t, out)
			if rep.Mode != mode || rep.Requests != 12 || rep.OK != 12 || rep.Failed != 0 || rep.Statuses["200"] != 12 ||
				rep.Concurrency != 3 || rep.URL != ts.URL+"/v1/chat" || len(rep.Errors) != 0 {
				t.Errorf("report = %+v", rep)
			}
			if l := rep.LatencyMS; l.N != 12 || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max || rep.Throughput <= 0 {
				t.Errorf("latency %+v, throughput %v", l, rep.Throughput)
			}
			s := rep.Streams
			switch {
			case mode == "json" && s != nil:
				t.Errorf("a JSON run reports streams: %+v", s)
			case mode == "sse" && s == nil:
				t.Fatal("an SSE run reports no streams")
			case mode == "sse":
				if s.Complete != 12 || s.Dropped+s.Reordered+s.Mismatched+s.Failed != 0 || s.FirstDeltaMS.N != 12 || s.EventGapMS.N < 12*10 {
					t.Errorf("streams = %+v", s)
				}
			}
		})
	}
	answerer.mu.Lock()
	defer answerer.mu.Unlock()
	if len(answerer.turns) != 24 {
		t.Errorf("the server answered %d turns, want 24", len(answerer.turns))
	}
	for _, tr := range answerer.turns {
		if tr.CustomerID != "C1001" || tr.Channel != "bench" || tr.Message != "How long do I have to return an item?" {
			t.Fatalf("turn = %+v", tr)
		}
	}
}

// A server whose streams go wrong in every documented way: kefu bench
// counts each kind, prints what went wrong and exits with an error.
func TestBenchFindsBrokenStreams(t *testing.T) {
	good := []string{"meta", `{}`, "delta", `{"text":"Hello "}`, "delta", `{"text":"there."}`, "citations", `[]`, "done", `{"answer":"Hello there."}`}
	streams := [][]string{
		good,
		{"meta", `{}`, "delta", `{"text":"Hello "}`},                                                            // dropped
		{"meta", `{}`, "citations", `[]`, "delta", `{"text":"late"}`, "done", `{"answer":"late"}`},              // reordered
		{"meta", `{}`, "delta", `{"text":"Hello "}`, "citations", `[]`, "done", `{"answer":"Hello there."}`},    // mismatched
		{"meta", `{}`, "delta", `{"text":"Hel"}`, "error", `{"code":"unavailable","message":"the model died"}`}, // failed
	}
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(streams) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"busy"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": ping\n\n")
		s := streams[i]
		for j := 0; j+1 < len(s); j += 2 {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", s[j], s[j+1])
		}
	}))
	defer ts.Close()

	out, _, err := run(t, nil, "bench", "--url", ts.URL+"/", "--requests", "6", "--concurrency", "1", "--sse", "--json")
	var exit exitError
	if !errors.As(err, &exit) || !strings.Contains(exit.msg, "5 of 6") {
		t.Fatalf("error = %v, want an exit status for 5 failed requests", err)
	}
	rep := benchJSON(t, out)
	s := rep.Streams
	if rep.OK != 1 || rep.Failed != 5 || rep.Statuses["200"] != 5 || rep.Statuses["503"] != 1 || s == nil ||
		s.Complete != 1 || s.Dropped != 1 || s.Reordered != 1 || s.Mismatched != 1 || s.Failed != 1 {
		t.Fatalf("report = %+v, streams %+v", rep, s)
	}
	if len(rep.Errors) != 5 || !strings.Contains(strings.Join(rep.Errors, "\n"), "status 503 unavailable (1)") {
		t.Errorf("errors = %q", rep.Errors)
	}

	// The same run, for a person to read.
	n.Store(0)
	out, _, _ = run(t, nil, "bench", "--url", ts.URL, "--requests", "6", "--concurrency", "1", "--sse")
	for _, want := range []string{"(sse), concurrency 1", "6 in", "1 ok, 5 failed", "200: 5, 503: 1", "first delta", "p99",
		"1 complete, 1 dropped, 1 reordered, 1 mismatched, 1 failed", "deltas do not add up to the answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchRefusesBadTargetsAndBounds(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://example.com:8080"}, "--allow-remote"},
		{[]string{"--url", "http://10.1.2.3"}, "not on this machine"},
		{[]string{"--url", "http://localhost.example.com"}, "not on this machine"},
		{[]string{"--url", "ftp://127.0.0.1"}, "not an http(s) URL"},
		{[]string{"--url", "127.0.0.1:8080"}, "not an http(s) URL"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--concurrency", "5000"}, "--concurrency"},
		{[]string{"--requests", "0"}, "--requests"},
		{[]string{"--requests", "100000000"}, "--requests"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--duration", "3h"}, "--duration"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"--ramp", "-1s"}, "--ramp"},
		{[]string{"--ramp", "2m", "--duration", "1m"}, "--ramp"},
		{[]string{"--message", "  "}, "--message"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, nil, append([]string{"bench"}, tt.args...)...)
			if err == nil || !strings.Contains(errorText(err), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true,
		"10.0.0.1": false, "example.com": false, "localhost.example.com": false, "0.0.0.0": false, "": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// A --conversations run over two servers sharing one store, one of which
// drops every third turn after storing it (as a replica that dies between
// storing an answer and sending it): the turn is retried on the other with
// its key, and reading the conversations back finds nothing lost and
// nothing stored twice. A listing that shows a turn twice is caught.
func TestBenchConversationsOverReplicas(t *testing.T) {
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const key = "bench-widget-key-0123456789"
	secret := []byte("bench-token-secret")
	keys, err := auth.NewKeys([]auth.KeyConfig{{Name: "bench", Role: auth.RoleWidget, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Limits: api.Limits{ShopperRate: 1000, ShopperBurst: 1000, StreamsPerShopper: 100}},
		api.Deps{Answerer: &scriptedAnswerer{}, Conversations: db, Keys: keys, TokenSecret: secret})
	good := httptest.NewServer(srv.Handler())
	defer good.Close()
	var posts atomic.Int32
	var dropping, doubled atomic.Bool
	dropping.Store(true)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && dropping.Load() && posts.Add(1)%3 == 0 {
			srv.Handler().ServeHTTP(httptest.NewRecorder(), r) // stored and answered, never sent
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if r.Method == http.MethodGet && doubled.Load() {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, r)
			var list api.MessagesResponse
			_ = json.Unmarshal(rec.Body.Bytes(), &list)
			list.Messages = append(list.Messages, list.Messages[:2]...) // the first turn twice
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(list)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer flaky.Close()
	tok, err := auth.Mint(secret, "C1001", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"bench", "--url", flaky.URL, "--url", good.URL, "--conversations", "--retries", "2",
		"--requests", "18", "--concurrency", "3", "--json", "--api-key", key, "--token", tok}
	for _, mode := range []string{"json", "sse"} {
		t.Run(mode, func(t *testing.T) {
			a := args
			if mode == "sse" {
				a = append(a, "--sse")
			}
			out, stderr, err := run(t, nil, a...)
			if err != nil {
				t.Fatalf("bench: %v\n%s\n%s", err, out, stderr)
			}
			c := benchJSON(t, out).Conversations
			if c == nil || c.Servers != 2 || c.Conversations != 3 || c.Turns != 18 || c.Answered != 18 ||
				c.Retried == 0 || c.Lost+c.Duplicated+c.Unanswered+c.Unreadable != 0 {
				t.Errorf("conversations = %+v", c)
			}
		})
	}
	dropping.Store(false) // the listing is what is wrong
	doubled.Store(true)
	out, _, err := run(t, nil, append(args[:len(args):len(args)], "--retries", "0")...)
	if err == nil {
		t.Fatalf("a listing with a turn twice passed: %s", out)
	}
	if c := benchJSON(t, out).Conversations; c == nil || c.Duplicated == 0 {
		t.Errorf("conversations = %+v, want duplicated turns", c)
	}
}
