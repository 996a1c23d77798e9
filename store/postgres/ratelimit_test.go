package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kefuhq/kefu/internal/pgtest"
)

// A bucket shared by several processes admits its burst once in all.
func TestTakeTokenShared(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ring := testRing(t)
	a, b := openOn(t, dsn, ring), openOn(t, dsn, ring)
	ctx := context.Background()
	const burst = 10
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			ok, wait, err := s.TakeToken(ctx, "shopper:C1001", 0.001, burst)
			if err != nil {
				t.Error(err)
			}
			if ok {
				admitted.Add(1)
			} else if wait <= 0 {
				t.Errorf("refused with wait %v", wait)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != burst {
		t.Errorf("%d of 40 admitted across two processes, want the burst of %d", n, burst)
	}
	// Another key has its own bucket.
	if ok, _, err := b.TakeToken(ctx, "shopper:C1002", 0.001, burst); !ok || err != nil {
		t.Errorf("another shopper: %v, %v", ok, err)
	}
	// Off when no rate is set.
	if ok, _, _ := a.TakeToken(ctx, "shopper:C1001", 0, 0); !ok {
		t.Error("a limit that is off refused")
	}
	if n, err := a.SweepRateBuckets(ctx); err != nil || n != 0 {
		t.Errorf("sweep of fresh buckets: %d, %v", n, err)
	}
}
