package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/internal/pgtest"
)

func TestPublishReachesOtherProcesses(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ring := testRing(t)
	a, b := openOn(t, dsn, ring), openOn(t, dsn, ring)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type note struct{ conv, msg string }
	got := map[string]chan note{"a": make(chan note, 8), "b": make(chan note, 8)}
	for name, s := range map[string]interface {
		ListenMessages(context.Context, func(string, string)) error
	}{"a": a, "b": b} {
		go s.ListenMessages(ctx, func(conv, msg string) { got[name] <- note{conv, msg} })
	}
	// LISTEN is in place shortly after; publish until b hears.
	deadline := time.After(10 * time.Second)
	for heard := false; !heard; {
		if err := a.PublishMessage(ctx, "c_CONV", "m_MSG"); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-got["b"]:
			if n.conv != "c_CONV" || n.msg != "m_MSG" {
				t.Fatalf("b heard %+v", n)
			}
			heard = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("b never heard a's message")
		}
	}
	select {
	case n := <-got["a"]:
		t.Errorf("a heard its own message %+v", n)
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.PublishMessage(ctx, "bad id", "m_MSG"); err == nil {
		t.Error("an id with a space was published")
	}
}

// At most one process runs an exclusive job; when it stops, another takes
// over.
func TestRunExclusive(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ring := testRing(t)
	stores := []interface {
		RunExclusive(context.Context, string, time.Duration, func(context.Context))
	}{openOn(t, dsn, ring), openOn(t, dsn, ring), openOn(t, dsn, ring)}
	var running, max, started atomic.Int32
	ran := make(chan int, 16)
	cancels := make([]context.CancelFunc, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Go(func() {
			s.RunExclusive(ctx, "test-job", 100*time.Millisecond, func(ctx context.Context) {
				n := running.Add(1)
				defer running.Add(-1)
				for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
				}
				started.Add(1)
				ran <- i
				<-ctx.Done()
			})
		})
	}
	first := waitRun(t, ran)
	time.Sleep(500 * time.Millisecond) // the others try meanwhile
	cancels[first]()
	second := waitRun(t, ran)
	if second == first {
		t.Errorf("the stopped process %d ran again", first)
	}
	for _, c := range cancels {
		c()
	}
	wg.Wait()
	if max.Load() != 1 {
		t.Errorf("%d jobs ran at once, want 1", max.Load())
	}
	if started.Load() != 2 {
		t.Errorf("the job started %d times, want 2", started.Load())
	}
}

func waitRun(t *testing.T, ran chan int) int {
	t.Helper()
	select {
	case i := <-ran:
		return i
	case <-time.After(10 * time.Second):
		t.Fatal("no process ran the job")
		return -1
	}
}
