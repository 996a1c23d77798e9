package hosted

import (
	"math"
	"testing"
)

// FuzzDecodeReply checks that no reply, however malformed, panics the
// decoder, and that every reply it accepts names each document at most
// once, inside the request, with a finite score.
func FuzzDecodeReply(f *testing.F) {
	for _, seed := range []string{
		`{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}`,
		`[{"index":0,"score":0.5},{"index":2,"score":-3.25}]`,
		`{"results":[{"index":0,"relevance_score":1e999}]}`,
		`{"results":[{"index":"1","relevance_score":"0.5"}]}`,
		`[{"index":3,"score":1}]`, `[]`, `{}`, `null`, `[null]`, `{"results":null}`, `{"results":[{}]}`,
		`[{"index":0,"score":1},{"index":0,"score":2}]`, `[{"index":1.0,"score":1}]`, `[{"index":-0,"score":-0}]`,
	} {
		f.Add(seed, 3, false)
		f.Add(seed, 3, true)
	}
	f.Fuzz(func(t *testing.T, raw string, n int, tei bool) {
		n = max(0, min(n, 1000))
		d := Cohere
		if tei {
			d = TEI
		}
		got, err := decodeReply(d, []byte(raw), n)
		if err != nil {
			if got != nil {
				t.Fatalf("results %v beside error %v", got, err)
			}
			return
		}
		if len(got) == 0 || len(got) > n {
			t.Fatalf("%d results for %d documents accepted", len(got), n)
		}
		seen := map[int]bool{}
		for _, r := range got {
			if r.index < 0 || r.index >= n || seen[r.index] {
				t.Fatalf("index %d accepted (n %d, seen %v)", r.index, n, seen)
			}
			seen[r.index] = true
			if math.IsNaN(r.score) || math.IsInf(r.score, 0) {
				t.Fatalf("score %v accepted", r.score)
			}
		}
	})
}
