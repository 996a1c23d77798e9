package eval

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
)

func TestLoadReportsEveryBadLine(t *testing.T) {
	in := strings.Join([]string{
		`{"id": "a", "question": "q"}`,
		`{"id": "b"}`,
		`not json`,
		`{"id": "a", "question": "again"}`,
		`{"id": "c", "question": "q", "expect": "maybe"}`,
		`{"id": "d", "question": "q", "surprise": 1}`,
		``,
	}, "\n")
	_, err := Load(strings.NewReader(in))
	if err == nil {
		t.Fatal("bad golden set accepted")
	}
	for _, want := range []string{"line 2", "line 3", "line 4", "line 5", "line 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	cases, err := Load(strings.NewReader(`{"id": "a", "question": "q"}`))
	if err != nil || cases[0].Expect != ExpectAnswer {
		t.Fatalf("minimal case: %v %+v", err, cases)
	}
	if _, err := Load(strings.NewReader("\n\n")); err == nil {
		t.Fatal("empty golden set accepted")
	}
}

// fakeAnswerer replies from a table keyed by question.
type fakeAnswerer map[string]rag.Result

func (f fakeAnswerer) Stream(_ context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	return func(yield func(rag.Event, error) bool) {
		r := f[t.Message]
		meta := r.Meta
		if !yield(rag.Event{Type: rag.EventMeta, Meta: &meta}, nil) {
			return
		}
		if r.Escalation != nil && !yield(rag.Event{Type: rag.EventEscalation, Escalation: r.Escalation}, nil) {
			return
		}
		yield(rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: r.Answer, Action: r.Action}}, nil)
	}
}

func hits(texts ...string) []kefu.Hit {
	var out []kefu.Hit
	for i, t := range texts {
		out = append(out, kefu.Hit{Chunk: kefu.Chunk{ID: string(rune('a' + i)), Text: t}})
	}
	return out
}

func TestRunScores(t *testing.T) {
	cases := []Case{
		{ID: "first", Question: "q1", Evidence: []string{"Thirty  DAYS"}, AnswerIncludes: []string{"30"}, Expect: ExpectAnswer},
		{ID: "third", Question: "q2", Evidence: []string{"refund"}, Expect: ExpectAnswer},
		{ID: "miss", Question: "q3", Evidence: []string{"nowhere"}, Expect: ExpectAnswer},
		{ID: "esc", Question: "q4", Expect: ExpectEscalate},
		{ID: "ref", Question: "q5", Expect: ExpectRefuse},
		{ID: "leak", Question: "q6", Forbidden: []string{"W9"}, Expect: ExpectAnswer},
	}
	a := fakeAnswerer{
		"q1": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: hits("returns within thirty days")}, Answer: "30 days"},
		"q2": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: hits("x", "y", "Refund in 3 days")}, Answer: "ok"},
		"q3": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: hits("x")}, Answer: "ok"},
		"q4": {Meta: rag.Meta{Decision: rag.DecideEscalate}, Escalation: &rag.Escalation{Reason: "requested"}},
		"q5": {Meta: rag.Meta{Decision: rag.DecideAnswer}, Answer: "sure"},
		"q6": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: hits("order w9 of someone")}, Answer: "no"},
	}
	r, err := Run(context.Background(), a, cases, 10)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("cases", float64(r.Cases), 6)
	check("retrieval_cases", float64(r.RetrievalCases), 3)
	check("hit_at_1", r.HitAt1, 0.3333)
	check("hit_at_5", r.HitAt5, 0.6667)
	check("mrr_at_10", r.MRRAt10, round((1+1.0/3)/3))
	check("answer_includes_rate", r.AnswerIncludesRate, 1)
	check("expect_accuracy", r.ExpectAccuracy, round(5.0/6))
	check("escalation_precision", r.EscalationPrecision, 1)
	check("escalation_recall", r.EscalationRecall, 1)
	check("refusal_accuracy", r.RefusalAccuracy, 0)
	check("forbidden_hits", float64(r.ForbiddenHits), 1)
	failed := map[string]bool{}
	for _, f := range r.Failures {
		failed[f.ID] = true
	}
	if !failed["miss"] || !failed["ref"] || !failed["leak"] || failed["first"] || len(r.Failures) != 3 {
		t.Errorf("failures %+v", r.Failures)
	}

	g := Gate{Min: map[string]float64{"hit_at_5": 0.9, "expect_accuracy": 0.5}, Max: map[string]float64{"forbidden_hits": 0}}
	bad := g.Check(r)
	if len(bad) != 2 || !strings.Contains(bad[0], "forbidden_hits") || !strings.Contains(bad[1], "hit_at_5") {
		t.Errorf("gate check %q", bad)
	}
}

func TestLoadGate(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "gate.json")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	if _, err := LoadGate(write(`{"min": {"hit_at_5_typo": 0.9}}`)); err == nil || !strings.Contains(err.Error(), "hit_at_5_typo") {
		t.Errorf("unknown metric: %v", err)
	}
	if _, err := LoadGate(write(`{}`)); err == nil {
		t.Error("empty gate accepted")
	}
	if _, err := LoadGate("gates/demo.json"); err != nil {
		t.Errorf("the demo gate: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(`{"id": "a", "question": "q", "history": [{"role": "user", "content": "x"}], "expect": "refuse"}`)
	f.Add("{\"id\": \"a\"}\n\n{")
	f.Add(`{"id": "a", "question": "q", "locale": "fr"}`)
	f.Fuzz(func(t *testing.T, in string) {
		cases, err := Load(strings.NewReader(in))
		if err == nil {
			for _, c := range cases {
				if c.ID == "" || c.Question == "" || c.Expect == "" {
					t.Fatalf("accepted an invalid case %+v", c)
				}
			}
		}
	})
}

func TestUnderstandingAndGuardMetrics(t *testing.T) {
	yes, no := true, false
	cases := []Case{
		{ID: "i1", Question: "a1", Intent: "shipping", Angry: &no},
		{ID: "i2", Question: "a2", Intent: "complaint", Angry: &yes, Expect: ExpectEscalate},
		{ID: "i3", Question: "a3", Intent: "payment", Angry: &yes},
		{ID: "at", Question: "a4", Tags: []string{TagAttack}, Expect: ExpectRefuse},
		{ID: "be", Question: "a5", Tags: []string{TagBenign}},
	}
	a := fakeAnswerer{
		"a1": {Meta: rag.Meta{Intent: "shipping", Sentiment: rag.SentimentAngry, Decision: rag.DecideAnswer}},
		"a2": {Meta: rag.Meta{Intent: "complaint", Sentiment: rag.SentimentAngry, Decision: rag.DecideEscalate}},
		"a3": {Meta: rag.Meta{Intent: "shipping", Sentiment: rag.SentimentNeutral, Decision: rag.DecideAnswer}},
		"a4": {Meta: rag.Meta{Decision: rag.DecideAnswer}},
		"a5": {Meta: rag.Meta{Decision: rag.DecideRefuse}},
	}
	r, err := Run(context.Background(), a, cases, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.IntentCases != 3 || r.IntentAccuracy != 0.6667 {
		t.Errorf("intent %d %v", r.IntentCases, r.IntentAccuracy)
	}
	if r.AngerCases != 2 || r.AngerRecall != 0.5 || r.AngerPrecision != 0.5 {
		t.Errorf("anger %d %v %v", r.AngerCases, r.AngerRecall, r.AngerPrecision)
	}
	if r.AttackCases != 1 || r.AttackBlockRate != 0 || r.BenignCases != 1 || r.BenignFalseRefusals != 1 {
		t.Errorf("guard metrics %+v", r)
	}
}

func TestGateAgainstBaseline(t *testing.T) {
	g := Gate{MinVsBaseline: map[string]float64{"hit_at_5": 0, "mrr_at_10": -0.05}}
	r := Report{HitAt5: 0.8, MRRAt10: 0.60}
	if bad := g.Check(r); len(bad) != 1 || !strings.Contains(bad[0], "--baseline") {
		t.Fatalf("without a baseline: %q", bad)
	}
	r.Baseline = &BaselineReport{HitAt5: 0.8, MRRAt10: 0.64}
	if bad := g.Check(r); len(bad) != 0 {
		t.Fatalf("level with BM25 and within the allowance: %q", bad)
	}
	r.Baseline.HitAt5 = 0.85
	r.Baseline.MRRAt10 = 0.7
	bad := g.Check(r)
	if len(bad) != 2 || !strings.Contains(bad[0], "hit_at_5") || !strings.Contains(bad[1], "mrr_at_10") {
		t.Fatalf("below BM25: %q", bad)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "gate.json")
	os.WriteFile(p, []byte(`{"min_vs_baseline": {"answer_rate": 0}}`), 0o600)
	if _, err := LoadGate(p); err == nil || !strings.Contains(err.Error(), "answer_rate") {
		t.Fatalf("a metric the baseline lacks: %v", err)
	}
	os.WriteFile(p, []byte(`{"min_vs_baseline": {"hit_at_5": 0}}`), 0o600)
	if _, err := LoadGate(p); err != nil {
		t.Fatalf("a baseline-only gate: %v", err)
	}
}
