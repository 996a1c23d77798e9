package rerank

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefuhq/kefu"
)

func hit(id, title, text string, lexical, dense float64) kefu.Hit {
	return kefu.Hit{Chunk: kefu.Chunk{ID: id, DocID: id, Title: title, Text: text, Type: kefu.TypeFAQ}, Lexical: lexical, Dense: dense, Score: 0.6*lexical + 0.4*dense}
}

// groups builds questions whose answering chunk holds the question's words
// in one sentence but ranks second in the first stage, behind a chunk that
// matches on the title only.
func groups(n int) []Group {
	var out []Group
	for i := range n {
		w := fmt.Sprintf("widget%d", i)
		q := "how long is the " + w + " warranty"
		hits := []kefu.Hit{
			hit("title", w+" warranty", "Colours: red, blue. Weight: 2 kg.", 0.7, 0.5),
			hit("answer", w, "The "+w+" warranty is two years from delivery.", 0.6, 0.4),
			hit("other", "shipping", "We ship in two days.", 0.1, 0.2),
		}
		out = append(out, Group{Query: q, Hits: hits, Relevant: []bool{false, true, false}})
	}
	return out
}

// unanswerable builds questions about what the knowledge does not hold:
// no candidate shares more than a stop word with them.
func unanswerable(n int) []Group {
	var out []Group
	for i := range n {
		q := fmt.Sprintf("do you sell drone%d gimbals", i)
		hits := []kefu.Hit{
			hit("title", fmt.Sprintf("widget%d warranty", i), "Colours: red, blue. Weight: 2 kg.", 0.2, 0.3),
			hit("other", "shipping", "We ship in two days.", 0.1, 0.2),
		}
		out = append(out, Group{Query: q, Hits: hits, Relevant: []bool{false, false}, Unanswerable: true})
	}
	return out
}

func fitBoth(t *testing.T, n int) *Model {
	t.Helper()
	m, err := Fit(append(groups(n), unanswerable(n)...), "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFitLearnsWhatAnswers(t *testing.T) {
	m := fitBoth(t, 20)
	var err error
	if err != nil {
		t.Fatal(err)
	}
	// Held out: other product names than the fit saw.
	for _, g := range groups(30)[20:] {
		out, err := m.Rerank(context.Background(), g.Query, g.Hits)
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Chunk.ID != "answer" {
			t.Fatalf("%q: first is %s, want the answering chunk", g.Query, out[0].Chunk.ID)
		}
		if out[0].Lexical != 0.6 || out[0].Dense != 0.4 {
			t.Fatalf("rerank changed the first-stage scores: %+v", out[0])
		}
		if out[0].Score <= out[1].Score || out[0].Score > 1 {
			t.Fatalf("scores are not probabilities best first: %v, %v", out[0].Score, out[1].Score)
		}
	}
}

// The answer head tells a question the knowledge answers from one it does
// not, on product names the fit did not see.
func TestAnswerHeadSeparates(t *testing.T) {
	m := fitBoth(t, 20)
	ctx := context.Background()
	for i := 20; i < 30; i++ {
		yes, no := groups(30)[i], unanswerable(30)[i]
		ry, _ := m.Rerank(ctx, yes.Query, yes.Hits)
		rn, _ := m.Rerank(ctx, no.Query, no.Hits)
		py, err := m.Answerable(ctx, yes.Query, ry)
		if err != nil {
			t.Fatal(err)
		}
		pn, _ := m.Answerable(ctx, no.Query, rn)
		if py <= 0.5 || pn >= 0.5 {
			t.Fatalf("answer head: answerable %v, unanswerable %v; want above and below one half", py, pn)
		}
	}
	if p, _ := m.Answerable(ctx, "anything", nil); p != 0 {
		t.Fatalf("Answerable without hits = %v, want 0", p)
	}
}

func TestFitIsDeterministic(t *testing.T) {
	a := fitBoth(t, 10)
	b := fitBoth(t, 10)
	da, _ := a.Marshal()
	db, _ := b.Marshal()
	if string(da) != string(db) {
		t.Fatal("two fits of the same data differ")
	}
	back, err := Parse(da)
	if err != nil {
		t.Fatal(err)
	}
	if back.Bias != a.Bias || back.Weights[3] != a.Weights[3] || back.AnswerBias != a.AnswerBias {
		t.Fatal("weights do not survive a round trip")
	}
}

func TestFitRefusesUninformativeData(t *testing.T) {
	g := groups(3)
	for i := range g {
		g[i].Relevant = []bool{false, false, false}
	}
	if _, err := Fit(g, "x"); err == nil {
		t.Fatal("fitted on groups without a relevant candidate")
	}
}

func TestParseRefusesOtherFeatures(t *testing.T) {
	for _, bad := range []string{`{`, `{"features":["lexical"],"weights":[1],"bias":0}`} {
		if _, err := Parse([]byte(bad)); err == nil || kefu.ErrorCode(err) != kefu.EInvalid {
			t.Fatalf("Parse(%s) = %v, want an invalid error", bad, err)
		}
	}
}

func TestLocalWeightsLoad(t *testing.T) {
	m, err := Local()
	if err != nil {
		t.Fatalf("the embedded weights do not load: %v", err)
	}
	if m.AnswerBar <= 0 || m.AnswerBar >= 1 {
		t.Fatalf("answer bar %v is not a probability", m.AnswerBar)
	}
}

func TestRerankEmpty(t *testing.T) {
	m := fitBoth(t, 5)
	out, err := m.Rerank(context.Background(), "anything", nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("Rerank(nil) = %v, %v", out, err)
	}
}
