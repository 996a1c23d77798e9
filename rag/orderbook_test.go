package rag

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/prompts"
)

// liveOrders is a fake order system: one order per customer, with a
// status newer than the ingested copy's, and a list call.
type liveOrders struct {
	down        bool
	gets, lists int
}

var liveBook = map[string]string{
	"C1/W261001-0001": "Order id: W261001-0001\nStatus: out_for_delivery\nPlaced at: 2026-10-01\nCarrier: SF Express",
	"C2/W261102-0002": "Order id: W261102-0002\nStatus: delivered\nPlaced at: 2026-11-02",
}

func (l *liveOrders) Order(_ context.Context, customer, id string) (string, bool, error) {
	l.gets++
	if l.down {
		return "", false, kefu.Errorf(kefu.EUnavailable, "the order service is unavailable")
	}
	text, ok := liveBook[customer+"/"+id]
	return text, ok, nil
}

func (l *liveOrders) Orders(_ context.Context, customer string) ([]string, error) {
	l.lists++
	if l.down {
		return nil, kefu.Errorf(kefu.EUnavailable, "the order service is unavailable")
	}
	var out []string
	for k, v := range liveBook {
		if strings.HasPrefix(k, customer+"/") {
			out = append(out, v)
		}
	}
	return out, nil
}

func ask(t *testing.T, s Searcher, l OrderLookup, customer, msg string) Result {
	t.Helper()
	var opts []Option
	if l != nil {
		opts = append(opts, WithOrderLookup(l))
	}
	res, err := Collect(New(s, fakeEmbedder{}, llm.Extractive{}, prompts.MustLoad(), opts...).Stream(context.Background(),
		Turn{Message: msg, CustomerID: customer}))
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	return res
}

// The commonest question, on the offline answerer, reads the live status,
// not the ingested copy's "shipped".
func TestStatusQuestionsAskTheOrderSystemFirst(t *testing.T) {
	for _, msg := range []string{"where is my order W261001-0001", "我的订单 W261001-0001 到哪了", "where is my order?", "我的订单到哪了"} {
		l := &liveOrders{}
		res := ask(t, shop(true), l, "C1", msg)
		if l.gets+l.lists == 0 {
			t.Errorf("%q: the order system was not asked", msg)
		}
		if !strings.Contains(res.Answer, "out_for_delivery") || strings.Contains(res.Answer, "shipped") {
			t.Errorf("%q: answer %q; want the live status", msg, res.Answer)
		}
		if strings.Contains(res.Answer, "W261102-0002") {
			t.Errorf("%q: another shopper's order in %q", msg, res.Answer)
		}
	}
}

// When the order system fails, the ingested copy answers, labelled with
// the day it was ingested, in both languages.
func TestStatusFallsBackToTheIngestedCopyLabelled(t *testing.T) {
	for msg, label := range map[string]string{
		"where is my order W261001-0001": "as of 2026-11-20",
		"我的订单 W261001-0001 到哪了":          "2026-11-20 导入时",
		"where are my orders?":           "as of 2026-11-20",
	} {
		l := &liveOrders{down: true}
		res := ask(t, stamped(shop(true)), l, "C1", msg)
		if l.gets+l.lists == 0 {
			t.Errorf("%q: the order system was not asked", msg)
		}
		if !strings.Contains(res.Answer, label) || !strings.Contains(res.Answer, "W261001-0001") {
			t.Errorf("%q: answer %q; want the ingested copy labelled %q", msg, res.Answer, label)
		}
	}
}

// A shop that ingests no orders still answers "my orders" from the order
// system, and an unknown number is not found without touching the store.
func TestOrdersWithNothingIngested(t *testing.T) {
	empty := &fakeSearcher{SearchFn: func(context.Context, kefu.Query) ([]kefu.Hit, error) { return []kefu.Hit{policyHit(0.9)}, nil }}
	l := &liveOrders{}
	res := ask(t, empty, l, "C1", "show me my orders")
	if l.lists != 1 || !strings.Contains(res.Answer, "W261001-0001") || !strings.Contains(res.Answer, "out_for_delivery") {
		t.Errorf("lists %d, answer %q", l.lists, res.Answer)
	}
	res = ask(t, empty, &liveOrders{}, "C1", "where is my order W261102-0002")
	if strings.Contains(res.Answer, "delivered") || !strings.Contains(res.Answer, "couldn't find order W261102-0002") {
		t.Errorf("another shopper's order: %q", res.Answer)
	}
}

// stamped marks every order chunk as ingested on 2026-11-20.
func stamped(s Searcher) Searcher {
	return searchFunc(func(ctx context.Context, q kefu.Query) ([]kefu.Hit, error) {
		hits, err := s.Search(ctx, q)
		for i := range hits {
			if hits[i].Chunk.Type == kefu.TypeOrder {
				hits[i].Chunk.Meta = map[string]string{kefu.MetaIngestedAt: "2026-11-20"}
			}
		}
		return hits, err
	})
}
