// Command realsets builds kefu's answer-quality benchmarks on public shops
// and knowledge bases that kefu's authors did not write: for each set, the
// files to ingest, the kefu ingest flags they need, and golden sets split
// into a dev part (for building and tuning) and a test part (only
// measured).
//
//	go run ./eval/realsets [--data ../shared/data] --out DIR
//
// DIR then holds, for each set NAME:
//
//	NAME/corpus/...          the files to ingest (copies, or derived from the data)
//	NAME/ingest.sh           the kefu ingest commands; run it from NAME/ with
//	                         KEFU (the kefu binary) and DATA_DIR set
//	NAME/golden/G.dev.jsonl  golden set G, dev part
//	NAME/golden/G.test.jsonl golden set G, test part
//
// and, for all sets, manifest.json (the same, for programs) and sets.tsv
// (one line per golden file: set, golden, split, cases, path relative to
// DIR). A case is in the test part when the first byte of the SHA-256 of
// its id is odd, so a case keeps its part whatever else changes; the
// variants of one ePQA question share its id and so its part.
//
// The sets: epqa (Amazon product questions: epqa-catalogue asked from the
// whole shop, epqa-page asked from the product's page, epqa-unanswerable
// with no answering snippet, which should be handed over), tau2-banking
// (multi-document retrieval with hand-curated evidence documents), and
// tau2-retail, ecom-bench-zh and cn-consumer-law (questions written for this
// benchmark, in questions/, each with a short quoted evidence phrase).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "realsets:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("realsets", flag.ContinueOnError)
	data := fs.String("data", filepath.Join("..", "shared", "data"), "folder of the public corpora")
	out := fs.String("out", "", "folder to write the sets into (created; existing set folders are replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out DIR is required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := os.Stat(filepath.Join(*data, "README.md")); err != nil {
		return fmt.Errorf("no public corpora at %s (want its README.md): %w", *data, err)
	}
	m, err := build(*data, *out)
	if err != nil {
		return err
	}
	for _, s := range m.Sets {
		for _, g := range s.Goldens {
			fmt.Fprintf(stdout, "%-16s %-20s dev %4d  test %4d\n", s.Name, g.Name, g.DevCases, g.TestCases)
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, "manifest.json"))
	return nil
}
