package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/rag"
)

// askTurns are the questions BenchmarkAskTurn times: the kinds a shop's
// shoppers ask most, in both languages. want is a fragment the answer must
// hold, so that the benchmark times the answering path and not a refusal.
var askTurns = []struct {
	name string
	turn rag.Turn
	want string
}{
	{"policy-en", rag.Turn{Message: "How long do I have to return an item?", Channel: "bench"}, "30 days"},
	{"policy-zh", rag.Turn{Message: "退货期限是多久？", Channel: "bench"}, "30天"},
	{"product", rag.Turn{Message: "What is the battery life of the AirBeat Pro earbuds?", Channel: "bench"}, "8 h"},
	{"order", rag.Turn{CustomerID: "C1001", Message: "Where is my order?", Channel: "bench"}, "W261118-1004"},
}

// benchApp ingests the demo shop into a fresh data dir, through the same
// command line as `kefu ingest`, and opens the default stack over it.
func benchApp(b *testing.B) *app {
	b.Helper()
	dir := b.TempDir()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(string) string { return "" })
	root.SetArgs([]string{"ingest", "--data-dir", dir, demoDir})
	if err := root.ExecuteContext(context.Background()); err != nil {
		b.Fatalf("ingest: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.DataDir = dir
	a, err := openApp(cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}

// BenchmarkAskTurn measures one whole answering turn (understanding,
// query embedding, hybrid retrieval, answer and citations) over the demo
// shop, in process, as `kefu ask` and POST /v1/chat run it. Each question
// kind is a sub-benchmark; "mix" cycles through all of them and reports the
// p50/p95 latency of its iterations as extra metrics.
func BenchmarkAskTurn(b *testing.B) {
	a := benchApp(b)
	ctx := context.Background()
	ask := func(b *testing.B, t rag.Turn) rag.Result {
		res, err := rag.Collect(a.pipeline.Stream(ctx, t))
		if err != nil {
			b.Fatalf("%q: %v", t.Message, err)
		}
		return res
	}
	for _, tc := range askTurns {
		if res := ask(b, tc.turn); !strings.Contains(res.Answer, tc.want) {
			b.Fatalf("%s: %q answered %q (decision %s), want it to hold %q", tc.name, tc.turn.Message, res.Answer, res.Meta.Decision, tc.want)
		}
	}
	for _, tc := range askTurns {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ask(b, tc.turn)
			}
		})
	}
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		var durs []time.Duration
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			ask(b, askTurns[i%len(askTurns)].turn)
			durs = append(durs, time.Since(start))
		}
		slices.Sort(durs)
		pct := func(p float64) float64 {
			return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.95), "p95-ms")
	})
}
