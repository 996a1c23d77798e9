package qdrant

import (
	"context"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

// BenchmarkIngest1000 writes 1,000 chunks (100 documents of 10) to the fake
// and reports the write round trips each ingest took; the time measured is
// mostly the fake's and gRPC's, not Qdrant's.
//
//	go test ./vectordb/qdrant/ -run '^$' -bench Ingest1000
func BenchmarkIngest1000(b *testing.B) {
	s, srv := openFake(b, nil, Config{})
	for _, mode := range []struct {
		name string
		many bool
	}{{"ReplaceMany", true}, {"Replace", false}} {
		b.Run(mode.name, func(b *testing.B) {
			var trips int
			for b.Loop() {
				trips = len(ingest1000(b, s, srv, 100, mode.many))
			}
			b.ReportMetric(float64(trips), "round-trips/1000-chunks")
		})
	}
}

// BenchmarkSearch is one hybrid search (one QueryBatch round trip) over 1,000
// chunks in the fake.
func BenchmarkSearch(b *testing.B) {
	s, srv := openFake(b, nil, Config{})
	ingest1000(b, s, srv, 100, true)
	q := vectordbtest.Query("kettle returns paragraph 7", kefu.Filter{CustomerID: "C1"}, 10)
	ctx := context.Background()
	srv.Reset()
	for b.Loop() {
		if _, err := s.Search(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(srv.Calls("Points/QueryBatch"))/float64(b.N), "round-trips/op")
}
