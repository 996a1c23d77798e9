package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/internal/pdftest"
)

// runAsKefu, set in a child's environment, makes the test binary run as
// kefu itself (see TestMain).
const runAsKefu = "KEFU_TEST_RUN_AS_KEFU"

// TestMain runs the test binary as kefu pdf-worker when ingest starts it
// as one (kefu's ingester starts its own executable), and as kefu itself
// when a test starts it with runAsKefu set (the replicas' test).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "pdf-worker" {
		root := newRoot(os.Stdout, os.Stderr, func(string) string { return "" })
		root.SetArgs(os.Args[1:])
		if root.Execute() != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(runAsKefu) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestIngestPDFBomb plays the upload bomb against kefu ingest: a 41 KB PDF
// that expands to 2 GB in a PDF reader fails alone at the configured
// memory bound, the policy beside it is ingested.
func TestIngestPDFBomb(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bomb.pdf"), pdftest.Bomb(pdftest.Operands(), 2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "returns.md"), []byte("# Returns\n\nWithin 30 days.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEFU_INGEST_PDF_MAX_MEMORY_BYTES": "134217728"}
	out, _, err := run(t, env, "ingest", "--data-dir", t.TempDir(), dir)
	if err == nil {
		t.Fatalf("ingest of a bomb succeeded: %s", out)
	}
	if !strings.Contains(out, "128 MiB of memory, the limit per PDF (ingest.pdf_max_memory_bytes)") || !strings.Contains(out, "documents: 1 written") {
		t.Errorf("output:\n%s", out)
	}
}
