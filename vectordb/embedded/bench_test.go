package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/internal/synth"
)

func synthCorpus(n, perDoc int, emb *embedding.Local) ([]kefu.Document, [][]kefu.Chunk) {
	return synth.Corpus(n, perDoc, emb.Vector)
}

// BenchmarkHybridSearch100k measures one hybrid query, query embedding
// included, over 100,000 synthetic chunks, and reports the p50/p95 latency
// of the iterations as extra metrics. The store is closed and reopened
// after the ingest, so the search reads the mapped segment;
// KEFU_BENCH_TIER=memory keeps it in the memory tier instead.
func BenchmarkHybridSearch100k(b *testing.B) {
	ctx := context.Background()
	emb := embedding.NewLocal(embedding.DefaultDims)
	s, err := Open(b.TempDir(), EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		b.Fatal(err)
	}
	s.db.NoSync = true
	docs, chunks := synthCorpus(100_000, 100, emb)
	for i := range docs {
		if err := s.Replace(ctx, docs[i], chunks[i]); err != nil {
			b.Fatal(err)
		}
	}
	if tier := os.Getenv("KEFU_BENCH_TIER"); tier != "memory" {
		// As a server finds it: the segment written by the ingest, mapped.
		dir := s.dir
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if s, err = Open(dir, EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()}); err != nil {
			b.Fatal(err)
		}
	}
	defer s.Close()
	queries := []string{
		"how many days do I have to return opened earbuds",
		"refund to alipay how long",
		"退货运费谁出",
		"保修期多久 维修",
		"is the kettle in stock, what colour",
		"tracking my parcel express delivery",
		"发票 怎么开 支付宝",
		"warranty repair broken charger cable",
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		start := time.Now()
		vec := emb.Vector(q)
		hits, err := s.Search(ctx, kefu.Query{Text: q, Vector: vec, Filter: kefu.Filter{CustomerID: "C0010"}, TopK: 10})
		durs = append(durs, time.Since(start))
		if err != nil || len(hits) == 0 {
			b.Fatalf("search %q: %v, %d hits", q, err, len(hits))
		}
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
}

// BenchmarkOpen measures opening a store whose segment is current: what
// serve, every `kefu ask` and every ingest pay before their first search.
// The rebuild case opens the same records without the segment.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		ctx := context.Background()
		emb := embedding.NewLocal(embedding.DefaultDims)
		info := EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()}
		dir := b.TempDir()
		s, err := Open(dir, info)
		if err != nil {
			b.Fatal(err)
		}
		s.db.NoSync = true
		docs, chunks := synthCorpus(n, 100, emb)
		for i := range docs {
			if err := s.Replace(ctx, docs[i], chunks[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("mapped/%dk", n/1000), func(b *testing.B) {
			for b.Loop() {
				s, err := Open(dir, info)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(fmt.Sprintf("rebuilt/%dk", n/1000), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				os.Remove(filepath.Join(dir, SegmentFileName))
				b.StartTimer()
				s, err := Open(dir, info)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
