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

func TestFitLearnsWhatAnswers(t *testing.T) {
	m, err := Fit(groups(20), "synthetic")
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

func TestFitIsDeterministic(t *testing.T) {
	a, err := Fit(groups(10), "x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fit(groups(10), "x")
	da, _ := a.Marshal()
	db, _ := b.Marshal()
	if string(da) != string(db) {
		t.Fatal("two fits of the same data differ")
	}
	back, err := Parse(da)
	if err != nil {
		t.Fatal(err)
	}
	if back.Bias != a.Bias || back.Weights[3] != a.Weights[3] {
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
	m, _ := Fit(groups(5), "x")
	out, err := m.Rerank(context.Background(), "anything", nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("Rerank(nil) = %v, %v", out, err)
	}
}
