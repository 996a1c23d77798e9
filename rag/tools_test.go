package rag

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm/llmtest"
	"github.com/kefuhq/kefu/llm/openai"
	"github.com/kefuhq/kefu/prompts"
)

// toolCaller is a generator that calls the request's tools as scripted,
// keeps their results, and then writes its answer.
type toolCaller struct {
	calls   [][2]string // tool name, arguments
	answer  []string
	results []string
	got     *kefu.GenerateRequest
}

func (g *toolCaller) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	g.got = &req
	return func(yield func(string, error) bool) {
		for _, c := range g.calls {
			var tool *kefu.Tool
			for i := range req.Tools {
				if req.Tools[i].Name == c[0] {
					tool = &req.Tools[i]
				}
			}
			if tool == nil {
				yield("", errors.New("no tool "+c[0]))
				return
			}
			out, err := tool.Call(ctx, json.RawMessage(c[1]))
			if err != nil {
				yield("", err)
				return
			}
			g.results = append(g.results, out)
		}
		for _, p := range g.answer {
			if !yield(p, nil) {
				return
			}
		}
	}
}

func warrantyHit() kefu.Hit {
	return kefu.Hit{Chunk: kefu.Chunk{ID: "warranty#1", DocID: "warranty", Type: kefu.TypePolicy, Title: "Warranty", Source: "warranty.en.md",
		Text: "Every appliance has a warranty covering repairs up to ¥500."}, Score: 0.8, Lexical: 0.8}
}

// shop is a store with a returns policy, a warranty page (found only by
// asking for it) and an order each for C1 and C2. filtered false makes it
// ignore the filter, the customer rule included, as a broken store would.
func shop(filtered bool) Searcher {
	all := []kefu.Hit{order("W261001-0001", "C1", "2026-10-01"), order("W261102-0002", "C2", "2026-11-02")}
	fn := func(_ context.Context, q kefu.Query) ([]kefu.Hit, error) {
		switch {
		case q.Filter.OnlyCustomer:
			return all, nil
		case strings.Contains(q.Text, "warranty"):
			return []kefu.Hit{warrantyHit(), policyHit(0.9)}, nil
		}
		return []kefu.Hit{policyHit(0.9)}, nil
	}
	if !filtered {
		return searchFunc(func(ctx context.Context, q kefu.Query) ([]kefu.Hit, error) {
			hits, _ := fn(ctx, q)
			return append(hits, all...), nil
		})
	}
	return &fakeSearcher{SearchFn: fn}
}

type searchFunc func(ctx context.Context, q kefu.Query) ([]kefu.Hit, error)

func (f searchFunc) Search(ctx context.Context, q kefu.Query) ([]kefu.Hit, error) { return f(ctx, q) }

func turn(customer string) Turn {
	return Turn{Message: "how long do I have to return things", CustomerID: customer}
}

func TestToolsAreOfferedAndBoundToTheTurn(t *testing.T) {
	g := &toolCaller{answer: []string{"Return within 30 days. [1]"}}
	res, err := Collect(New(shop(true), fakeEmbedder{}, g, prompts.MustLoad()).Stream(context.Background(), turn("C1")))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range g.got.Tools {
		names = append(names, tool.Name)
		if tool.Call == nil || tool.Parameters["type"] != "object" || tool.Description == "" {
			t.Errorf("tool %s is incomplete", tool.Name)
		}
	}
	if strings.Join(names, ",") != "search_knowledge,get_order" || res.Escalation != nil {
		t.Errorf("tools %v, escalation %+v", names, res.Escalation)
	}
}

func TestGetOrderSeesOnlyTheShoppersOrders(t *testing.T) {
	const mine, theirs = "W261001-0001", "W261102-0002"
	lookup := orderLookupFunc(func(_ context.Context, customer, id string) (string, bool, error) {
		owner := map[string]string{mine: "C1", theirs: "C2"}[id]
		if owner == "" || owner != customer {
			return "", false, nil
		}
		return order(id, owner, "2026-10-01").Chunk.Text, true, nil
	})
	for _, tc := range []struct {
		name     string
		customer string
		id       string
		store    Searcher
		opts     []Option
		found    bool
	}{
		{"own order from the store", "C1", mine, shop(true), nil, true},
		{"own order, lower case", "C1", strings.ToLower(mine), shop(true), nil, true},
		{"another shopper's order", "C1", theirs, shop(true), nil, false},
		{"another shopper's order from a store that ignores the owner", "C1", theirs, shop(false), nil, false},
		{"part of an order number", "C1", "0001", shop(true), nil, false},
		{"no such order", "C1", "W999999-9999", shop(true), nil, false},
		{"anonymous", "", mine, shop(false), nil, false},
		{"own order from the order service", "C1", mine, shop(true), []Option{WithOrderLookup(lookup)}, true},
		{"another shopper's order from the order service", "C1", theirs, shop(true), []Option{WithOrderLookup(lookup)}, false},
		{"anonymous with the order service", "", mine, shop(true), []Option{WithOrderLookup(lookup)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &toolCaller{calls: [][2]string{{"get_order", `{"order_id": "` + tc.id + `"}`}}, answer: []string{"Return within 30 days. [1]"}}
			res, err := Collect(New(tc.store, fakeEmbedder{}, g, prompts.MustLoad(), tc.opts...).Stream(context.Background(), turn(tc.customer)))
			if err != nil {
				t.Fatal(err)
			}
			out := g.results[0]
			if !tc.found {
				if out != `not found: the shopper has no order "`+tc.id+`".` {
					t.Errorf("result %q, want the same not-found for every order that is not the shopper's", out)
				}
				if len(res.Citations) != 1 {
					t.Errorf("citations %+v", res.Citations)
				}
				return
			}
			if !strings.HasPrefix(out, "[2] Order ") || !strings.Contains(out, "Status: shipped") || strings.Contains(out, "C2") {
				t.Errorf("result %q, want the order as passage [2]", out)
			}
		})
	}
}

func TestToolResultsJoinTheContext(t *testing.T) {
	// The order number and the tracking number are in no passage the
	// prompt showed: without the tool the answer is stopped as ungrounded;
	// with it, it passes the fact gate and cites the order as [2].
	answer := []string{"Your order W261001-0001 has shipped", " with tracking number SFW261001-0001. [2]"}
	for _, withTool := range []bool{false, true} {
		g := &toolCaller{answer: answer}
		if withTool {
			g.calls = [][2]string{{"get_order", `{"order_id": "W261001-0001"}`}}
		}
		res, err := Collect(New(shop(true), fakeEmbedder{}, g, prompts.MustLoad()).Stream(context.Background(), turn("C1")))
		if err != nil {
			t.Fatal(err)
		}
		if !withTool {
			if res.Escalation == nil || res.Escalation.Reason != "ungrounded" {
				t.Errorf("without the tool: escalation %+v, answer %q", res.Escalation, res.Answer)
			}
			continue
		}
		if res.Escalation != nil || res.Answer != strings.Join(answer, "") {
			t.Errorf("with the tool: escalation %+v, answer %q", res.Escalation, res.Answer)
		}
		if len(res.Citations) != 1 || res.Citations[0].N != 2 || res.Citations[0].DocID != "orders#W261001-0001" {
			t.Errorf("citations %+v, want the order as [2]", res.Citations)
		}
	}
}

func TestSearchKnowledge(t *testing.T) {
	day := WithClock(func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) })
	for _, tc := range []struct {
		name, query, result string
		grounded            bool
	}{
		// The returns page is already [1]: it keeps its number.
		{"known passage", "returns", "[1] Returns\nReturn within 30 days.", false},
		{"new passage", "warranty", "[2] Warranty\nEvery appliance has a warranty covering repairs up to ¥500.\n\n[1] Returns\nReturn within 30 days.", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := shop(true).(*fakeSearcher)
			g := &toolCaller{
				calls:  [][2]string{{"search_knowledge", `{"query": "` + tc.query + `"}`}, {"search_knowledge", `{"query": "` + tc.query + `"}`}},
				answer: []string{"Repairs are covered up to ¥500. [2]"},
			}
			res, err := Collect(New(s, fakeEmbedder{}, g, prompts.MustLoad(), day).Stream(context.Background(), turn("C1")))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.got.Context) != 1 || g.results[0] != tc.result || g.results[1] != tc.result {
				t.Errorf("prompt context %d passages, results %q", len(g.got.Context), g.results)
			}
			// A fact is grounded only when a passage the model was given holds it.
			if grounded := res.Escalation == nil; grounded != tc.grounded {
				t.Errorf("grounded %v, want %v: %q", grounded, tc.grounded, res.Answer)
			}
			if tc.grounded && (len(res.Citations) != 1 || res.Citations[0].N != 2 || res.Citations[0].DocID != "warranty") {
				t.Errorf("citations %+v", res.Citations)
			}
			q := s.queries[len(s.queries)-1]
			if q.Text != tc.query || q.Filter.CustomerID != "C1" || q.Filter.OnlyCustomer || q.Filter.At != "2026-12-01" {
				t.Errorf("tool search %+v, want the turn's filter", q)
			}
		})
	}
}

func TestToolArgumentsThatAreNotJSON(t *testing.T) {
	for _, c := range [][2]string{
		{"get_order", `{"order_id": W261001-0001`},
		{"get_order", `{"order": "W261001-0001"}`},
		{"search_knowledge", `warranty`},
		{"search_knowledge", `{"query": ""}`},
	} {
		g := &toolCaller{calls: [][2]string{c}, answer: []string{"Return within 30 days. [1]"}}
		res, err := Collect(New(shop(true), fakeEmbedder{}, g, prompts.MustLoad()).Stream(context.Background(), turn("C1")))
		if err != nil {
			t.Fatalf("%s %s: %v", c[0], c[1], err)
		}
		if !strings.HasPrefix(g.results[0], "error: "+c[0]+" needs arguments like {") || res.Answer != "Return within 30 days. [1]" {
			t.Errorf("%s %s: result %q, answer %q", c[0], c[1], g.results[0], res.Answer)
		}
	}
}

// A failing order service does not end the turn: get_order answers from
// the ingested copy, labelled as such.
func TestOrderServiceFailureFallsBackToTheIngestedCopy(t *testing.T) {
	down := kefu.WrapError(kefu.EUnavailable, "the order service is unavailable", errors.New("connection refused"))
	calls := 0
	lookup := orderLookupFunc(func(context.Context, string, string) (string, bool, error) { calls++; return "", false, down })
	g := &toolCaller{calls: [][2]string{{"get_order", `{"order_id": "W261001-0001"}`}, {"get_order", `{"order_id": "W261102-0002"}`}}, answer: []string{"ok"}}
	_, err := Collect(New(shop(true), fakeEmbedder{}, g, prompts.MustLoad(), WithOrderLookup(lookup)).Stream(context.Background(), turn("C1")))
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("the order service was never asked")
	}
	if !strings.Contains(g.results[0], "did not answer; this copy is as of") || !strings.Contains(g.results[0], "W261001-0001") {
		t.Errorf("own order with the service down came back as %q", g.results[0])
	}
	if !strings.HasPrefix(g.results[1], "not found") {
		t.Errorf("another shopper's order with the service down came back as %q", g.results[1])
	}
}

// TestToolsThroughAModel runs the tools behind the OpenAI-compatible
// generator against the fake model server: the model asks for another
// shopper's order, then for the shopper's own, and answers from it.
func TestToolsThroughAModel(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	gen, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Script(
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			{ID: "theirs", Name: "get_order", Arguments: `{"order_id": "W261102-0002"}`},
			{ID: "garbled", Name: "get_order", Arguments: `{"order_id": `},
		}},
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "mine", Name: "get_order", Arguments: `{"order_id": "W261001-0001"}`}}},
		llmtest.Reply{Text: "Your order W261001-0001 has shipped. [2]"},
	)
	res, err := Collect(New(shop(false), fakeEmbedder{}, gen, prompts.MustLoad()).Stream(context.Background(), turn("C1")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "Your order W261001-0001 has shipped. [2]" || res.Escalation != nil || len(res.Citations) != 1 || res.Citations[0].N != 2 {
		t.Errorf("answer %q, reason %q, citations %+v", res.Answer, res.Meta.Reason, res.Citations)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests", len(reqs))
	}
	got := map[string]string{}
	for _, m := range reqs[2].ToolResults() {
		got[m.ToolCallID] = m.Content
	}
	if got["theirs"] != `not found: the shopper has no order "W261102-0002".` {
		t.Errorf("another shopper's order came back as %q", got["theirs"])
	}
	if !strings.HasPrefix(got["garbled"], "error: get_order needs arguments like") {
		t.Errorf("garbled arguments came back as %q", got["garbled"])
	}
	if !strings.HasPrefix(got["mine"], "[2] Order W261001-0001") {
		t.Errorf("the shopper's order came back as %q", got["mine"])
	}
	for _, r := range reqs {
		for _, m := range r.Messages {
			if strings.Contains(m.Content, "2026-11-02") || strings.Contains(m.Content, "SFW261102") {
				t.Errorf("another shopper's order reached the model: %q", m.Content)
			}
		}
	}
}

type orderLookupFunc func(ctx context.Context, customer, id string) (string, bool, error)

func (f orderLookupFunc) Order(ctx context.Context, customer, id string) (string, bool, error) {
	return f(ctx, customer, id)
}
