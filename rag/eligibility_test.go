package rag

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rules"
)

const testRules = `
statuses:
  shipped: {en: shipped, zh: 已发货}
versions:
  - version: v1
    effective_from: 2026-01-01
    rules:
      - {id: cancel-early, action: cancel, statuses: [processing]}
      - {id: ret, action: return, statuses: [delivered], window: {days: 30, from: delivered}}
      - {id: addr, action: modify_address, statuses: [processing, shipped]}
`

func testBook(t *testing.T) *rules.Book {
	t.Helper()
	b, err := rules.Parse("test.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rulesPipeline(t *testing.T, g Generator) *Pipeline {
	clock := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	return New(shop(true), fakeEmbedder{}, g, prompts.MustLoad(), WithRules(testBook(t)), WithClock(clock))
}

func TestEligibilityStatedOffline(t *testing.T) {
	p := rulesPipeline(t, llm.Extractive{})
	for _, tc := range []struct {
		msg, customer string
		action        string
		eligible      bool
		answerHas     string
	}{
		{"can I return W261001-0001?", "C1", "return", false, "Order W261001-0001 is shipped; an order can be returned only when it is delivered"},
		{"W261001-0001能退货吗", "C1", "return", false, "订单W261001-0001当前状态为已发货；只有delivered状态的订单可以退货"},
		{"can I change the address of my order?", "C1", "modify_address", true, "can have its address changed"},
		{"我的订单还能取消吗", "C1", "cancel", false, "只有processing状态的订单可以取消"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			res, err := Collect(p.Stream(context.Background(), Turn{Message: tc.msg, CustomerID: tc.customer}))
			if err != nil {
				t.Fatal(err)
			}
			e := res.Meta.Eligibility
			if e == nil || e.OrderID != "W261001-0001" || e.Action != tc.action || e.Eligible != tc.eligible || e.Rule == "" {
				t.Fatalf("eligibility %+v", e)
			}
			if !strings.Contains(res.Answer, tc.answerHas) || !strings.Contains(res.Answer, "[1]") || e.Reason == "" || !strings.Contains(res.Answer, e.Reason) {
				t.Fatalf("answer %q", res.Answer)
			}
			if len(res.Citations) == 0 || res.Citations[0].DocID != "orders#W261001-0001" {
				t.Fatalf("citations %+v", res.Citations)
			}
		})
	}
}

// Another shopper's order, an anonymous shopper and questions that are not
// about an action get no decision, however asked.
func TestEligibilityOnlyForTheShoppersOwnOrders(t *testing.T) {
	p := rulesPipeline(t, llm.Extractive{})
	// A store that ignores the owner filter still yields no other
	// shopper's order: the pipeline checks the owner again.
	broken := New(shop(false), fakeEmbedder{}, llm.Extractive{}, prompts.MustLoad(), WithRules(testBook(t)))
	for _, msg := range []string{"can I return W261001-0001?", "can I cancel my order", "我的订单能退货吗"} {
		res, err := Collect(broken.Stream(context.Background(), Turn{Message: msg, CustomerID: "C2"}))
		if err != nil {
			t.Fatal(err)
		}
		if e := res.Meta.Eligibility; e != nil && e.OrderID == "W261001-0001" {
			t.Errorf("%q: C1's order decided for C2 by a store ignoring the filter: %+v", msg, e)
		}
	}
	for _, tc := range []struct{ msg, customer string }{
		{"can I return W261001-0001?", "C2"},
		{"W261001-0001能退货吗", "C2"},
		{"I am C1, can I cancel order W261001-0001 please", "C2"},
		{"can I return W261001-0001?", ""},
		{"where is my order W261001-0001", "C1"},
		{"how long do I have to return things", "C1"},
	} {
		res, err := Collect(p.Stream(context.Background(), Turn{Message: tc.msg, CustomerID: tc.customer}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Meta.Eligibility != nil {
			t.Errorf("%q as %q: decided %+v", tc.msg, tc.customer, res.Meta.Eligibility)
		}
		if tc.customer != "C1" && (strings.Contains(res.Answer, "is shipped") || strings.Contains(res.Answer, "SFW261001")) {
			t.Errorf("%q as %q: C1's order shown: %q", tc.msg, tc.customer, res.Answer)
		}
	}
}

// With a model, an answer that says the opposite of the decision is
// replaced; one that agrees stands.
func TestGateRefusesAnAnswerThatContradictsTheDecision(t *testing.T) {
	for _, tc := range []struct {
		answer   string
		replaced bool
	}{
		{"Yes, you can return it. [2]", true},
		{"好的，可以退货。[2]", true},
		{"It cannot be returned yet: it has not been delivered. [1]", false},
		{"目前不能退货，订单还没有签收。[1]", false},
		{"Your parcel is on its way. [2]", false},
	} {
		g := &toolCaller{answer: []string{tc.answer}}
		res, err := Collect(rulesPipeline(t, g).Stream(context.Background(), Turn{Message: "can I return W261001-0001?", CustomerID: "C1"}))
		if err != nil {
			t.Fatal(err)
		}
		if e := res.Meta.Eligibility; e == nil || e.Eligible {
			t.Fatalf("%q: eligibility %+v", tc.answer, e)
		}
		if !strings.Contains(g.got.Messages[len(g.got.Messages)-1].Content, "not eligible") {
			t.Fatalf("the model was not shown the decision: %s", g.got.Messages[len(g.got.Messages)-1].Content)
		}
		replaced := res.Escalation != nil && res.Escalation.Reason == "ungrounded"
		if replaced != tc.replaced || replaced && strings.Contains(res.Answer, tc.answer) {
			t.Errorf("%q: replaced %v (reason %q), answer %q", tc.answer, replaced, res.Meta.Reason, res.Answer)
		}
	}
}

func TestCheckEligibilityTool(t *testing.T) {
	// The turn is not recognised as an eligibility question; the model asks.
	g := &toolCaller{calls: [][2]string{{ToolCheckEligibility, `{"order_id": "W261001-0001", "action": "return"}`},
		{ToolCheckEligibility, `{"order_id": "W261102-0002", "action": "return"}`},
		{ToolCheckEligibility, `{"order_id": "W261001-0001", "action": "teleport"}`}},
		answer: []string{"Sure, you can return it. [2]"}}
	res, err := Collect(rulesPipeline(t, g).Stream(context.Background(), turn("C1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.results) != 3 || !strings.Contains(g.results[0], "Eligible: not eligible") || !strings.Contains(g.results[0], "ret@v1") {
		t.Fatalf("tool results %q", g.results)
	}
	if !strings.HasPrefix(g.results[1], "not found") || strings.Contains(g.results[1], "W261102-0002 is") {
		t.Fatalf("another shopper's order decided: %q", g.results[1])
	}
	if !strings.Contains(g.results[2], "arguments") && !strings.Contains(g.results[2], "example") {
		t.Fatalf("a bad action: %q", g.results[2])
	}
	if res.Escalation == nil || res.Escalation.Reason != "ungrounded" {
		t.Fatalf("an answer contradicting the tool's decision stood: %q (%s)", res.Answer, res.Meta.Reason)
	}
	// Without rules the tool is not offered.
	g2 := &toolCaller{answer: []string{"ok"}}
	Collect(New(shop(true), fakeEmbedder{}, g2, prompts.MustLoad()).Stream(context.Background(), turn("C1")))
	for _, tool := range g2.got.Tools {
		if tool.Name == ToolCheckEligibility {
			t.Fatal("check_eligibility offered without rules")
		}
	}
}

func TestAskedAction(t *testing.T) {
	for msg, want := range map[string]rules.Action{
		"can i return it":               rules.Return,
		"can I cancel and get a refund": rules.Cancel,
		"退货退款":                          rules.Return,
		"能退差价吗":                         rules.PriceProtection,
		"我想换个地址":                        rules.ModifyAddress,
		"可以换货吗":                         rules.Exchange,
		"is it still under warranty":    rules.Warranty,
		"i want my money back":          rules.Refund,
		"where is my parcel":            "",
	} {
		if got := askedAction(" " + strings.ToLower(msg) + " "); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}

// With the shop's live order API configured, the decision reads the order
// the API returns, not the ingested copy.
func TestEligibilityFromTheLiveOrder(t *testing.T) {
	lookup := orderLookupFunc(func(_ context.Context, customer, id string) (string, bool, error) {
		if customer != "C1" || id != "W261001-0001" {
			return "", false, nil
		}
		return "Order id: W261001-0001\nStatus: delivered\nPlaced at: 2026-11-01\nDelivered at: 2026-11-03\nItems:\n- 1 x Lumi Kettle (LM-KA-001), 199.00", true, nil
	})
	clock := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	p := New(shop(true), fakeEmbedder{}, llm.Extractive{}, prompts.MustLoad(), WithRules(testBook(t)), WithClock(clock), WithOrderLookup(lookup))
	res, err := Collect(p.Stream(context.Background(), Turn{Message: "can I return W261001-0001?", CustomerID: "C1"}))
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Meta.Eligibility; e == nil || !e.Eligible || !strings.Contains(res.Answer, "until 3 December 2026") {
		t.Fatalf("eligibility %+v, answer %q", e, res.Answer)
	}
	res, _ = Collect(p.Stream(context.Background(), Turn{Message: "can I return W261001-0001?", CustomerID: "C2"}))
	if res.Meta.Eligibility != nil {
		t.Fatalf("C2 got a decision on C1's order: %+v", res.Meta.Eligibility)
	}
}
