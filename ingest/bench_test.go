package ingest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// BenchmarkIngestReal ingests public corpora (when they sit beside the
// repository) with the default stack, the local embedder and the embedded
// store, into a fresh store, then again unchanged. It reports the first
// run's chunks per second and how many times faster the second run is.
//
//	go test ./ingest -run '^$' -bench IngestReal -benchtime 3x
func BenchmarkIngestReal(b *testing.B) {
	dir := realDataDir(b)
	corpora := []struct {
		name  string
		opts  Options
		paths []string
	}{
		{"tau2-retail", Options{}, []string{"tau2-retail/policy.md", "tau2-retail/db.json"}},
		{"ecom-bench-zh", Options{Levels: []string{"platform", "shop", "customer_id"}}, []string{
			"ecom-bench-zh/agent_policy_wiki.md", "ecom-bench-zh/products.json", "ecom-bench-zh/discount.json",
			"ecom-bench-zh/orders.json", "ecom-bench-zh/logistics.json", "ecom-bench-zh/service.json"}},
	}
	for _, c := range corpora {
		b.Run(c.name, func(b *testing.B) {
			paths := make([]string, len(c.paths))
			for i, p := range c.paths {
				paths[i] = filepath.Join(dir, filepath.FromSlash(p))
			}
			emb := embedding.NewLocal(0)
			if _, err := encoding(); err != nil { // load the tokenizer outside the timings
				b.Fatal(err)
			}
			var first, again time.Duration
			chunks := 0
			for b.Loop() {
				b.StopTimer()
				st, err := embedded.Open(b.TempDir(), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
				if err != nil {
					b.Fatal(err)
				}
				in := New(st, emb, c.opts)
				b.StartTimer()
				start := time.Now()
				sum, err := in.Run(context.Background(), paths...)
				if err != nil || len(sum.Failed) > 0 {
					b.Fatalf("%v\n%s", err, sum)
				}
				first += time.Since(start)
				chunks += sum.Chunks
				start = time.Now()
				sum, err = in.Run(context.Background(), paths...)
				if err != nil || sum.Documents != 0 {
					b.Fatalf("re-run: %v\n%s", err, sum)
				}
				again += time.Since(start)
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(chunks)/first.Seconds(), "chunks/s")
			b.ReportMetric(first.Seconds()/again.Seconds(), "rerun-speedup")
			b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
			b.ReportMetric(float64(again.Milliseconds())/float64(b.N), "rerun-ms")
		})
	}
}
