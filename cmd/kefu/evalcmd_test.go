package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

func TestEvalBaselineJSON(t *testing.T) {
	dir := demoDataDir(t)
	out, stderr, err := run(t, nil, "eval", "--data-dir", dir, "--golden", demoDir+"/golden.jsonl", "--json", "--baseline")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr)
	}
	var r struct {
		HitAt5     *float64 `json:"hit_at_5"`
		AnswerRate *float64 `json:"answer_rate"`
		Baseline   *struct {
			Ranker         string  `json:"ranker"`
			Chunks         int     `json:"chunks"`
			RetrievalCases int     `json:"retrieval_cases"`
			HitAt5         float64 `json:"hit_at_5"`
		} `json:"baseline"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval --json printed %q: %v", out, err)
	}
	if r.HitAt5 == nil || r.AnswerRate == nil || r.Baseline == nil {
		t.Fatalf("keys missing: %s", out)
	}
	if b := r.Baseline; b.Ranker != "bm25" || b.Chunks < 100 || b.RetrievalCases == 0 || b.HitAt5 <= 0 {
		t.Errorf("baseline %+v", *b)
	}
	text, _, err := run(t, nil, "eval", "--data-dir", dir, "--golden", demoDir+"/golden.jsonl", "--baseline")
	if err != nil || !strings.Contains(text, "BM25 hit@1") {
		t.Errorf("text report: %v\n%s", err, text)
	}
}

// listlessStore is a chunk store that cannot list its chunks, as Qdrant.
type listlessStore struct{ chunkStore }

func TestBaselineNeedsAListingStore(t *testing.T) {
	_, err := allChunks(context.Background(), listlessStore{})
	if kefu.ErrorCode(err) != kefu.EInvalid || !strings.Contains(err.Error(), "qdrant") {
		t.Errorf("allChunks on a store without Chunks: %v", err)
	}
}
