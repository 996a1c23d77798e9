package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/rag"
)

func TestEligibilityAccuracy(t *testing.T) {
	cases, err := Load(strings.NewReader(strings.Join([]string{
		`{"id": "ok", "question": "q1", "customer_id": "C1", "expect_eligible": {"action": "return", "eligible": false}}`,
		`{"id": "flipped", "question": "q2", "customer_id": "C1", "expect_eligible": {"action": "return", "eligible": true}}`,
		`{"id": "other-action", "question": "q3", "customer_id": "C1", "expect_eligible": {"action": "modify", "eligible": false}}`,
		`{"id": "other-order", "question": "q4", "customer_id": "C1", "expect_eligible": {"action": "cancel", "eligible": true, "order_id": "W2"}}`,
		`{"id": "none", "question": "q5", "customer_id": "C1", "expect_eligible": {"action": "cancel", "eligible": true}}`,
		`{"id": "plain", "question": "q6"}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	decided := func(order, action string, eligible bool) rag.Result {
		return rag.Result{Answer: "x", Meta: rag.Meta{Decision: rag.DecideAnswer,
			Eligibility: &rag.Eligibility{OrderID: order, Action: action, Eligible: eligible, Rule: "r@v"}}}
	}
	a := fakeAnswerer{
		"q1": decided("W1", "return", false), "q2": decided("W1", "return", false), "q3": decided("W1", "exchange", false),
		"q4": decided("W1", "cancel", true), "q5": {Answer: "x", Meta: rag.Meta{Decision: rag.DecideAnswer}},
	}
	r, err := Run(context.Background(), a, cases, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.EligibilityCases != 5 || r.EligibilityAccuracy != 0.2 {
		t.Fatalf("eligibility %d cases, accuracy %v", r.EligibilityCases, r.EligibilityAccuracy)
	}
	why := map[string]string{}
	for _, f := range r.Failures {
		why[f.ID] = strings.Join(f.Reasons, "; ")
	}
	for id, want := range map[string]string{"flipped": "want true", "other-action": "want modify_items", "other-order": "want W2", "none": "no eligibility decision"} {
		if !strings.Contains(why[id], want) {
			t.Errorf("%s: reasons %q, want %q", id, why[id], want)
		}
	}
	if _, ok := why["ok"]; ok {
		t.Errorf("the matching case failed: %s", why["ok"])
	}
}

func TestExpectEligibleValidated(t *testing.T) {
	for line, want := range map[string]string{
		`{"id": "a", "question": "q", "customer_id": "C1", "expect_eligible": {"action": "teleport", "eligible": true}}`: "not an action",
		`{"id": "b", "question": "q", "expect_eligible": {"action": "return", "eligible": true}}`:                        "needs a customer_id",
		`{"id": "c", "question": "q", "customer_id": "C1", "expect_eligible": {"action": "return", "elgible": true}}`:    "elgible",
	} {
		if _, err := Load(strings.NewReader(line)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", line, err, want)
		}
	}
}
