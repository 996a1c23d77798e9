package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

const fuzzMaxTokens = 48

// addSeeds adds the fixtures matching pattern to the corpus.
func addSeeds(f *testing.F, patterns ...string) {
	for _, pattern := range patterns {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(string(b))
			}
		}
	}
}

// checkUnits chunks every unit and checks what must hold for any input.
func checkUnits(t *testing.T, source string, units []unit) {
	t.Helper()
	c, err := newChunker(fuzzMaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		d := u.doc
		if d.ID != source && !strings.HasPrefix(d.ID, source+"#") {
			t.Fatalf("id %q not from source %q", d.ID, source)
		}
		if d.Type == kefu.TypeOrder && d.CustomerID == "" {
			// Allowed out of a loader only for prose; the run refuses it.
			if strings.Contains(d.ID, "#") {
				t.Fatalf("order record %q without customer", d.ID)
			}
		}
		if !utf8.ValidString(d.Text) || !utf8.ValidString(d.Title) {
			t.Fatalf("invalid UTF-8 in %q", d.ID)
		}
		for _, ch := range c.chunks(&d, u.sections) {
			if ch.Tokens > fuzzMaxTokens {
				t.Fatalf("chunk %s has %d tokens: %q", ch.ID, ch.Tokens, ch.Text)
			}
			if !utf8.ValidString(ch.Text) || strings.TrimSpace(ch.Text) == "" {
				t.Fatalf("chunk %s text %q", ch.ID, ch.Text)
			}
		}
	}
}

func FuzzParseJSONL(f *testing.F) {
	addSeeds(f, "testdata/*/*.jsonl")
	f.Add("{\"id\": \"a\", \"items\": [{\"name\": \"x\", \"qty\": 1}]}\n{")
	in := New(nil, nil, Options{})
	f.Fuzz(func(t *testing.T, data string) {
		s := &recordSink{}
		src := "orders.jsonl"
		rs := in.newRecords(file{name: src, path: src, source: src}, s)
		if err := in.readJSONL(context.Background(), strings.NewReader(data), rs); err != nil {
			t.Fatal(err)
		}
		if err := rs.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkUnits(t, src, s.units)
	})
}

func FuzzParseJSON(f *testing.F) {
	addSeeds(f, "testdata/*/*.json")
	in := New(nil, nil, Options{})
	f.Fuzz(func(t *testing.T, data string) {
		s := &recordSink{}
		src := "data.json"
		if err := in.loadJSON(context.Background(), file{name: src, path: src, source: src}, data, s); err != nil {
			t.Fatal(err)
		}
		checkUnits(t, src, s.units)
	})
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, "testdata/*/*.csv")
	in := New(nil, nil, Options{})
	f.Fuzz(func(t *testing.T, data string) {
		s := &recordSink{}
		src := "products.csv"
		if err := in.loadCSV(context.Background(), file{name: src, path: src, source: src}, data, s); err != nil {
			t.Fatal(err)
		}
		checkUnits(t, src, s.units)
	})
}

func FuzzMarkdown(f *testing.F) {
	addSeeds(f, "testdata/*/*.md", "testdata/*/*/*.md")
	f.Add("---\ntitle: x\n---\n# A\n\n## B\n\n```\n# c\n```\n")
	in := New(nil, nil, Options{})
	f.Fuzz(func(t *testing.T, data string) {
		text, err := decodeText([]byte(data))
		if err != nil {
			return
		}
		md, err := parseMarkdown(cleanText(text), true)
		if err != nil {
			return
		}
		for _, s := range md.sections {
			if s.lead != "" && len(s.path) == 0 {
				t.Fatalf("section with heading %q has no path", s.lead)
			}
		}
		s := &recordSink{}
		if err := in.emitMarkdown(file{name: "p.md", path: "p.md", source: "p.md"}, md, prose{}, s); err != nil {
			t.Fatal(err)
		}
		checkUnits(t, "p.md", s.units)
	})
}

func FuzzHTML(f *testing.F) {
	addSeeds(f, "testdata/*/*.html")
	f.Fuzz(func(t *testing.T, data string) {
		p, md, err := htmlToMarkdown(data)
		if err != nil {
			return
		}
		if !utf8.ValidString(p.title) {
			t.Fatalf("title %q", p.title)
		}
		if _, err := parseMarkdown(cleanText(md), false); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzPDF(f *testing.F) {
	f.Add(string(makePDF("T", []string{"Returns within 30 days."})))
	f.Add(string(makePDF("", nil)))
	f.Fuzz(func(t *testing.T, data string) {
		doc := &pdfText{limits: Limits{}.withDefaults()}
		if err := readPDF(context.Background(), bytes.NewReader([]byte(data)), int64(len(data)), 50, doc); err != nil {
			return
		}
		for _, p := range doc.pages {
			_ = cleanText(p)
		}
	})
}
