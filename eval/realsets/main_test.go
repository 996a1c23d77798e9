package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

func TestSplitIsStableAndBalanced(t *testing.T) {
	var cases []eval.Case
	for i := range 2000 {
		cases = append(cases, eval.Case{ID: fmt.Sprintf("case-%d", i), Question: "q"})
	}
	dev, test := split(cases)
	if len(dev)+len(test) != len(cases) || len(test) < 900 || len(test) > 1100 {
		t.Fatalf("split %d/%d", len(dev), len(test))
	}
	dev2, test2 := split(slices.Clone(cases))
	if len(dev2) != len(dev) || test2[0].ID != test[0].ID {
		t.Fatal("split changed between runs")
	}
	for _, c := range test {
		if !inTest(c.ID) {
			t.Fatalf("%s in test but not inTest", c.ID)
		}
	}
}

func TestIngestArgs(t *testing.T) {
	st := step(ingest.Options{Type: "product", GroupBy: "ASIN", TitleField: "title", Fields: []string{"title", "candidate"}, Levels: []string{"a", "b"}}, "ASIN", "corpus/x.csv")
	want := []string{"--type", "product", "--title-field", "title", "--group-by", "ASIN", "--levels", "a,b", "--fields", "title,candidate", "corpus/x.csv"}
	if !slices.Equal(st.Args, want) {
		t.Errorf("args %q, want %q", st.Args, want)
	}
	if !slices.Equal(st.IfSupported, []string{"--product-field", "ASIN"}) {
		t.Errorf("if_supported %q", st.IfSupported)
	}
	if got := shellQuote("it's a b"); got != `'it'\''s a b'` {
		t.Errorf("quote %s", got)
	}
	if got := shellQuote("title,candidate"); got != "title,candidate" {
		t.Errorf("quote %s", got)
	}
}

// writeFile writes a fixture under dir.
func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildEPQAAndBankingFromFixtures(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	writeFile(t, data, "amazon-epqa/epqa-dev.csv", strings.Join([]string{
		"qid,question,ASIN,candidate,source,qa_pair_id,title,label,answer",
		`1,does it fit model x?,B01,"it fits model x, yes",cqa,1,Drawer,2,Yes.`,
		`1,does it fit model x?,B01,made of plastic,bullet,2,Drawer,0,Yes.`,
		`2,what colour is it?,B01,made of plastic,bullet,2,Drawer,1,White.`,
		`3,is it loud?,B02,quiet motor,bullet,3,Fan,2,No.`,
		`3,is it loud?,B02,quiet motor,review,4,Fan,2,No.`,
	}, "\n")+"\n")
	for _, sub := range []string{"epqa", "bank"} {
		os.MkdirAll(filepath.Join(out, sub, "corpus"), 0o755)
	}
	sp, err := buildEPQA(data, filepath.Join(out, "epqa"))
	if err != nil {
		t.Fatal(err)
	}
	corpus, _ := os.ReadFile(filepath.Join(out, "epqa", "corpus", "epqa-products.csv"))
	if strings.Contains(string(corpus), "does it fit") || strings.Contains(string(corpus), "Yes.") {
		t.Errorf("the corpus holds the benchmark's questions or answers:\n%s", corpus)
	}
	if n := strings.Count(string(corpus), "\n"); n != 5 { // header + 4 distinct snippets
		t.Errorf("corpus has %d lines:\n%s", n, corpus)
	}
	byName := map[string][]eval.Case{}
	for _, g := range sp.goldens {
		byName[g.name] = g.cases
	}
	cat, page, none := byName["epqa-catalogue"], byName["epqa-page"], byName["epqa-unanswerable"]
	if len(cat) != 2 || len(page) != 2 || len(none) != 1 {
		t.Fatalf("goldens %d %d %d", len(cat), len(page), len(none))
	}
	if cat[0].ID != "epqa-1" || !slices.Equal(cat[0].Evidence, []string{"it fits model x, yes"}) || cat[0].ProductID != "" {
		t.Errorf("catalogue case %+v", cat[0])
	}
	if !slices.Equal(cat[1].Evidence, []string{"quiet motor"}) { // one evidence string for the snippet found twice
		t.Errorf("evidence %q", cat[1].Evidence)
	}
	if page[0].ID != cat[0].ID || page[0].ProductID != "B01" || page[1].ProductID != "B02" {
		t.Errorf("page cases %+v", page)
	}
	if none[0].ID != "epqa-2" || none[0].Expect != eval.ExpectEscalate || len(none[0].Evidence) != 0 {
		t.Errorf("unanswerable %+v", none[0])
	}

	writeFile(t, data, "tau2-banking-knowledge/documents.jsonl", `{"id": "doc_a", "title": "A", "content": "Alpha."}`+"\n")
	writeFile(t, data, "tau2-banking-knowledge/tasks.jsonl",
		`{"id": "task_001", "user_scenario": {"instructions": " You want a card. "}, "required_documents": ["doc_a", "doc_b"]}`+"\n")
	sp, err = buildBanking(data, filepath.Join(out, "bank"))
	if err != nil {
		t.Fatal(err)
	}
	c := sp.goldens[0].cases
	if len(c) != 1 || c[0].ID != "bank-task_001" || c[0].Question != "You want a card." || !slices.Equal(c[0].EvidenceDocs, []string{"doc_a", "doc_b"}) {
		t.Errorf("banking cases %+v", c)
	}
	if !slices.Contains(sp.steps[0].Args, "corpus/documents.jsonl") {
		t.Errorf("banking step %q", sp.steps[0].Args)
	}
}

func TestEvidenceOf(t *testing.T) {
	if got := evidenceOf("\u200b  fits:  ds  lite "); got != "fits: ds lite" {
		t.Errorf("evidenceOf %q", got)
	}
	long := strings.Repeat("word ", 100)
	if got := evidenceOf(long); len([]rune(got)) > maxEvidenceRunes || !strings.HasPrefix(long, got) || strings.HasSuffix(got, " ") {
		t.Errorf("long evidence %q", got)
	}
}

func TestQuestionSetsLoad(t *testing.T) {
	for _, name := range []string{"tau2-retail", "ecom-bench-zh", "cn-consumer-law"} {
		cases, err := loadQuestions(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cases) < 40 || len(cases) > 60 {
			t.Errorf("%s has %d questions", name, len(cases))
		}
		for _, c := range cases {
			if len(c.Evidence) == 0 {
				t.Errorf("%s %s has no evidence", name, c.ID)
			}
		}
	}
}

// TestRealSetsIngest builds every set from the public corpora, ingests each
// with its own steps as kefu ingest would, and checks the labels against
// what ingest made: every evidence string is in a chunk (of the case's
// product, when it has one), every evidence document is stored, and the
// run fails no file.
func TestRealSetsIngest(t *testing.T) {
	data := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(data, "README.md")); err != nil {
		t.Skipf("public corpora not found at %s", data)
	}
	if testing.Short() {
		t.Skip("ingests every set: skipped in short mode")
	}
	data, _ = filepath.Abs(data)
	out := t.TempDir()
	m, err := build(data, out)
	if err != nil {
		t.Fatal(err)
	}
	emb := embedding.NewLocal(0)
	for _, set := range m.Sets {
		t.Run(set.Name, func(t *testing.T) {
			t.Chdir(filepath.Join(out, set.Dir))
			st, err := embedded.Open(t.TempDir(), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			for _, s := range set.Ingest {
				sum, err := ingest.New(st, emb, s.opts).Run(ctx, s.paths...)
				if err != nil {
					t.Fatal(err)
				}
				if len(sum.Failed) > 0 {
					t.Errorf("ingest failed %v", sum.Failed)
				}
			}
			var chunks []kefu.Chunk
			docs := map[string]bool{}
			st.Chunks(ctx, func(c kefu.Chunk) error {
				c.Text = tokenize.Normalize(c.Text)
				chunks = append(chunks, c)
				docs[c.DocID] = true
				return nil
			})
			for _, g := range set.Goldens {
				for _, path := range []string{g.Dev, g.Test} {
					cases, err := eval.LoadFile(filepath.Join(out, filepath.FromSlash(path)))
					if err != nil {
						t.Fatal(err)
					}
					missing := 0
					for _, c := range cases {
						for _, e := range c.Evidence {
							if !evidenceFound(chunks, c.ProductID, tokenize.Normalize(e)) {
								missing++
								if missing <= 5 {
									t.Errorf("%s %s: evidence %q is in no chunk", g.Name, c.ID, e)
								}
							}
						}
						for _, d := range c.EvidenceDocs {
							if !slices.ContainsFunc(keys(docs), func(id string) bool { return eval.DocMatches(id, d) }) {
								t.Errorf("%s %s: evidence doc %q is not stored", g.Name, c.ID, d)
							}
						}
					}
					if missing > 5 {
						t.Errorf("%s: %d evidence strings in no chunk", path, missing)
					}
				}
			}
		})
	}
}

func evidenceFound(chunks []kefu.Chunk, product, e string) bool {
	for _, c := range chunks {
		if product != "" && c.DocID != product && c.Meta[kefu.MetaProductID] != product {
			continue
		}
		if strings.Contains(c.Text, e) {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
