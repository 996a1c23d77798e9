// Command fit fits kefu's offline reranker on labelled retrieval data and
// writes its weights file.
//
//	go run ./rerank/fit --set DATADIR=GOLDEN.jsonl [--set ...] [--test DATADIR=GOLDEN.jsonl ...] [--out rerank/weights.json]
//
// Each --set names a data dir that `kefu ingest` filled (embedded store,
// local embedder) and a golden set of questions over it whose `evidence`
// strings or `evidence_docs` ids mark the chunks that answer. Fit only on
// the part of a labelled set kept for building; pass the part kept for
// measuring with --test, which reports first-stage and reranked hit@1 and
// hit@5 on it and fits nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rerank"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

type sets []string

func (s *sets) String() string     { return strings.Join(*s, ",") }
func (s *sets) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fit:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fit", flag.ContinueOnError)
	var train, test sets
	fs.Var(&train, "set", "DATADIR=GOLDEN.jsonl to fit on (repeatable)")
	fs.Var(&test, "test", "DATADIR=GOLDEN.jsonl to measure on only (repeatable)")
	var answerable, unanswerable, negatives sets
	fs.Var(&negatives, "negatives", "DATADIR=GOLDEN.jsonl of questions the knowledge does not answer, fitted as all-negative (repeatable)")
	fs.Var(&answerable, "answerable", "DATADIR=GOLDEN.jsonl of questions the knowledge answers, to set the answer bar on (repeatable)")
	fs.Var(&unanswerable, "unanswerable", "DATADIR=GOLDEN.jsonl of questions it does not answer, to set the answer bar on (repeatable)")
	var clincStores sets
	clinc := fs.String("clinc", "", "clinc150 data_full.json: its oos_train queries are fitted as unanswerable against every --clinc-store")
	fs.Var(&clincStores, "clinc-store", "DATADIR to ask clinc150's out-of-scope queries of (repeatable)")
	out := fs.String("out", "rerank/weights.json", "where to write the weights file")
	check := fs.String("check", "", "instead of writing, check that this weights file is what the fit produces (within float rounding between machines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(train) == 0 {
		return fmt.Errorf("give at least one --set DATADIR=GOLDEN.jsonl")
	}
	ctx := context.Background()
	sh := &shops{}
	defer sh.close()
	var oosSplits map[string][]eval.Case
	if *clinc != "" {
		var err error
		if oosSplits, err = clincOOS(*clinc, "oos_train", "oos_val"); err != nil {
			return err
		}
	}
	var groups []rerank.Group
	var names []string
	for _, s := range train {
		gs, err := sh.load(ctx, s)
		if err != nil {
			return err
		}
		weigh(gs, 100)
		groups = append(groups, gs...)
		names = append(names, fmt.Sprintf("%s (%d questions)", filepath.Base(strings.SplitN(s, "=", 2)[1]), len(gs)))
	}
	for _, s := range negatives {
		gs, err := sh.loadCases(ctx, s, true)
		if err != nil {
			return err
		}
		for i := range gs {
			gs[i].Unanswerable = true
		}
		weigh(gs, 50)
		groups = append(groups, gs...)
		names = append(names, fmt.Sprintf("%s (%d unanswerable)", filepath.Base(strings.SplitN(s, "=", 2)[1]), len(gs)))
	}
	if *clinc != "" {
		queries := oosSplits["oos_train"]
		var gs []rerank.Group
		for _, dir := range clincStores {
			g, err := sh.groupsOf(ctx, dir, queries)
			if err != nil {
				return err
			}
			gs = append(gs, g...)
		}
		for i := range gs {
			gs[i].Unanswerable = true
		}
		weigh(gs, 50)
		groups = append(groups, gs...)
		names = append(names, fmt.Sprintf("clinc150 oos_train (%d queries x %d stores, unanswerable)", len(queries), len(clincStores)))
	}
	m, err := rerank.Fit(groups, strings.Join(names, ", "))
	if err != nil {
		return err
	}
	if len(answerable) > 0 {
		// The bar lets targetAnswered of every answerable set through,
		// the set it suits least included: one shop's scores decide no
		// other shop's answers.
		m.AnswerBar = 1
		var sets [][]float64
		for _, a := range answerable {
			pos, err := sh.topScores(ctx, m, []string{a})
			if err != nil {
				return err
			}
			sets = append(sets, pos)
			m.AnswerBar = min(m.AnswerBar, answerBar(pos, targetAnswered))
		}
		if *clinc != "" {
			// Evidence is strong when out-of-scope questions the fit never
			// saw (clinc150's oos_val, asked of every store) reach it at
			// most once in a hundred: only then may it outweigh the
			// understanding's out-of-scope verdict.
			var oos []float64
			for _, dir := range clincStores {
				gs, err := sh.groupsOf(ctx, dir, oosSplits["oos_val"])
				if err != nil {
					return err
				}
				ps, err := scoresOf(ctx, m, gs)
				if err != nil {
					return err
				}
				oos = append(oos, ps...)
			}
			m.StrongBar = math.Max(m.AnswerBar, strongBar(oos, strongOOS))
			fmt.Fprintf(stdout, "strong bar %.4f: %.3f of %d unseen out-of-scope questions reach it\n", m.StrongBar, share(oos, m.StrongBar, true), len(oos))
		}
		neg, err := sh.topScores(ctx, m, unanswerable)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "answer bar %.4f: declines %.3f of %d unanswerable; strong bar %.4f\n", m.AnswerBar, share(neg, m.AnswerBar, false), len(neg), m.StrongBar)
		for i, pos := range sets {
			fmt.Fprintf(stdout, "  answers %.3f of %d in %s\n", share(pos, m.AnswerBar, true), len(pos), filepath.Base(strings.SplitN(answerable[i], "=", 2)[1]))
		}
	}
	if *check != "" {
		return checkAgainst(*check, m, stdout)
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "fitted on %d questions, wrote %s\n", len(groups), *out)
	report(stdout, "fit", m, groups)
	for _, s := range test {
		gs, err := sh.load(ctx, s)
		if err != nil {
			return err
		}
		report(stdout, strings.SplitN(s, "=", 2)[1], m, gs)
	}
	return nil
}

// weigh gives a set's groups the total weight total, whatever its size.
func weigh(gs []rerank.Group, total float64) {
	for i := range gs {
		gs[i].Weight = total / float64(len(gs))
	}
}

// targetAnswered is the share of each set's answerable questions the
// answer bar must let through; below it, the bar declines as many
// unanswerable ones as it can.
const targetAnswered = 0.92

// strongOOS is the share of unseen out-of-scope questions that may reach
// the strong bar.
const strongOOS = 0.01

// topScores is the answer head's judgement of each question, on its
// candidates as the model ranks them.
func (sh *shops) topScores(ctx context.Context, m *rerank.Model, specs []string) ([]float64, error) {
	var out []float64
	for _, s := range specs {
		cases, err := sh.loadCases(ctx, s, true)
		if err != nil {
			return nil, err
		}
		ps, err := scoresOf(ctx, m, cases)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// scoresOf is the answer head's judgement of each group's question.
func scoresOf(ctx context.Context, m *rerank.Model, groups []rerank.Group) ([]float64, error) {
	var out []float64
	for _, g := range groups {
		ranked, err := m.Rerank(ctx, g.Query, g.Hits)
		if err != nil {
			return nil, err
		}
		p, err := m.Answerable(ctx, g.Query, ranked)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// strongBar is the lowest bar that at most share of neg reach (rounded up
// to four decimals); 1 without negatives.
func strongBar(neg []float64, share float64) float64 {
	s := append([]float64(nil), neg...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 1
	}
	i := min(len(s)-1, int(math.Ceil(float64(len(s))*(1-share)-1e-9)))
	return math.Min(1, math.Floor(s[i]*1e4)/1e4+1e-4)
}

// answerBar is the highest bar that still lets target of the answerable
// questions' best scores through.
func answerBar(pos []float64, target float64) float64 {
	s := append([]float64(nil), pos...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	i := int(math.Floor(float64(len(s))*(1-target) + 1e-9))
	return math.Floor(s[i]*1e4) / 1e4
}

// share is the share of xs at or above bar (above: true) or below it.
func share(xs []float64, bar float64, above bool) float64 {
	if len(xs) == 0 {
		return 0
	}
	n := 0
	for _, x := range xs {
		if (x >= bar) == above {
			n++
		}
	}
	return float64(n) / float64(len(xs))
}

// Tolerances of checkAgainst: the fit is deterministic on one machine, but
// summation order and fused multiply-adds move the last digits of the
// features between machines, and gradient descent carries that into the
// weights' seventh or eighth decimal.
const (
	weightTolerance = 1e-4
	barTolerance    = 1e-3
)

// checkAgainst reports whether the weights file at path is the fitted m, up
// to the rounding a different machine brings.
func checkAgainst(path string, m *rerank.Model, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	had, err := rerank.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := sameModel(had, m); err != nil {
		return fmt.Errorf("%s is not what the fit produces (run bash scripts/fit-rerank.sh): %w", path, err)
	}
	fmt.Fprintf(stdout, "%s is what the fit produces\n", path)
	return nil
}

func sameModel(a, b *rerank.Model) error {
	near := func(name string, x, y, tol float64) error {
		if math.Abs(x-y) > tol {
			return fmt.Errorf("%s is %v, the fit gives %v", name, x, y)
		}
		return nil
	}
	errs := []error{
		near("bias", a.Bias, b.Bias, weightTolerance),
		near("answer_bias", a.AnswerBias, b.AnswerBias, weightTolerance),
		near("answer_bar", a.AnswerBar, b.AnswerBar, barTolerance),
		near("strong_bar", a.StrongBar, b.StrongBar, barTolerance),
	}
	for i, f := range a.Features {
		errs = append(errs, near("weight of "+f, a.Weights[i], b.Weights[i], weightTolerance),
			near("answer weight of "+f, a.AnswerWeights[i], b.AnswerWeights[i], weightTolerance))
	}
	if a.Trained != b.Trained {
		errs = append(errs, fmt.Errorf("trained on %q, the fit on %q", a.Trained, b.Trained))
	}
	return errors.Join(errs...)
}

// clincOOS reads out-of-scope splits of clinc150's data_full.json.
func clincOOS(path string, splits ...string) (map[string][]eval.Case, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read clinc150: %w", err)
	}
	var data map[string][][2]string
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("clinc150 %s: %w", path, err)
	}
	out := map[string][]eval.Case{}
	for _, split := range splits {
		for i, row := range data[split] {
			out[split] = append(out[split], eval.Case{ID: fmt.Sprintf("%s-%d", split, i), Question: row[0], Locale: "en"})
		}
		if len(out[split]) == 0 {
			return nil, fmt.Errorf("clinc150 %s has no %s queries", path, split)
		}
	}
	return out, nil
}

// load opens a data dir's embedded store and turns each golden case into a
// group: the pipeline's first-stage candidates and which of them answer.
func (sh *shops) load(ctx context.Context, spec string) ([]rerank.Group, error) {
	return sh.loadCases(ctx, spec, false)
}

// loadCases is load; with all, cases without labels are kept too (their
// groups have no relevant candidate).
func (sh *shops) loadCases(ctx context.Context, spec string, all bool) ([]rerank.Group, error) {
	dir, golden, ok := strings.Cut(spec, "=")
	if !ok {
		return nil, fmt.Errorf("set %q: want DATADIR=GOLDEN.jsonl", spec)
	}
	cases, err := eval.LoadFile(golden)
	if err != nil {
		return nil, err
	}
	var keep []eval.Case
	for _, c := range cases {
		if all || len(c.Evidence) > 0 || len(c.EvidenceDocs) > 0 {
			keep = append(keep, c)
		}
	}
	return sh.groupsOf(ctx, dir, keep)
}

// shops holds the pipeline over each data dir's store, opened once: a
// store loads its whole index when it opens.
type shops struct {
	pipelines map[string]*rag.Pipeline
	stores    []*embedded.Store
}

// pipeline returns the first-stage pipeline over dir's store.
func (sh *shops) pipeline(dir string) (*rag.Pipeline, error) {
	if p, ok := sh.pipelines[dir]; ok {
		return p, nil
	}
	emb := embedding.NewLocal(512)
	store, err := embedded.Open(filepath.Join(dir, "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	sh.stores = append(sh.stores, store)
	ps, err := prompts.Load()
	if err != nil {
		return nil, err
	}
	p := rag.New(store, emb, llm.Extractive{}, ps)
	if sh.pipelines == nil {
		sh.pipelines = map[string]*rag.Pipeline{}
	}
	sh.pipelines[dir] = p
	return p, nil
}

func (sh *shops) close() {
	for _, s := range sh.stores {
		s.Close()
	}
}

// groupsOf asks each case of the data dir's store, through the pipeline's
// first stage, and marks the candidates that answer it.
func (sh *shops) groupsOf(ctx context.Context, dir string, cases []eval.Case) ([]rerank.Group, error) {
	p, err := sh.pipeline(dir)
	if err != nil {
		return nil, err
	}
	var out []rerank.Group
	for _, c := range cases {
		q, hits, err := p.Candidates(ctx, rag.Turn{CustomerID: c.CustomerID, Message: c.Question, Locale: c.Locale, History: c.History, ProductID: c.ProductID})
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.ID, err)
		}
		g := rerank.Group{Query: q, Hits: hits, Relevant: make([]bool, len(hits))}
		for i, h := range hits {
			g.Relevant[i] = relevant(h.Chunk, c)
		}
		out = append(out, g)
	}
	return out, nil
}

// relevant applies the golden set's rule: the chunk's text holds an
// evidence string (NFKC, lower case, spaces collapsed), or its document is
// one of the case's evidence documents.
func relevant(ch kefu.Chunk, c eval.Case) bool {
	text := tokenize.Normalize(ch.Text)
	for _, e := range c.Evidence {
		if e = tokenize.Normalize(e); e != "" && strings.Contains(text, e) {
			return true
		}
	}
	for _, d := range c.EvidenceDocs {
		if eval.DocMatches(ch.DocID, d) {
			return true
		}
	}
	return false
}

// report prints first-stage and reranked hit@1 and hit@5 over groups.
func report(w io.Writer, name string, m *rerank.Model, groups []rerank.Group) {
	var n, b1, b5, r1, r5 int
	for _, g := range groups {
		n++
		b1 += hit(g.Relevant, 1)
		b5 += hit(g.Relevant, 5)
		p := m.Score(g.Query, g.Hits)
		idx := make([]int, len(p))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
		rel := make([]bool, len(idx))
		for i, j := range idx {
			rel[i] = g.Relevant[j]
		}
		r1 += hit(rel, 1)
		r5 += hit(rel, 5)
	}
	if n == 0 {
		fmt.Fprintf(w, "%s: no labelled questions\n", name)
		return
	}
	f := func(x int) float64 { return float64(x) / float64(n) }
	fmt.Fprintf(w, "%s: %d questions  first stage hit@1 %.3f hit@5 %.3f  reranked hit@1 %.3f hit@5 %.3f\n", name, n, f(b1), f(b5), f(r1), f(r5))
}

func hit(rel []bool, k int) int {
	for i, r := range rel {
		if i == k {
			break
		}
		if r {
			return 1
		}
	}
	return 0
}
