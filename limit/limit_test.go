package limit

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBucketsBurstThenRefuseThenRefill(t *testing.T) {
	b := NewBuckets(1, 3, 0)
	for i := range 3 {
		if ok, _ := b.Take("a", t0); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	ok, wait := b.Take("a", t0)
	if ok || wait < time.Second {
		t.Fatalf("fourth take: ok=%v wait=%s, want refused with a wait of 1s or more", ok, wait)
	}
	if blocked, _ := b.Blocked("a", t0); !blocked {
		t.Error("Blocked says an empty bucket is not")
	}
	if ok, _ := b.Take("b", t0); !ok {
		t.Error("another key shares the first key's bucket")
	}
	if ok, _ := b.Take("a", t0.Add(1100*time.Millisecond)); !ok {
		t.Error("a token did not come back after a second")
	}
}

func TestBucketsOff(t *testing.T) {
	b := NewBuckets(0, 1, 0)
	for range 100 {
		if ok, _ := b.Take("a", t0); !ok {
			t.Fatal("a zero rate limits")
		}
	}
	var nilBuckets *Buckets
	if ok, _ := nilBuckets.Take("a", t0); !ok {
		t.Fatal("nil buckets limit")
	}
}

// An attacker with many addresses cannot grow the table past its bound,
// and the keys that arrive while it is full share one limited bucket.
func TestBucketsStayBounded(t *testing.T) {
	b := NewBuckets(1, 2, 100)
	for i := range 10_000 {
		b.Take(fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0)
	}
	if n := b.Len(); n > 101 {
		t.Fatalf("%d buckets held, bound is 100 (+1 overflow)", n)
	}
	refused := 0
	for i := range 50 {
		if ok, _ := b.Take(fmt.Sprintf("new-%d", i), t0); !ok {
			refused++
		}
	}
	if refused < 45 {
		t.Errorf("only %d of 50 new keys were refused while the table was full; the overflow bucket should limit them", refused)
	}
	// Once the buckets are idle long enough to be full again they go, and
	// new keys get buckets of their own.
	later := t0.Add(time.Minute)
	if ok, _ := b.Take("fresh", later); !ok {
		t.Fatal("a fresh key after the idle period was refused")
	}
	if n := b.Len(); n > 2 {
		t.Errorf("%d buckets held after the idle ones were swept, want 1 or 2", n)
	}
}

func TestSlots(t *testing.T) {
	s := NewSlots(2)
	r1, ok1 := s.Acquire("k")
	r2, ok2 := s.Acquire("k")
	_, ok3 := s.Acquire("k")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := s.Acquire("other"); !ok {
		t.Error("another key shares the cap")
	}
	r1()
	r1() // a second release gives nothing back twice
	if s.Open("k") != 1 {
		t.Fatalf("open = %d after one release, want 1", s.Open("k"))
	}
	if _, ok := s.Acquire("k"); !ok {
		t.Error("a released slot was not reusable")
	}
	r2()
	if unlimited, ok := NewSlots(0).Acquire("k"); !ok || unlimited == nil {
		t.Error("a zero cap refuses")
	}
}
