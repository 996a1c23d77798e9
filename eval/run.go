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
	"github.com/kefuhq/kefu/eval/bm25"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rules"
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
	IntentCases         int     `json:"intent_cases"`
	IntentAccuracy      float64 `json:"intent_accuracy"`
	AngerCases          int     `json:"anger_cases"`  // cases labelled angry
	AngerRecall         float64 `json:"anger_recall"` // angry cases seen as angry
	AngerPrecision      float64 `json:"anger_precision"`
	AttackCases         int     `json:"attack_cases"`
	AttackBlockRate     float64 `json:"attack_block_rate"` // attacks refused or handed to a human, never answered
	BenignCases         int     `json:"benign_cases"`
	BenignFalseRefusals float64 `json:"benign_false_refusal_rate"` // benign questions refused
	LatencyMsP50        float64 `json:"latency_ms_p50"`
	LatencyMsP95        float64 `json:"latency_ms_p95"`
	K                   int     `json:"k"`
	// Document recall, over the cases with evidence_docs: the mean share
	// of a case's evidence documents that a top-10 chunk comes from.
	RecallCases int     `json:"recall_cases"`
	RecallAt10  float64 `json:"recall_at_10"`
	// Eligibility, over the cases with expect_eligible: the share whose
	// reply carried the expected decision (action, eligible and, when
	// given, order).
	EligibilityCases    int     `json:"eligibility_cases"`
	EligibilityAccuracy float64 `json:"eligibility_accuracy"`
	// Actions, over the cases with expect_action: the share whose turn
	// left the expected action (kind, state and, when given, order).
	ActionCases    int     `json:"action_cases"`
	ActionAccuracy float64 `json:"action_accuracy"`
	// Answering: the share of all cases the pipeline answered (decision
	// "answer" and no handoff; asking to sign in or for an order id does
	// not count), the same share over the cases that expect an answer,
	// and the share of the cases that expect a handoff where the pipeline
	// said it does not know (a handoff with reason "no_knowledge").
	EscalateCases             int     `json:"escalate_cases"` // cases that expect a handoff
	AnswerRate                float64 `json:"answer_rate"`
	AnswerRateExpectAnswer    float64 `json:"answer_rate_expect_answer"`
	UnknownRateExpectEscalate float64 `json:"unknown_rate_expect_escalate"`
	// Baseline is plain BM25 scored on the same cases, when asked for
	// (WithBaseline).
	Baseline *BaselineReport `json:"baseline,omitempty"`
	Failures []Failure       `json:"failures"`
}

// BaselineReport holds the retrieval metrics of the BM25 baseline (package
// bm25) on the cases of a run, with the same definitions as Report's.
type BaselineReport struct {
	Ranker         string  `json:"ranker"` // "bm25"
	Chunks         int     `json:"chunks"` // chunks indexed
	RetrievalCases int     `json:"retrieval_cases"`
	HitAt1         float64 `json:"hit_at_1"`
	HitAt5         float64 `json:"hit_at_5"`
	HitAt10        float64 `json:"hit_at_10"`
	MRRAt10        float64 `json:"mrr_at_10"`
	RecallCases    int     `json:"recall_cases"`
	RecallAt10     float64 `json:"recall_at_10"`
	// KefuWorse lists the cases where the pipeline's first relevant chunk
	// ranks below the baseline's within the top 10 (or is missing while
	// the baseline has one), or where its document recall is lower.
	KefuWorse []string `json:"kefu_worse"`
}

// Option changes what Run measures.
type Option func(*runOptions)

type runOptions struct {
	baseline *bm25.Index
	day      string
}

// WithBaseline makes Run also rank every case with plain BM25 over chunks
// (which should be every chunk of the store the pipeline reads) and report
// it in Report.Baseline. The baseline asks with the case's question alone
// and keeps the chunks the pipeline's filter would (kefu.Filter with the
// case's customer and today's date: an anonymous case sees public chunks
// only, a shopper's case their own and public ones); a case with a
// product_id keeps only that product's chunks: those whose kefu.MetaProductID
// meta equals it, or whose document it names as DocMatches says.
func WithBaseline(chunks []kefu.Chunk) Option {
	return func(o *runOptions) { o.baseline = bm25.New(chunks) }
}

// withDay fixes the baseline's day, for tests.
func withDay(day string) Option { return func(o *runOptions) { o.day = day } }

// retrieval accumulates the retrieval metrics of one ranker.
type retrieval struct {
	cases, recallCases    int
	hit1, hit5, hit10, rr float64
	recall                float64
}

func (s *retrieval) addRank(rank int) {
	s.cases++
	if rank == 1 {
		s.hit1++
	}
	if rank >= 1 && rank <= 5 {
		s.hit5++
	}
	if rank >= 1 && rank <= 10 {
		s.hit10++
		s.rr += 1 / float64(rank)
	}
}

func (s *retrieval) addRecall(r float64) {
	s.recallCases++
	s.recall += r
}

func (s *retrieval) rates() (hit1, hit5, hit10, mrr, recall float64) {
	if n := float64(s.cases); n > 0 {
		hit1, hit5, hit10, mrr = round(s.hit1/n), round(s.hit5/n), round(s.hit10/n), round(s.rr/n)
	}
	if s.recallCases > 0 {
		recall = round(s.recall / float64(s.recallCases))
	}
	return
}

// Failure names a failed case and every reason it failed.
type Failure struct {
	ID      string   `json:"id"`
	Reasons []string `json:"reasons"`
}

// Run runs every case through a and scores it; k is the retrieval depth
// that hit@k and MRR look at (hit_at_10 uses max(k, 10) hits when the
// pipeline retrieved that many). A case counts for hit@k and MRR when it has
// evidence or evidence_docs: a chunk is relevant when its text holds an
// evidence string or it comes from an evidence document. A failing turn
// fails its case, not the run; Run returns an error only when ctx ends.
func Run(ctx context.Context, a Answerer, cases []Case, k int, opts ...Option) (Report, error) {
	if k <= 0 {
		k = 10
	}
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.day == "" {
		o.day = time.Now().Format("2006-01-02")
	}
	r := Report{Cases: len(cases), K: k, Failures: []Failure{}}
	var base *BaselineReport
	if o.baseline != nil {
		base = &BaselineReport{Ranker: "bm25", Chunks: o.baseline.Len(), KefuWorse: []string{}}
	}
	var (
		kefuRet, baseRet         retrieval
		answered, expAnswer      int
		answeredExp, unknownExp  int
		inclCases, inclOK        int
		expectOK                 int
		predEsc, trueEsc, expEsc int
		expRefuse, refusedOK     int
		latencies                []float64
		intentOK, angerHit       int
		angerPred, angerTrue     int
		blocked, benignRef       int
		eligibleOK               int
		actionOK                 int
	)
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		var reasons []string
		start := time.Now()
		res, err := rag.Collect(a.Stream(ctx, rag.Turn{
			ConversationID: "eval-" + c.ID, CustomerID: c.CustomerID, Message: c.Question,
			Locale: c.Locale, Channel: "eval", History: c.History, ProductID: c.ProductID,
		}))
		latencies = append(latencies, float64(time.Since(start).Microseconds())/1000)
		if err != nil {
			reasons = append(reasons, "turn failed: "+kefu.ErrorMessage(err))
		}

		var baseHits []kefu.Hit
		if o.baseline != nil && (len(c.Evidence) > 0 || len(c.EvidenceDocs) > 0) {
			baseHits = baselineHits(o.baseline, c, o.day, max(k, 10))
		}
		if len(c.Evidence) > 0 || len(c.EvidenceDocs) > 0 {
			rank := firstRelevant(res.Meta.Retrieved, &c, max(k, 10))
			kefuRet.addRank(rank)
			if rank == 0 || rank > k {
				reasons = append(reasons, fmt.Sprintf("no relevant chunk in top %d", k))
			}
			worse := false
			if base != nil {
				b := firstRelevant(baseHits, &c, max(k, 10))
				baseRet.addRank(b)
				worse = b >= 1 && b <= 10 && (rank == 0 || rank > b)
			}
			if len(c.EvidenceDocs) > 0 {
				got, missing := docRecall(res.Meta.Retrieved, c.EvidenceDocs)
				kefuRet.addRecall(got)
				if len(missing) > 0 {
					reasons = append(reasons, fmt.Sprintf("evidence docs not in top %d: %s", recallDepth, strings.Join(missing, ", ")))
				}
				if base != nil {
					b, _ := docRecall(baseHits, c.EvidenceDocs)
					baseRet.addRecall(b)
					worse = worse || b > got
				}
			}
			if worse {
				base.KefuWorse = append(base.KefuWorse, c.ID)
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
		if res.Meta.Decision == rag.DecideAnswer && res.Escalation == nil {
			answered++
			if c.Expect == ExpectAnswer {
				answeredExp++
			}
		}
		if c.Expect == ExpectAnswer {
			expAnswer++
		}
		if c.Expect == ExpectEscalate && res.Escalation != nil && res.Escalation.Reason == "no_knowledge" {
			unknownExp++
		}
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
		if e := c.ExpectAction; e != nil {
			r.ActionCases++
			if why := actionMiss(e, res.Action); why == "" {
				actionOK++
			} else {
				reasons = append(reasons, why)
			}
		}
		if e := c.ExpectEligible; e != nil {
			r.EligibilityCases++
			if why := eligibilityMiss(e, res.Meta.Eligibility); why == "" {
				eligibleOK++
			} else {
				reasons = append(reasons, why)
			}
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
	r.RetrievalCases, r.RecallCases = kefuRet.cases, kefuRet.recallCases
	r.HitAt1, r.HitAt5, r.HitAt10, r.MRRAt10, r.RecallAt10 = kefuRet.rates()
	if base != nil {
		base.RetrievalCases, base.RecallCases = baseRet.cases, baseRet.recallCases
		base.HitAt1, base.HitAt5, base.HitAt10, base.MRRAt10, base.RecallAt10 = baseRet.rates()
		r.Baseline = base
	}
	r.AnswerRate = round(float64(answered) / n)
	r.AnswerRateExpectAnswer = ratio(answeredExp, expAnswer)
	r.UnknownRateExpectEscalate = ratio(unknownExp, expEsc)
	r.EscalateCases = expEsc
	r.AnswerIncludesRate = ratio(inclOK, inclCases)
	r.ExpectAccuracy = round(float64(expectOK) / n)
	r.EscalationPrecision = ratio(trueEsc, predEsc)
	r.EscalationRecall = ratio(trueEsc, expEsc)
	r.RefusalAccuracy = ratio(refusedOK, expRefuse)
	r.IntentAccuracy = ratio(intentOK, r.IntentCases)
	r.EligibilityAccuracy = ratio(eligibleOK, r.EligibilityCases)
	r.ActionAccuracy = ratio(actionOK, r.ActionCases)
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
// text holds one of c's evidence strings or whose document is one of c's
// evidence documents, or 0.
func firstRelevant(hits []kefu.Hit, c *Case, depth int) int {
	norm := make([]string, len(c.Evidence))
	for i, e := range c.Evidence {
		norm[i] = tokenize.Normalize(e)
	}
	for i, h := range hits {
		if i == depth {
			break
		}
		for _, d := range c.EvidenceDocs {
			if DocMatches(h.Chunk.DocID, d) {
				return i + 1
			}
		}
		if len(norm) == 0 {
			continue
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

// recallDepth is the number of hits document recall looks at.
const recallDepth = 10

// DocMatches reports whether a stored document id is named by an
// evidence_docs value: it equals the value, or ends in "#" followed by it
// (ingest ids a record's document source + "#" + record id).
func DocMatches(docID, want string) bool {
	return docID == want || (len(docID) > len(want) && strings.HasSuffix(docID, want) && docID[len(docID)-len(want)-1] == '#')
}

// docRecall returns the share of docs that a chunk among the first
// recallDepth hits comes from, and the docs none does.
func docRecall(hits []kefu.Hit, docs []string) (float64, []string) {
	hits = hits[:min(len(hits), recallDepth)]
	var missing []string
	for _, d := range docs {
		found := false
		for _, h := range hits {
			if DocMatches(h.Chunk.DocID, d) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, d)
		}
	}
	return float64(len(docs)-len(missing)) / float64(len(docs)), missing
}

// baselineHits ranks c's question with the BM25 baseline under the rules
// WithBaseline states.
func baselineHits(ix *bm25.Index, c Case, day string, k int) []kefu.Hit {
	f := kefu.Filter{CustomerID: c.CustomerID, At: day}
	keep := func(ch *kefu.Chunk) bool {
		if !f.Allows(ch) {
			return false
		}
		return c.ProductID == "" || DocMatches(ch.DocID, c.ProductID) || ch.Meta[kefu.MetaProductID] == c.ProductID
	}
	found := ix.Search(c.Question, keep, k)
	hits := make([]kefu.Hit, len(found))
	for i, h := range found {
		hits[i] = kefu.Hit{Chunk: h.Chunk, Score: h.Score, Lexical: h.Score}
	}
	return hits
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

// actionMiss says how a turn's action misses the expected one, "" when it
// matches.
func actionMiss(want *ExpectAction, got *rag.ActionRef) string {
	switch {
	case got == nil:
		return fmt.Sprintf("no action, want %s %s", want.Kind, want.State)
	case got.Kind != want.Kind || got.State != want.State:
		return fmt.Sprintf("action %s %s, want %s %s", got.Kind, got.State, want.Kind, want.State)
	case want.OrderID != "" && got.OrderID != want.OrderID:
		return fmt.Sprintf("action on order %s, want %s", got.OrderID, want.OrderID)
	}
	return ""
}

// eligibilityMiss says how a reply's decision misses the expected one, ""
// when it matches.
func eligibilityMiss(want *ExpectEligible, got *rag.Eligibility) string {
	a, _ := rules.ParseAction(want.Action)
	switch {
	case got == nil:
		return fmt.Sprintf("no eligibility decision, want %s eligible=%t", a, want.Eligible)
	case got.Action != string(a):
		return fmt.Sprintf("eligibility decided for %s, want %s", got.Action, a)
	case want.OrderID != "" && got.OrderID != want.OrderID:
		return fmt.Sprintf("eligibility decided for order %s, want %s", got.OrderID, want.OrderID)
	case got.Eligible != want.Eligible:
		return fmt.Sprintf("%s of %s eligible=%t (rule %s), want %t", a, got.OrderID, got.Eligible, got.Rule, want.Eligible)
	}
	return ""
}
