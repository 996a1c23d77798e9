package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
)

// questions holds the labelled question sets written for this benchmark.
//
//go:embed questions/*.jsonl
var questions embed.FS

// Manifest describes the sets written into an output folder.
type Manifest struct {
	Version int   `json:"version"`
	Sets    []Set `json:"sets"`
}

// Set is one benchmark: a shop's files and its golden sets.
type Set struct {
	Name string `json:"name"`
	// Dir is the set's folder, relative to the output folder; ingest
	// paths are relative to it.
	Dir     string   `json:"dir"`
	Ingest  []Step   `json:"ingest"`
	Goldens []Golden `json:"goldens"`
	Notes   string   `json:"notes,omitempty"`
}

// Step is one kefu ingest command: `kefu ingest --data-dir DIR ARGS...`,
// run from the set's folder, plus IfSupported when that kefu ingest knows
// those flags (ingest.sh checks `kefu ingest --help`).
type Step struct {
	Args        []string `json:"args"`
	IfSupported []string `json:"if_supported,omitempty"`

	opts  ingest.Options // what Args say, for tests that ingest in process
	paths []string
}

// Golden is one golden set and its two parts, paths relative to the output
// folder.
type Golden struct {
	Name      string `json:"name"`
	Dev       string `json:"dev"`
	Test      string `json:"test"`
	DevCases  int    `json:"dev_cases"`
	TestCases int    `json:"test_cases"`
}

// spec is what a set builder produces in the set's folder.
type spec struct {
	steps   []Step
	goldens []goldenCases
	notes   string
}

type goldenCases struct {
	name  string
	cases []eval.Case
}

// builders make the sets, in the order they are written.
var builders = []struct {
	name  string
	build func(data, dir string) (spec, error)
}{
	{"epqa", buildEPQA},
	{"tau2-banking", buildBanking},
	{"tau2-retail", buildRetail},
	{"ecom-bench-zh", buildEcom},
	{"cn-consumer-law", buildLaw},
}

// build writes every set into out and returns the manifest it also writes.
func build(data, out string) (Manifest, error) {
	m := Manifest{Version: 1}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return m, err
	}
	var tsv strings.Builder
	tsv.WriteString("# set\tgolden\tsplit\tcases\tpath\n")
	for _, b := range builders {
		dir := filepath.Join(out, b.name)
		if err := os.RemoveAll(dir); err != nil {
			return m, err
		}
		for _, sub := range []string{"corpus", "golden"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				return m, err
			}
		}
		sp, err := b.build(data, dir)
		if err != nil {
			return m, fmt.Errorf("set %s: %w", b.name, err)
		}
		set := Set{Name: b.name, Dir: b.name, Ingest: sp.steps, Notes: sp.notes}
		for _, g := range sp.goldens {
			dev, test := split(g.cases)
			gl := Golden{
				Name: g.name, DevCases: len(dev), TestCases: len(test),
				Dev:  filepath.ToSlash(filepath.Join(b.name, "golden", g.name+".dev.jsonl")),
				Test: filepath.ToSlash(filepath.Join(b.name, "golden", g.name+".test.jsonl")),
			}
			for _, part := range []struct {
				path  string
				cases []eval.Case
				split string
			}{{gl.Dev, dev, "dev"}, {gl.Test, test, "test"}} {
				if err := writeCases(filepath.Join(out, filepath.FromSlash(part.path)), part.cases); err != nil {
					return m, err
				}
				fmt.Fprintf(&tsv, "%s\t%s\t%s\t%d\t%s\n", b.name, g.name, part.split, len(part.cases), part.path)
			}
			set.Goldens = append(set.Goldens, gl)
		}
		if err := os.WriteFile(filepath.Join(dir, "ingest.sh"), []byte(ingestScript(set)), 0o755); err != nil {
			return m, err
		}
		m.Sets = append(m.Sets, set)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.json"), append(raw, '\n'), 0o644); err != nil {
		return m, err
	}
	return m, os.WriteFile(filepath.Join(out, "sets.tsv"), []byte(tsv.String()), 0o644)
}

// inTest reports whether a case id belongs to the test part: the first
// byte of its SHA-256 is odd.
func inTest(id string) bool {
	sum := sha256.Sum256([]byte(id))
	return sum[0]&1 == 1
}

// split parts cases into dev and test by inTest, keeping their order.
func split(cases []eval.Case) (dev, test []eval.Case) {
	for _, c := range cases {
		if inTest(c.ID) {
			test = append(test, c)
		} else {
			dev = append(dev, c)
		}
	}
	return dev, test
}

func writeCases(path string, cases []eval.Case) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// step makes an ingest step from options and paths relative to the set's
// folder; productField, when set, is passed as --product-field where
// supported.
func step(opts ingest.Options, productField string, paths ...string) Step {
	s := Step{Args: ingestArgs(opts), opts: opts, paths: paths}
	s.Args = append(s.Args, paths...)
	if productField != "" {
		s.IfSupported = []string{"--product-field", productField}
	}
	return s
}

// ingestArgs renders the options a set uses as kefu ingest flags.
func ingestArgs(o ingest.Options) []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--type", o.Type)
	add("--id-field", o.IDField)
	add("--title-field", o.TitleField)
	add("--customer-field", o.CustomerField)
	add("--group-by", o.GroupBy)
	add("--records", strings.Join(o.Records, ","))
	add("--levels", strings.Join(o.Levels, ","))
	add("--fields", strings.Join(o.Fields, ","))
	return a
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./,=:+-]+$`)

func shellQuote(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ingestScript is the set's ingest.sh.
func ingestScript(s Set) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/usr/bin/env bash\n# kefu ingest for the %s set (written by go run ./eval/realsets).\n", s.Name)
	b.WriteString("# Run it from this folder with KEFU (the kefu binary) and DATA_DIR (an empty data dir) set.\n")
	b.WriteString("set -euo pipefail\ncd \"$(dirname \"$0\")\"\n")
	b.WriteString(": \"${KEFU:?set KEFU to the kefu binary}\" \"${DATA_DIR:?set DATA_DIR to the data dir to ingest into}\"\n")
	for _, st := range s.Ingest {
		b.WriteString("extra=()\n")
		if len(st.IfSupported) > 0 {
			fmt.Fprintf(&b, "if \"$KEFU\" ingest --help 2>&1 | grep -q -- %s; then\n  extra=(%s)\nelse\n  echo \"note: this kefu ingest has no %s flag; left out\" >&2\nfi\n",
				shellQuote(st.IfSupported[0]), quoteAll(st.IfSupported), st.IfSupported[0])
		}
		fmt.Fprintf(&b, "\"$KEFU\" ingest --data-dir \"$DATA_DIR\" %s ${extra[@]+\"${extra[@]}\"}\n", quoteAll(st.Args))
	}
	return b.String()
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyCorpus copies the named files of a data folder into dir/corpus/sub.
func copyCorpus(data, from, dir, sub string, names ...string) ([]string, error) {
	var paths []string
	for _, n := range names {
		rel := filepath.ToSlash(filepath.Join("corpus", sub, n))
		if err := copyFile(filepath.Join(data, from, n), filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
		paths = append(paths, rel)
	}
	return paths, nil
}

// epqaRow is one line of epqa-dev.csv: a candidate snippet for a question.
type epqaRow struct {
	qid, question, asin, candidate, source, title, label string
}

// buildEPQA writes the ePQA corpus (the candidate snippets, grouped per
// product by kefu ingest --group-by ASIN; the questions and written answers
// are left out, they are the benchmark's, not the shop's) and three golden
// sets: the answerable questions (those with a snippet labelled 2, "answers
// fully", whose text is the evidence, see evidenceOf) asked from the catalogue and from the
// product's page, and the unanswerable ones, which should be handed over.
func buildEPQA(data, dir string) (spec, error) {
	f, err := os.Open(filepath.Join(data, "amazon-epqa", "epqa-dev.csv"))
	if err != nil {
		return spec{}, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		return spec{}, fmt.Errorf("epqa-dev.csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, want := range []string{"qid", "question", "ASIN", "candidate", "source", "title", "label"} {
		if _, ok := col[want]; !ok {
			return spec{}, fmt.Errorf("epqa-dev.csv has no %q column", want)
		}
	}
	var rows []epqaRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return spec{}, fmt.Errorf("epqa-dev.csv: %w", err)
		}
		get := func(k string) string { return strings.TrimSpace(rec[col[k]]) }
		rows = append(rows, epqaRow{get("qid"), get("question"), get("ASIN"), get("candidate"), get("source"), get("title"), get("label")})
	}

	var corpus bytes.Buffer
	w := csv.NewWriter(&corpus)
	w.Write([]string{"ASIN", "title", "candidate", "source"})
	seen := map[[3]string]bool{}
	type question struct {
		id, text, asin string
		evidence       []string
	}
	var order []*question
	byID := map[string]*question{}
	for _, row := range rows {
		if key := [3]string{row.asin, row.candidate, row.source}; !seen[key] && row.candidate != "" {
			seen[key] = true
			w.Write([]string{row.asin, row.title, row.candidate, row.source})
		}
		q := byID[row.qid]
		if q == nil {
			q = &question{id: "epqa-" + row.qid, text: row.question, asin: row.asin}
			byID[row.qid] = q
			order = append(order, q)
		}
		if e := evidenceOf(row.candidate); row.label == "2" && e != "" && !slices.Contains(q.evidence, e) {
			q.evidence = append(q.evidence, e)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return spec{}, err
	}
	const corpusPath = "corpus/epqa-products.csv"
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(corpusPath)), corpus.Bytes(), 0o644); err != nil {
		return spec{}, err
	}
	var catalogue, page, unanswerable []eval.Case
	for _, q := range order {
		if len(q.evidence) == 0 {
			unanswerable = append(unanswerable, eval.Case{ID: q.id, Question: q.text, Locale: "en", Expect: eval.ExpectEscalate})
			continue
		}
		c := eval.Case{ID: q.id, Question: q.text, Locale: "en", Evidence: q.evidence, Expect: eval.ExpectAnswer}
		catalogue = append(catalogue, c)
		c.ProductID = q.asin
		page = append(page, c)
	}
	opts := ingest.Options{Type: kefu.TypeProduct, GroupBy: "ASIN", TitleField: "title", Fields: []string{"title", "candidate", "source"}}
	return spec{
		steps: []Step{step(opts, "ASIN", corpusPath)},
		goldens: []goldenCases{
			{"epqa-catalogue", catalogue}, {"epqa-page", page}, {"epqa-unanswerable", unanswerable},
		},
		notes: "one document per product (ASIN) holding its candidate snippets as list items; a product's snippets fill one or a few chunks, so a snippet does not have a chunk of its own. epqa-page's product_id is the ASIN, which ingest stores as the product id of the product's chunks (the record id by default, or --product-field ASIN).",
	}, nil
}

// maxEvidenceRunes bounds an evidence string taken from a snippet: a
// longer snippet may be cut between two chunks, so its start stands for it.
const maxEvidenceRunes = 240

// evidenceOf is the evidence string for a snippet: its text without
// invisible format characters (a zero-width space, which ingest drops),
// white space collapsed, cut after at most maxEvidenceRunes runes at a
// space.
func evidenceOf(snippet string) string {
	s := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, snippet)), " ")
	if r := []rune(s); len(r) > maxEvidenceRunes {
		cut := string(r[:maxEvidenceRunes])
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			cut = cut[:i]
		}
		s = cut
	}
	return s
}

// buildBanking writes the tau2 banking knowledge base and one golden set:
// each task's instructions as the question, its required documents as
// evidence_docs (record ids, which name the ingested documents
// corpus/documents.jsonl#ID).
func buildBanking(data, dir string) (spec, error) {
	paths, err := copyCorpus(data, "tau2-banking-knowledge", dir, "", "documents.jsonl")
	if err != nil {
		return spec{}, err
	}
	f, err := os.Open(filepath.Join(data, "tau2-banking-knowledge", "tasks.jsonl"))
	if err != nil {
		return spec{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var cases []eval.Case
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var t struct {
			ID       string `json:"id"`
			Scenario struct {
				Instructions string `json:"instructions"`
			} `json:"user_scenario"`
			Required []string `json:"required_documents"`
		}
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return spec{}, fmt.Errorf("tasks.jsonl line %d: %w", n, err)
		}
		if t.ID == "" || strings.TrimSpace(t.Scenario.Instructions) == "" {
			return spec{}, fmt.Errorf("tasks.jsonl line %d: no id or instructions", n)
		}
		cases = append(cases, eval.Case{
			ID: "bank-" + t.ID, Question: strings.TrimSpace(t.Scenario.Instructions), Locale: "en",
			EvidenceDocs: t.Required, Expect: eval.ExpectAnswer,
		})
	}
	if err := sc.Err(); err != nil {
		return spec{}, err
	}
	return spec{
		steps:   []Step{step(ingest.Options{Type: kefu.TypePolicy, IDField: "id", TitleField: "title"}, "", paths...)},
		goldens: []goldenCases{{"tau2-banking", cases}},
		notes:   "the question is the task's whole user-scenario instructions (up to 7,368 characters, longer than the HTTP API's message limit; eval calls the pipeline directly); evidence_docs are the task's required_documents, about 10 per task.",
	}, nil
}

// loadQuestions reads one of the embedded question sets.
func loadQuestions(name string) ([]eval.Case, error) {
	raw, err := questions.ReadFile("questions/" + name + ".jsonl")
	if err != nil {
		return nil, err
	}
	return eval.Load(bytes.NewReader(raw))
}

func buildRetail(data, dir string) (spec, error) {
	paths, err := copyCorpus(data, "tau2-retail", dir, "", "policy.md", "db.json")
	if err != nil {
		return spec{}, err
	}
	cases, err := loadQuestions("tau2-retail")
	if err != nil {
		return spec{}, err
	}
	return spec{
		steps:   []Step{step(ingest.Options{}, "", paths...)},
		goldens: []goldenCases{{"tau2-retail", cases}},
		notes:   "policy.md with the store's catalogue and orders (db.json: users are skipped as personal data, orders are private); questions/tau2-retail.jsonl asks about the policy.",
	}, nil
}

func buildEcom(data, dir string) (spec, error) {
	paths, err := copyCorpus(data, "ecom-bench-zh", dir, "", "agent_policy_wiki.md", "products.json", "discount.json",
		"orders.json", "logistics.json", "service.json", "users_info.json")
	if err != nil {
		return spec{}, err
	}
	cases, err := loadQuestions("ecom-bench-zh")
	if err != nil {
		return spec{}, err
	}
	return spec{
		steps:   []Step{step(ingest.Options{Levels: []string{"platform", "shop", "customer_id"}}, "", paths...)},
		goldens: []goldenCases{{"ecom-bench-zh", cases}},
		notes:   "the whole simulated JD shop (users_info.json is skipped as personal data, orders are private); questions/ecom-bench-zh.jsonl asks about the agent policy, the 618 subsidy and products by model number.",
	}, nil
}

func buildLaw(data, dir string) (spec, error) {
	entries, err := os.ReadDir(filepath.Join(data, "cn-consumer-law"))
	if err != nil {
		return spec{}, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".md") {
			names = append(names, e.Name())
		}
	}
	if _, err := copyCorpus(data, "cn-consumer-law", dir, "cn-consumer-law", names...); err != nil {
		return spec{}, err
	}
	cases, err := loadQuestions("cn-consumer-law")
	if err != nil {
		return spec{}, err
	}
	return spec{
		steps:   []Step{step(ingest.Options{Type: kefu.TypePolicy}, "", "corpus/cn-consumer-law")},
		goldens: []goldenCases{{"cn-consumer-law", cases}},
		notes:   "seven PRC statutes and rules, one Markdown file each; questions/cn-consumer-law.jsonl asks what a shopper may ask about them.",
	}, nil
}
