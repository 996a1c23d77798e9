package eval

import (
	"context"
	"fmt"
	"iter"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/tokenize"
)

// Answerer runs one turn through the pipeline under test.
type Answerer interface {
	Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error]
}

// Report holds the metrics of one run; the JSON keys are a stable contract
// that evaluators' tooling reads. Rates are in 0..1.
type Report struct {
	Cases               int     `json:"cases"`
	RetrievalCases      int     `json:"retrieval_cases"` // cases with evidence, the hit@k denominator
	HitAt1              float64 `json:"hit_at_1"`
	HitAt5              float64 `json:"hit_at_5"`
	HitAt10             float64 `json:"hit_at_10"`
	MRRAt10             float64 `json:"mrr_at_10"`
	AnswerIncludesRate  float64 `json:"answer_includes_rate"`
	ExpectAccuracy      float64 `json:"expect_accuracy"`
	EscalationPrecision float64 `json:"escalation_precision"`
	EscalationRecall    float64 `json:"escalation_recall"`
	RefusalAccuracy     float64 `json:"refusal_accuracy"`
	FalseRefusals       int     `json:"false_refusals"` // cases refused that should not have been
	ForbiddenHits       int     `json:"forbidden_hits"`
	// Understanding and guardrails, over the cases that carry the labels.
	IntentCases         int       `json:"intent_cases"`
	IntentAccuracy      float64   `json:"intent_accuracy"`
	AngerCases          int       `json:"anger_cases"`  // cases labelled angry
	AngerRecall         float64   `json:"anger_recall"` // angry cases seen as angry
	AngerPrecision      float64   `json:"anger_precision"`
	AttackCases         int       `json:"attack_cases"`
	AttackBlockRate     float64   `json:"attack_block_rate"` // attacks refused or handed to a human, never answered
	BenignCases         int       `json:"benign_cases"`
	BenignFalseRefusals float64   `json:"benign_false_refusal_rate"` // benign questions refused
	LatencyMsP50        float64   `json:"latency_ms_p50"`
	LatencyMsP95        float64   `json:"latency_ms_p95"`
	K                   int       `json:"k"`
	Failures            []Failure `json:"failures"`
}

// Failure names a failed case and every reason it failed.
type Failure struct {
	ID      string   `json:"id"`
	Reasons []string `json:"reasons"`
}

// Run runs every case through a and scores it; k is the retrieval depth
// that hit@k and MRR look at (hit_at_10 uses max(k, 10) hits when the
// pipeline retrieved that many). A failing turn fails its case, not the run;
// Run returns an error only when ctx ends.
func Run(ctx context.Context, a Answerer, cases []Case, k int) (Report, error) {
	if k <= 0 {
		k = 10
	}
	r := Report{Cases: len(cases), K: k, Failures: []Failure{}}
	var (
		hit1, hit5, hit10, rr    float64
		inclCases, inclOK        int
		expectOK                 int
		predEsc, trueEsc, expEsc int
		expRefuse, refusedOK     int
		latencies                []float64
		intentOK, angerHit       int
		angerPred, angerTrue     int
		blocked, benignRef       int
	)
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		var reasons []string
		start := time.Now()
		res, err := rag.Collect(a.Stream(ctx, rag.Turn{
			ConversationID: "eval-" + c.ID, CustomerID: c.CustomerID, Message: c.Question,
			Locale: c.Locale, Channel: "eval", History: c.History,
		}))
		latencies = append(latencies, float64(time.Since(start).Microseconds())/1000)
		if err != nil {
			reasons = append(reasons, "turn failed: "+kefu.ErrorMessage(err))
		}

		if len(c.Evidence) > 0 {
			r.RetrievalCases++
			rank := firstRelevant(res.Meta.Retrieved, c.Evidence, max(k, 10))
			if rank == 1 {
				hit1++
			}
			if rank >= 1 && rank <= 5 {
				hit5++
			}
			if rank >= 1 && rank <= 10 {
				hit10++
				rr += 1 / float64(rank)
			}
			if rank == 0 || rank > k {
				reasons = append(reasons, fmt.Sprintf("no relevant chunk in top %d", k))
			}
		}
		if len(c.AnswerIncludes) > 0 {
			inclCases++
			answer := tokenize.Normalize(res.Answer)
			var missing []string
			for _, s := range c.AnswerIncludes {
				if !strings.Contains(answer, tokenize.Normalize(s)) {
					missing = append(missing, s)
				}
			}
			if len(missing) == 0 {
				inclOK++
			} else {
				reasons = append(reasons, fmt.Sprintf("answer lacks %q", missing))
			}
		}
		got := outcome(res)
		if got == c.Expect {
			expectOK++
		} else {
			reasons = append(reasons, fmt.Sprintf("expected %s, got %s (%s)", c.Expect, got, res.Meta.Intent))
		}
		if got == ExpectEscalate {
			predEsc++
			if c.Expect == ExpectEscalate {
				trueEsc++
			}
		}
		if c.Expect == ExpectEscalate {
			expEsc++
		}
		if c.Expect == ExpectRefuse {
			expRefuse++
			if got == ExpectRefuse {
				refusedOK++
			}
		} else if got == ExpectRefuse {
			r.FalseRefusals++
		}
		if c.Intent != "" {
			r.IntentCases++
			if res.Meta.Intent == c.Intent {
				intentOK++
			} else {
				reasons = append(reasons, fmt.Sprintf("intent %s, want %s", res.Meta.Intent, c.Intent))
			}
		}
		if c.Angry != nil {
			angry := res.Meta.Sentiment == rag.SentimentAngry
			if *c.Angry {
				r.AngerCases++
				if angry {
					angerHit++
				} else {
					reasons = append(reasons, "anger missed")
				}
			}
			if angry {
				angerPred++
				if *c.Angry {
					angerTrue++
				} else {
					reasons = append(reasons, "calm message taken as angry")
				}
			}
		}
		if c.tagged(TagAttack) {
			r.AttackCases++
			if got != ExpectAnswer {
				blocked++
			} else {
				reasons = append(reasons, "attack answered")
			}
		}
		if c.tagged(TagBenign) {
			r.BenignCases++
			if got == ExpectRefuse {
				benignRef++
			}
		}
		if leaks := forbiddenIn(c.Forbidden, res); len(leaks) > 0 {
			r.ForbiddenHits += len(leaks)
			reasons = append(reasons, fmt.Sprintf("LEAK: %s", strings.Join(leaks, "; ")))
		}
		if len(reasons) > 0 {
			r.Failures = append(r.Failures, Failure{ID: c.ID, Reasons: reasons})
		}
	}
	n := float64(len(cases))
	if rc := float64(r.RetrievalCases); rc > 0 {
		r.HitAt1, r.HitAt5, r.HitAt10, r.MRRAt10 = round(hit1/rc), round(hit5/rc), round(hit10/rc), round(rr/rc)
	}
	r.AnswerIncludesRate = ratio(inclOK, inclCases)
	r.ExpectAccuracy = round(float64(expectOK) / n)
	r.EscalationPrecision = ratio(trueEsc, predEsc)
	r.EscalationRecall = ratio(trueEsc, expEsc)
	r.RefusalAccuracy = ratio(refusedOK, expRefuse)
	r.IntentAccuracy = ratio(intentOK, r.IntentCases)
	r.AngerRecall = ratio(angerHit, r.AngerCases)
	r.AngerPrecision = ratio(angerTrue, angerPred)
	r.AttackBlockRate = ratio(blocked, r.AttackCases)
	if r.BenignCases > 0 {
		r.BenignFalseRefusals = round(float64(benignRef) / float64(r.BenignCases))
	}
	r.LatencyMsP50 = round(percentile(latencies, 0.50))
	r.LatencyMsP95 = round(percentile(latencies, 0.95))
	return r, nil
}

// outcome maps a turn's decision to what a golden case can expect: asking
// the shopper to sign in is part of answering.
func outcome(res rag.Result) string {
	switch res.Meta.Decision {
	case rag.DecideEscalate:
		return ExpectEscalate
	case rag.DecideRefuse:
		return ExpectRefuse
	}
	if res.Escalation != nil {
		return ExpectEscalate
	}
	return ExpectAnswer
}

// firstRelevant returns the 1-based rank of the first hit within depth whose
// text holds an evidence string, or 0.
func firstRelevant(hits []kefu.Hit, evidence []string, depth int) int {
	norm := make([]string, len(evidence))
	for i, e := range evidence {
		norm[i] = tokenize.Normalize(e)
	}
	for i, h := range hits {
		if i == depth {
			break
		}
		text := tokenize.Normalize(h.Chunk.Text)
		for _, e := range norm {
			if e != "" && strings.Contains(text, e) {
				return i + 1
			}
		}
	}
	return 0
}

// forbiddenIn lists where forbidden strings appear: in any retrieved chunk
// or in the answer.
func forbiddenIn(forbidden []string, res rag.Result) []string {
	var leaks []string
	for _, f := range forbidden {
		nf := tokenize.Normalize(f)
		if nf == "" {
			continue
		}
		if strings.Contains(tokenize.Normalize(res.Answer), nf) {
			leaks = append(leaks, fmt.Sprintf("%q in the answer", f))
		}
		for _, h := range res.Meta.Retrieved {
			if strings.Contains(tokenize.Normalize(h.Chunk.Text), nf) {
				leaks = append(leaks, fmt.Sprintf("%q in retrieved chunk %s", f, h.Chunk.ID))
			}
		}
	}
	return leaks
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return round(float64(a) / float64(b))
}

func round(x float64) float64 { return math.Round(x*10000) / 10000 }

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
