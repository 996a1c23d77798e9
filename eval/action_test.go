package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/rag"
)

func TestActionAccuracy(t *testing.T) {
	cases, err := Load(strings.NewReader(strings.Join([]string{
		`{"id": "ok", "question": "q1", "customer_id": "C1", "expect_action": {"kind": "cancel", "state": "proposed", "order_id": "W1"}}`,
		`{"id": "refused", "question": "q2", "customer_id": "C1", "expect_action": {"kind": "return", "state": "failed"}}`,
		`{"id": "other-kind", "question": "q3", "customer_id": "C1", "expect_action": {"kind": "exchange", "state": "proposed"}}`,
		`{"id": "other-order", "question": "q4", "customer_id": "C1", "expect_action": {"kind": "cancel", "state": "proposed", "order_id": "W2"}}`,
		`{"id": "none", "question": "q5", "customer_id": "C1", "expect_action": {"kind": "cancel", "state": "proposed"}}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	acted := func(order, kind, state string) rag.Result {
		return rag.Result{Answer: "x", Meta: rag.Meta{Decision: rag.DecideAnswer}, Action: &rag.ActionRef{ID: "a1", OrderID: order, Kind: kind, State: state}}
	}
	a := fakeAnswerer{
		"q1": acted("W1", "cancel", "proposed"), "q2": acted("W1", "return", "proposed"), "q3": acted("W1", "return", "proposed"),
		"q4": acted("W1", "cancel", "proposed"), "q5": {Answer: "x", Meta: rag.Meta{Decision: rag.DecideAnswer}},
	}
	r, err := Run(context.Background(), a, cases, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.ActionCases != 5 || r.ActionAccuracy != 0.2 {
		t.Fatalf("actions %d cases, accuracy %v", r.ActionCases, r.ActionAccuracy)
	}
	why := map[string]string{}
	for _, f := range r.Failures {
		why[f.ID] = strings.Join(f.Reasons, "; ")
	}
	for id, want := range map[string]string{"refused": "want return failed", "other-kind": "want exchange proposed", "other-order": "want W2", "none": "no action"} {
		if !strings.Contains(why[id], want) {
			t.Errorf("%s: reasons %q, want %q", id, why[id], want)
		}
	}
	if _, ok := why["ok"]; ok {
		t.Errorf("the matching case failed: %s", why["ok"])
	}
}

func TestExpectActionValidated(t *testing.T) {
	for line, want := range map[string]string{
		`{"id": "a", "question": "q", "customer_id": "C1", "expect_action": {"kind": "teleport", "state": "proposed"}}`: "is not one of",
		`{"id": "b", "question": "q", "customer_id": "C1", "expect_action": {"kind": "cancel", "state": "done"}}`:       "not proposed or failed",
		`{"id": "c", "question": "q", "expect_action": {"kind": "cancel", "state": "proposed"}}`:                        "needs a customer_id",
		`{"id": "d", "question": "q", "customer_id": "C1", "expect_action": {"kind": "cancel", "stat": "proposed"}}`:    "stat",
	} {
		if _, err := Load(strings.NewReader(line)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", line, err, want)
		}
	}
}
