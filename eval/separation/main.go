// Command separation measures how well an embedder's cosine between a
// question and its best candidate in a kefu data dir tells answerable
// questions from unanswerable ones: the area under the ROC curve (AUC) of
// that cosine, answerable questions being the positives. 0.5 is no
// separation, 1 a perfect one. It reports two candidates per question:
// the chunk nearest to it by cosine alone, and the chunk the store's
// hybrid search ranks first (BM25 and cosine fused), both over the whole
// catalogue and, where the question's product is known, over that
// product's page; and, given the shop's snippets (--snippets), the
// product's snippet nearest by cosine, each snippet embedded on its own
// (a chunk holds several).
//
//	go run ./eval/separation --data-dir DIR [--embedding use --model-dir DIR] \
//	    --answerable epqa-page.dev.jsonl,epqa-page.test.jsonl \
//	    --unanswerable epqa-unanswerable.dev.jsonl,epqa-unanswerable.test.jsonl \
//	    [--products ../shared/data/amazon-epqa/epqa-dev.csv] [--snippets epqa-products.csv]
//
// --products, ePQA's raw question file, gives the product (ASIN) of the
// unanswerable questions, which the golden set leaves out; answerable
// questions take theirs from the golden set's product_id.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/embedding/use"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

type embedder interface {
	Name() string
	Dims() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

func main() {
	dataDir := flag.String("data-dir", "", "kefu data dir the set was ingested into")
	provider := flag.String("embedding", "local", "embedder the data dir was built with: local or use")
	modelDir := flag.String("model-dir", "", "the use model's folder (for --embedding use)")
	answerable := flag.String("answerable", "", "golden sets of answerable questions (JSONL), comma-separated")
	unanswerable := flag.String("unanswerable", "", "golden sets of unanswerable questions (JSONL), comma-separated, one per answerable set")
	products := flag.String("products", "", "ePQA's raw question CSV, for the products of the unanswerable questions (optional)")
	snippets := flag.String("snippets", "", "CSV of the shop's snippets with ASIN and candidate columns (optional): also score each question's nearest snippet of its product")
	flag.Parse()
	if err := run(*dataDir, *provider, *modelDir, *answerable, *unanswerable, *products, *snippets, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "separation:", err)
		os.Exit(1)
	}
}

func run(dataDir, provider, modelDir, answerables, unanswerables, products, snippets string, out io.Writer) error {
	if dataDir == "" || answerables == "" || unanswerables == "" {
		return fmt.Errorf("--data-dir, --answerable and --unanswerable are required")
	}
	as, us := strings.Split(answerables, ","), strings.Split(unanswerables, ",")
	if len(as) != len(us) {
		return fmt.Errorf("%d answerable sets but %d unanswerable ones", len(as), len(us))
	}
	var emb embedder = embedding.NewLocal(0)
	if provider == "use" {
		enc, err := use.Load(modelDir)
		if err != nil {
			return err
		}
		emb = use.NewEmbedder(enc)
	} else if provider != "local" {
		return fmt.Errorf("--embedding %q is not local or use", provider)
	}
	store, err := embedded.Open(filepath.Join(dataDir, "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		return err
	}
	defer store.Close()
	var asin map[string]string
	if products != "" {
		if asin, err = readProducts(products); err != nil {
			return err
		}
	}
	var byProduct map[string][]string
	if snippets != "" {
		if byProduct, err = readSnippets(snippets); err != nil {
			return err
		}
	}
	ctx := context.Background()
	cache := map[string][]float32{}
	nearestSnippet := func(q []float32, product string) (float64, error) {
		best := 0.0
		for _, t := range byProduct[product] {
			v, ok := cache[t]
			if !ok {
				vs, err := emb.Embed(ctx, []string{t})
				if err != nil {
					return 0, err
				}
				v = vs[0]
				cache[t] = v
			}
			var dot float64
			for k := range v {
				dot += float64(v[k]) * float64(q[k])
			}
			best = max(best, dot)
		}
		return best, nil
	}
	score := func(cs []eval.Case) (map[string][]float64, error) {
		s := map[string][]float64{}
		for _, c := range cs {
			v, err := emb.Embed(ctx, []string{c.Question})
			if err != nil {
				return nil, err
			}
			filters := map[string]kefu.Filter{"catalogue": {}}
			if c.ProductID != "" {
				filters["page"] = kefu.Filter{ProductID: c.ProductID}
			}
			for where, f := range filters {
				nearest, err := store.Search(ctx, kefu.Query{Vector: v[0], Filter: f, TopK: 1})
				if err != nil {
					return nil, err
				}
				hybrid, err := store.Search(ctx, kefu.Query{Text: c.Question, Vector: v[0], Filter: f, TopK: 1})
				if err != nil {
					return nil, err
				}
				s[where+" nearest"] = append(s[where+" nearest"], top(nearest))
				s[where+" hybrid-top1"] = append(s[where+" hybrid-top1"], top(hybrid))
			}
			if byProduct != nil && c.ProductID != "" {
				best, err := nearestSnippet(v[0], c.ProductID)
				if err != nil {
					return nil, err
				}
				s["page snippet-nearest"] = append(s["page snippet-nearest"], best)
			}
		}
		return s, nil
	}
	for i := range as {
		if err := report(as[i], us[i], asin, score, emb.Name(), out); err != nil {
			return err
		}
	}
	return nil
}

// report scores one answerable and one unanswerable set and prints the
// AUC of every candidate kind.
func report(answerable, unanswerable string, asin map[string]string, score func([]eval.Case) (map[string][]float64, error), name string, out io.Writer) error {
	pos, err := eval.LoadFile(answerable)
	if err != nil {
		return err
	}
	neg, err := eval.LoadFile(unanswerable)
	if err != nil {
		return err
	}
	for i := range neg {
		if neg[i].ProductID == "" && asin != nil {
			neg[i].ProductID = asin[strings.TrimPrefix(neg[i].ID, "epqa-")]
		}
	}
	ps, err := score(pos)
	if err != nil {
		return err
	}
	ns, err := score(neg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "embedder %s, %d answerable (%s), %d unanswerable (%s)\n", name, len(pos), filepath.Base(answerable), len(neg), filepath.Base(unanswerable))
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(ns[k]) == 0 {
			continue
		}
		fmt.Fprintf(out, "%-22s AUC %.3f  (median cosine answerable %.3f over %d, unanswerable %.3f over %d)\n",
			k, AUC(ps[k], ns[k]), median(ps[k]), len(ps[k]), median(ns[k]), len(ns[k]))
	}
	return nil
}

// top is the cosine of the first hit; with no hit (no chunk of the page
// has a positive cosine or a shared term) nothing is near: 0.
func top(hits []kefu.Hit) float64 {
	if len(hits) == 0 {
		return 0
	}
	return hits[0].Dense
}

// AUC is the probability that a positive scores above a negative, ties
// counting half (the Mann-Whitney statistic over len(pos)·len(neg)).
func AUC(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0.5
	}
	var wins float64
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				wins++
			case p == n:
				wins += 0.5
			}
		}
	}
	return wins / float64(len(pos)*len(neg))
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// readSnippets returns the candidate snippets of each product (ASIN).
func readSnippets(path string) (map[string][]string, error) {
	m := map[string][]string{}
	err := readPairs(path, "ASIN", "candidate", func(asin, snippet string) {
		asin = strings.TrimSpace(asin)
		m[asin] = append(m[asin], snippet)
	})
	return m, err
}

// readProducts maps ePQA's question ids to their products' ASINs.
func readProducts(path string) (map[string]string, error) {
	m := map[string]string{}
	err := readPairs(path, "qid", "ASIN", func(qid, asin string) {
		m[strings.TrimSpace(qid)] = strings.TrimSpace(asin)
	})
	return m, err
}

// readPairs calls add with the key and value columns of every row of the
// CSV file at path, named by its header.
func readPairs(path, key, value string, add func(k, v string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	ki, ok1 := col[key]
	vi, ok2 := col[value]
	if !ok1 || !ok2 {
		return fmt.Errorf("%s has no %s or %s column", path, key, value)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		add(rec[ki], rec[vi])
	}
}
