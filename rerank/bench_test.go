package rerank

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
)

// benchHits are 40 candidates of about 120 words each, like a first
// stage's output for a policy question.
func benchHits() []kefu.Hit {
	words := strings.Fields("return refund within days of delivery item unopened original packaging receipt shipping fee " +
		"warranty repair months defect battery charger cable colour size price order account invoice 退货 退款 七天 无理由 运费 保修")
	var hits []kefu.Hit
	for i := range 40 {
		var b strings.Builder
		for j := range 120 {
			b.WriteString(words[(i*7+j*3)%len(words)])
			if j%15 == 14 {
				b.WriteString(".\n")
			} else {
				b.WriteString(" ")
			}
		}
		hits = append(hits, kefu.Hit{Chunk: kefu.Chunk{ID: fmt.Sprintf("doc%d#0", i), DocID: fmt.Sprint("doc", i), Type: kefu.TypePolicy,
			Title: "Returns", Heading: "Returns > Window", Text: b.String()}, Lexical: 1 - float64(i)/50, Dense: 0.5 - float64(i)/100})
	}
	return hits
}

// BenchmarkRerank40 reranks 40 candidates with the committed weights, the
// chunks' terms cached as they are after the first turns; it reports the
// 99th percentile of one call besides the mean.
func BenchmarkRerank40(b *testing.B) {
	m, err := Local()
	if err != nil {
		b.Fatal(err)
	}
	hits := benchHits()
	ctx := context.Background()
	q := "Hi, I bought a lamp last week and my daughter doesn't like the colour. How long do I have to return it?"
	if _, err := m.Rerank(ctx, q, hits); err != nil { // warm the term cache
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := m.Rerank(ctx, q, hits); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkProductPageTurn40 is the reranking stage's worst turn: from a
// product page the shop's candidates and the product's are each reranked
// and judged by the answer head (40 candidates each); it reports the 99th
// percentile of the whole stage besides the mean.
func BenchmarkProductPageTurn40(b *testing.B) {
	m, err := Local()
	if err != nil {
		b.Fatal(err)
	}
	shop, own := benchHits(), benchHits()[:3]
	ctx := context.Background()
	q := "Hi, I bought a lamp last week and my daughter doesn't like the colour. How long do I have to return it?"
	stage := func() error {
		for _, hits := range [][]kefu.Hit{shop, own} {
			out, err := m.Rerank(ctx, q, hits)
			if err != nil {
				return err
			}
			if _, err := m.Answerable(ctx, q, out); err != nil {
				return err
			}
		}
		return nil
	}
	if err := stage(); err != nil { // warm the term cache
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := stage(); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
