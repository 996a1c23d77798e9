package rerank

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/kefuhq/kefu"
)

// Model is a fitted reranker: a logistic model over the features named in
// Features. It is safe for concurrent use.
type Model struct {
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// AnswerWeights and AnswerBias are the answer head: whether the
	// knowledge answers the question at all, judged on the best candidate
	// as ranked (Answerable).
	AnswerWeights []float64 `json:"answer_weights"`
	AnswerBias    float64   `json:"answer_bias"`
	// AnswerBar is the probability the answer head must give for the
	// knowledge to count as answering the question; set by the fit tool so
	// that it lets most answerable questions of every labelled set through.
	AnswerBar float64 `json:"answer_bar"`
	// StrongBar is the answer head's probability that at most one in a
	// hundred out-of-scope questions reach (set by the fit tool): evidence
	// this strong answers even a question the understanding took for
	// something the shop does not do.
	StrongBar float64 `json:"strong_bar"`
	// Trained says what the weights were fitted on, for the record.
	Trained string `json:"trained,omitempty"`

	cache     sync.Map // cacheKey -> *chunkTerms
	cacheSize atomic.Int64
}

// corpusFeatures describe the candidate and its place in the list rather
// than how it meets the question: its length, document type and rank. They
// differ from shop to shop whatever the question (one shop's records are
// long pages, another's one-line snippets), so the answer head leaves them
// out: learned, they would tell it which shop a question came from, not
// whether the shop answers it.
var corpusFeatures = map[string]bool{
	"rank": true, "lexical_rank": true, "length": true,
	"type_faq": true, "type_policy": true, "type_product": true, "type_order": true,
}

//go:embed weights.json
var weightsJSON []byte

// maxCache bounds the per-chunk term cache; past it the cache starts over.
const maxCache = 50_000

// Local returns the reranker fitted on the data described in its weights
// file (weights.json, embedded).
func Local() (*Model, error) { return Parse(weightsJSON) }

// Parse reads a weights file. It refuses a file whose features are not the
// ones this build computes.
func Parse(data []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, kefu.WrapError(kefu.EInvalid, "reranker weights are not valid JSON", err)
	}
	if !slices.Equal(m.Features, featureNames) || len(m.Weights) != len(featureNames) {
		return nil, kefu.Errorf(kefu.EInvalid, "reranker weights are for features %v, this build computes %v", m.Features, featureNames)
	}
	if len(m.AnswerWeights) != len(featureNames) {
		return nil, kefu.Errorf(kefu.EInvalid, "reranker weights have %d answer_weights, want one per feature (%d); refit them with scripts/fit-rerank.sh", len(m.AnswerWeights), len(featureNames))
	}
	return &m, nil
}

// Rerank orders hits by the model's probability that each answers the
// query, best first (ties keep the first-stage order), and sets Score to
// that probability; Lexical and Dense are kept. It never fails.
func (m *Model) Rerank(_ context.Context, q string, hits []kefu.Hit) ([]kefu.Hit, error) {
	if len(hits) == 0 {
		return hits, nil
	}
	p := m.Score(q, hits)
	out := make([]kefu.Hit, len(hits))
	copy(out, hits)
	idx := make([]int, len(hits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	for i, j := range idx {
		out[i] = hits[j]
		out[i].Score = p[j]
	}
	return out, nil
}

// Score returns the model's probability for each hit, in the hits' order
// (which must be the first-stage order: rank is a feature).
func (m *Model) Score(q string, hits []kefu.Hit) []float64 {
	return m.scoreWith(q, hits, m.terms)
}

func (m *Model) scoreWith(q string, hits []kefu.Hit, terms func(kefu.Chunk) *chunkTerms) []float64 {
	vs := vectors(newQuery(q), hits, terms)
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = sigmoid(m.Bias, m.Weights, v)
	}
	return out
}

// Answerable returns the answer head's probability that the knowledge
// answers q, judged on hits as ranked (best first): 0 without hits.
func (m *Model) Answerable(_ context.Context, q string, hits []kefu.Hit) (float64, error) {
	if len(hits) == 0 {
		return 0, nil
	}
	v := vectors(newQuery(q), hits, m.terms)[0]
	return sigmoid(m.AnswerBias, m.AnswerWeights, v), nil
}

func sigmoid(b float64, w, v []float64) float64 {
	z := b
	for i, x := range v {
		z += w[i] * x
	}
	return 1 / (1 + math.Exp(-z))
}

type cacheKey struct {
	id  string
	sum uint64
}

func (m *Model) terms(c kefu.Chunk) *chunkTerms {
	h := fnv.New64a()
	h.Write([]byte(c.Title + "\x00" + c.Heading + "\x00" + c.Text))
	key := cacheKey{c.ID, h.Sum64()}
	if v, ok := m.cache.Load(key); ok {
		return v.(*chunkTerms)
	}
	ct := newChunkTerms(c)
	if m.cacheSize.Add(1) > maxCache {
		m.cache.Clear()
		m.cacheSize.Store(0)
	}
	m.cache.Store(key, ct)
	return ct
}

// Group is one labelled query for fitting: its first-stage hits, in
// first-stage order, and which of them answer it.
type Group struct {
	Query    string
	Hits     []kefu.Hit
	Relevant []bool
	// Unanswerable marks a question the knowledge does not answer: all
	// its candidates are negatives, which teaches the model what a
	// question without an answer looks like (the answer bar reads it).
	Unanswerable bool
	// Weight scales the group in the fit (0 counts as 1): the fit tool
	// gives every labelled set the same total weight, so one large set
	// does not decide what the model learns for every shop.
	Weight float64
}

// Fit fits a model on groups by full-batch gradient descent on the
// logistic loss with an L2 penalty, in two parts. The ranking weights learn
// which candidates answer: each group weighs the same however many
// candidates it has, and inside a group the relevant and the other
// candidates weigh half each, so large candidate lists and rare answers do
// not swamp the fit; groups without a relevant candidate or without an
// irrelevant one teach nothing about order and are left out, except
// unanswerable ones, whose candidates are all negatives. The answer head
// then learns, from the best candidate after ranking, whether the
// knowledge answers the question at all: a question whose best candidate
// answers it is a positive, one whose best does not (or that nothing
// answers) a negative. Fit is deterministic.
func Fit(groups []Group, trained string) (*Model, error) {
	var rows []row
	for _, g := range groups {
		pos := 0
		for _, r := range g.Relevant {
			if r {
				pos++
			}
		}
		neg := len(g.Relevant) - pos
		gw := weightOf(g)
		switch {
		case g.Unanswerable && pos == 0 && neg > 0:
			// Weighs like half an answerable group, all of it negative.
			vs := vectors(newQuery(g.Query), g.Hits, newChunkTerms)
			for _, v := range vs {
				rows = append(rows, row{x: v, w: gw * 0.5 / float64(neg)})
			}
			continue
		case pos == 0 || neg == 0:
			continue
		}
		vs := vectors(newQuery(g.Query), g.Hits, newChunkTerms)
		for i, v := range vs {
			r := row{x: v, w: gw * 0.5 / float64(neg)}
			if g.Relevant[i] {
				r.y, r.w = 1, gw*0.5/float64(pos)
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "no group has both a relevant and an irrelevant candidate to fit on")
	}
	w, b := logistic(rows)
	m := &Model{Features: slices.Clone(featureNames), Weights: w, Bias: b, Trained: trained}

	// The answer head, on each question's best candidate as ranked.
	var heads []row
	var posW, negW float64
	for _, g := range groups {
		if len(g.Hits) == 0 {
			continue
		}
		ranked, _ := m.order(g)
		x := vectors(newQuery(g.Query), ranked, newChunkTerms)[0]
		for i, name := range featureNames {
			if corpusFeatures[name] {
				x[i] = 0
			}
		}
		r := row{x: x, w: weightOf(g)}
		if !g.Unanswerable {
			r.y = 1
			posW += r.w
		} else {
			negW += r.w
		}
		heads = append(heads, r)
	}
	if posW == 0 || negW == 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "the answer head needs questions whose best candidate answers them and questions it does not")
	}
	for i := range heads { // both outcomes weigh half
		if heads[i].y == 1 {
			heads[i].w *= 0.5 / posW
		} else {
			heads[i].w *= 0.5 / negW
		}
	}
	m.AnswerWeights, m.AnswerBias = logistic(heads)
	return m, nil
}

// order ranks a group's hits by the ranking weights, best first, and
// returns them with their labels in the same order.
func (m *Model) order(g Group) ([]kefu.Hit, []bool) {
	p := m.scoreWith(g.Query, g.Hits, newChunkTerms)
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	hits := make([]kefu.Hit, len(idx))
	rel := make([]bool, len(idx))
	for i, j := range idx {
		hits[i], rel[i] = g.Hits[j], g.Relevant[j]
	}
	return hits, rel
}

func weightOf(g Group) float64 {
	if g.Weight == 0 {
		return 1
	}
	return g.Weight
}

// row is one example of a logistic fit: features, label, weight.
type row struct {
	x []float64
	y float64
	w float64
}

// logistic fits weights and a bias to rows by full-batch gradient descent
// on the weighted logistic loss with a small L2 penalty, rounded to nine
// decimals.
func logistic(rows []row) ([]float64, float64) {
	n := len(featureNames)
	w := make([]float64, n)
	var b float64
	var total float64
	for _, r := range rows {
		total += r.w
	}
	const (
		steps  = 4000
		rate   = 2.0
		lambda = 1e-4
	)
	grad := make([]float64, n)
	for step := 0; step < steps; step++ {
		clear(grad)
		var gb float64
		for _, r := range rows {
			z := b
			for i, x := range r.x {
				z += w[i] * x
			}
			d := r.w * (1/(1+math.Exp(-z)) - r.y) / total
			for i, x := range r.x {
				grad[i] += d * x
			}
			gb += d
		}
		for i := range w {
			w[i] -= rate * (grad[i] + lambda*w[i])
		}
		b -= rate * gb
	}
	for i := range w {
		w[i] = round9(w[i])
	}
	return w, round9(b)
}

// round9 keeps nine decimals, so weights written on one machine read the
// same everywhere.
func round9(x float64) float64 { return math.Round(x*1e9) / 1e9 }

// Marshal writes the model as its weights file.
func (m *Model) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal reranker weights: %w", err)
	}
	return append(out, '\n'), nil
}
