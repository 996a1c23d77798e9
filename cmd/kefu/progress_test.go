package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/ingest"
)

func TestProgressPrinter(t *testing.T) {
	step := ingest.Progress{Files: 1, FilesTotal: 3, Documents: 10, Chunks: 25, File: "a.json"}
	done := step
	done.Done = true

	var plain bytes.Buffer
	p := newProgressPrinter(&plain)
	if p.tty {
		t.Fatal("a buffer taken for a terminal")
	}
	p.update(step) // too soon after the start: nothing
	p.every = 0
	p.update(step)
	p.update(done)
	p.finish()
	if got, want := plain.String(), "ingest: 1/3 files, 10 documents (25 chunks) written, 0 unchanged, 0 failed\n"; got != want {
		t.Errorf("plain output %q, want %q", got, want)
	}

	var term bytes.Buffer
	p = &progressPrinter{w: &term, tty: true}
	p.update(step)
	step.Files = 2
	p.update(step)
	p.update(done)
	p.finish()
	got := term.String()
	if strings.Count(got, "\r\033[K") != 3 || strings.Contains(got, "\n") || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("terminal output %q: want lines redrawn in place, then cleared", got)
	}
}

func TestIngestRecordFlags(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := run(t, nil, "ingest", "--data-dir", dir, "--json", "--records", "orders,users",
		"--levels", "platform,-,customer_id", "../../ingest/testdata/nested/db.json", "../../ingest/testdata/nested/shop.json")
	if err != nil {
		t.Fatalf("ingest: %v\n%s\n%s", err, out, stderr)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	// db.json: the order and, named, the user; products not chosen.
	// shop.json: its collection is not among those chosen either.
	if sum.Documents != 2 || len(sum.Failed) != 0 || len(sum.Skipped) != 2 || stderr != "" {
		t.Errorf("summary %+v, stderr %q", sum, stderr)
	}
}
