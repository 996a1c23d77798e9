package eval

import (
	"context"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
)

// recorder answers every turn with res and keeps the turns it saw.
type recorder struct {
	res   map[string]rag.Result
	turns []rag.Turn
}

func (r *recorder) Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	r.turns = append(r.turns, t)
	return fakeAnswerer(r.res).Stream(ctx, t)
}

func docHits(docs ...string) []kefu.Hit {
	var out []kefu.Hit
	for i, d := range docs {
		out = append(out, kefu.Hit{Chunk: kefu.Chunk{ID: d + "#" + string(rune('0'+i)), DocID: d, Text: "text of " + d}})
	}
	return out
}

func TestDocMatches(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
		ok        bool
	}{
		{"documents.jsonl#doc_42", "doc_42", true},
		{"documents.jsonl#doc_42", "documents.jsonl#doc_42", true},
		{"doc_42", "doc_42", true},
		{"documents.jsonl#xdoc_42", "doc_42", false},
		{"documents.jsonl#doc_42", "doc_4", false},
		{"shop/doc_42", "doc_42", false},
		{"#doc_42", "doc_42", true},
		{"doc_42", "", false},
	} {
		if got := DocMatches(tc.doc, tc.want); got != tc.ok {
			t.Errorf("DocMatches(%q, %q) = %v", tc.doc, tc.want, got)
		}
	}
}

func TestRecallAndAnswerRates(t *testing.T) {
	many := make([]string, 0, 12)
	for i := range 11 {
		many = append(many, "filler"+string(rune('a'+i)))
	}
	many = append(many, "late") // rank 12: outside the top 10
	cases := []Case{
		// 2 of 3 evidence documents in the top 10.
		{Expect: ExpectAnswer, ID: "two", Question: "q1", EvidenceDocs: []string{"d1", "d2", "d3"}},
		// its one document at rank 12: recall 0, and no hit.
		{Expect: ExpectAnswer, ID: "late", Question: "q2", EvidenceDocs: []string{"late"}},
		// answered, but handed over after the answer: not answered.
		{Expect: ExpectAnswer, ID: "handed", Question: "q3"},
		// expects a handoff and gets "I don't know".
		{ID: "unknown", Question: "q4", Expect: ExpectEscalate},
		// expects a handoff and gets one for another reason.
		{ID: "angry", Question: "q5", Expect: ExpectEscalate},
		// asked to sign in: not an answer for answer_rate.
		{Expect: ExpectAnswer, ID: "clarify", Question: "q6"},
	}
	a := &recorder{res: map[string]rag.Result{
		"q1": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: docHits("x", "src.jsonl#d2", "d1", "y")}},
		"q2": {Meta: rag.Meta{Decision: rag.DecideAnswer, Retrieved: docHits(many...)}},
		"q3": {Meta: rag.Meta{Decision: rag.DecideAnswer}, Escalation: &rag.Escalation{Reason: "ungrounded"}},
		"q4": {Meta: rag.Meta{Decision: rag.DecideEscalate, Reason: "no_knowledge"}, Escalation: &rag.Escalation{Reason: "no_knowledge"}},
		"q5": {Meta: rag.Meta{Decision: rag.DecideEscalate}, Escalation: &rag.Escalation{Reason: "anger"}},
		"q6": {Meta: rag.Meta{Decision: rag.DecideClarify}},
	}}
	r, err := Run(context.Background(), a, cases, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.RecallCases != 2 || r.RecallAt10 != round((2.0/3+0)/2) {
		t.Errorf("recall_at_10 %v over %d cases", r.RecallAt10, r.RecallCases)
	}
	// Evidence documents also make chunks relevant for hit@k: "two" has
	// one at rank 2.
	if r.RetrievalCases != 2 || r.HitAt1 != 0 || r.HitAt5 != 0.5 || r.MRRAt10 != 0.25 {
		t.Errorf("hit@k %+v", r)
	}
	if r.AnswerRate != round(2.0/6) {
		t.Errorf("answer_rate %v", r.AnswerRate)
	}
	if r.AnswerRateExpectAnswer != 0.5 { // two, late of two, late, handed, clarify
		t.Errorf("answer_rate_expect_answer %v", r.AnswerRateExpectAnswer)
	}
	if r.UnknownRateExpectEscalate != 0.5 || r.EscalateCases != 2 {
		t.Errorf("unknown_rate_expect_escalate %v", r.UnknownRateExpectEscalate)
	}
	if r.Baseline != nil {
		t.Error("baseline reported without WithBaseline")
	}
	var why string
	for _, f := range r.Failures {
		if f.ID == "two" {
			why = strings.Join(f.Reasons, "; ")
		}
	}
	if !strings.Contains(why, "d3") || strings.Contains(why, "d1") {
		t.Errorf("failure of case two: %q", why)
	}
}

func TestProductIDReachesTheTurn(t *testing.T) {
	a := &recorder{res: map[string]rag.Result{}}
	cases := []Case{{ID: "p", Question: "q", ProductID: "B00X"}, {ID: "n", Question: "q2"}}
	if _, err := Run(context.Background(), a, cases, 10); err != nil {
		t.Fatal(err)
	}
	if len(a.turns) != 2 || a.turns[0].ProductID != "B00X" || a.turns[1].ProductID != "" {
		t.Errorf("turns %+v", a.turns)
	}
	if _, err := Load(strings.NewReader(`{"id": "a", "question": "q", "product_id": "B00X", "evidence_docs": ["d1"]}`)); err != nil {
		t.Errorf("new fields: %v", err)
	}
	if _, err := Load(strings.NewReader(`{"id": "a", "question": "q", "evidence_docs": [" "]}`)); err == nil {
		t.Error("an empty evidence doc accepted")
	}
}

// shop is a small corpus for the baseline: two public policies, one
// product with its own chunks, and a private order of customer C1.
func shop() []kefu.Chunk {
	return []kefu.Chunk{
		{ID: "returns.md#0", DocID: "returns.md", Type: kefu.TypePolicy, Title: "Returns", Text: "Return any item within 30 days for a refund."},
		{ID: "shipping.md#0", DocID: "shipping.md", Type: kefu.TypePolicy, Title: "Shipping", Text: "Orders ship within 2 days."},
		{ID: "old.md#0", DocID: "old.md", Type: kefu.TypePolicy, Title: "Returns (old)", Text: "Return within 14 days for a refund.",
			Meta: map[string]string{kefu.MetaEffectiveTo: "2020-01-01"}},
		{ID: "p.csv#B01#0", DocID: "p.csv#B01", Type: kefu.TypeProduct, Title: "Kettle", Text: "The kettle holds 1.7 litres. Refund not possible once used.",
			Meta: map[string]string{kefu.MetaProductID: "B01"}},
		{ID: "p.csv#B02#0", DocID: "p.csv#B02", Type: kefu.TypeProduct, Title: "Toaster", Text: "The toaster has two slots."},
		{ID: "o.json#W9#0", DocID: "o.json#W9", Type: kefu.TypeOrder, CustomerID: "C1", Title: "Order W9", Text: "Order W9 refund issued, return received."},
	}
}

func TestBaselineScoresBM25WithTheFilterRules(t *testing.T) {
	cases := []Case{
		// Anonymous: the order of C1 is never ranked, the expired policy
		// neither; the returns page is first.
		{ID: "anon", Question: "refund return", Evidence: []string{"within 30 days"}, Forbidden: []string{"W9"}},
		// The owner sees their order too, second after the returns page
		// (whose title adds a "return").
		{ID: "owner", Question: "refund return", CustomerID: "C1", Evidence: []string{"refund issued"}},
		// Another shopper: not C1's order.
		{ID: "other", Question: "refund return order", CustomerID: "C2", EvidenceDocs: []string{"W9"}},
		// On a product page only that product's chunks rank: by meta
		// product id, or by document id.
		{ID: "page", Question: "refund", ProductID: "B01", EvidenceDocs: []string{"B01"}},
		{ID: "page2", Question: "slots refund", ProductID: "p.csv#B02", Evidence: []string{"two slots"}},
		// A record id names its document too.
		{ID: "page3", Question: "slots refund", ProductID: "B02", Evidence: []string{"two slots"}},
	}
	a := fakeAnswerer{} // the pipeline finds nothing
	r, err := Run(context.Background(), a, cases, 10, WithBaseline(shop()), withDay("2026-06-01"))
	if err != nil {
		t.Fatal(err)
	}
	b := r.Baseline
	if b == nil || b.Ranker != "bm25" || b.Chunks != 6 {
		t.Fatalf("baseline %+v", b)
	}
	// anon, page, page2 and page3 (B02 alone on its page) at rank 1,
	// owner at rank 2; other: W9 is never ranked for C2.
	if b.RetrievalCases != 6 || b.HitAt1 != round(4.0/6) || b.HitAt5 != round(5.0/6) || b.HitAt10 != round(5.0/6) || b.MRRAt10 != round(4.5/6) {
		t.Errorf("baseline hits %+v", b)
	}
	if b.RecallCases != 2 || b.RecallAt10 != 0.5 {
		t.Errorf("baseline recall %+v", b)
	}
	if r.HitAt10 != 0 || !slices.Equal(b.KefuWorse, []string{"anon", "owner", "page", "page2", "page3"}) {
		t.Errorf("kefu %v, worse than the baseline on %v", r.HitAt10, b.KefuWorse)
	}

	ix := WithBaseline(shop())
	var o runOptions
	ix(&o)
	for _, c := range cases {
		for _, h := range baselineHits(o.baseline, c, "2026-06-01", 10) {
			ch := h.Chunk
			if ch.CustomerID != "" && ch.CustomerID != c.CustomerID {
				t.Errorf("case %s ranked %s of customer %s", c.ID, ch.ID, ch.CustomerID)
			}
			if ch.DocID == "old.md" {
				t.Errorf("case %s ranked the expired policy", c.ID)
			}
			if c.ProductID != "" && !DocMatches(ch.DocID, c.ProductID) && ch.Meta[kefu.MetaProductID] != c.ProductID {
				t.Errorf("case %s on page %s ranked %s", c.ID, c.ProductID, ch.ID)
			}
		}
	}
	anon := baselineHits(o.baseline, cases[0], "2026-06-01", 10)
	if len(anon) == 0 || anon[0].Chunk.ID != "returns.md#0" {
		t.Errorf("anonymous ranking %v", anon)
	}
	// Without the day rule the old policy would be there.
	if all := baselineHits(o.baseline, cases[0], "2019-06-01", 10); !slices.ContainsFunc(all, func(h kefu.Hit) bool { return h.Chunk.DocID == "old.md" }) {
		t.Errorf("policy in force in 2019 not ranked: %v", all)
	}
}
