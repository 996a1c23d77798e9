package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kefuhq/kefu"
)

// snapStore is a memStore that reads chunks back (a Snapshotter).
type snapStore struct{ *memStore }

func (s snapStore) DocumentChunks(ctx context.Context, id string) ([]kefu.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kefu.Chunk
	for _, c := range s.chunks[id] {
		c.Vector = slices.Clone(c.Vector)
		out = append(out, c)
	}
	return out, nil
}

// state is what a store holds, for comparing before and after.
type state struct {
	infos  []kefu.DocumentInfo
	chunks map[string][]kefu.Chunk
}

func stateOf(t *testing.T, s snapStore) state {
	t.Helper()
	infos, err := s.Documents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := state{infos: infos, chunks: map[string][]kefu.Chunk{}}
	for _, d := range infos {
		st.chunks[d.ID], _ = s.DocumentChunks(context.Background(), d.ID)
	}
	return st
}

// textGate fails while any stored chunk says bad, as a golden case that
// asks about the return window would.
func textGate(s snapStore, bad string, calls *atomic.Int32) GateFunc {
	return func(ctx context.Context) (GateReport, error) {
		calls.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cs := range s.chunks {
			for _, c := range cs {
				if strings.Contains(c.Text, bad) {
					return GateReport{Cases: 1, Broken: []string{"answer_includes_rate = 0, below the floor 1"},
						Failed: []CaseFailure{{ID: "ret-01", Reasons: []string{`answer lacks ["30 days"]`}}}}, nil
				}
			}
		}
		return GateReport{Cases: 1}, nil
	}
}

var shopFS = fstest.MapFS{
	"returns.md":  {Data: []byte("# Returns\n\n## Window\n\nYou can return most items within 30 days of delivery.\n")},
	"shipping.md": {Data: []byte("# Shipping\n\nOrders over 99 yuan ship free.\n")},
}

func gatedShop(t *testing.T) (snapStore, *Ingester, *atomic.Int32) {
	t.Helper()
	s := snapStore{newMemStore()}
	if _, err := New(s, &hashEmbedder{}, Options{}).IngestFS(context.Background(), shopFS, Options{}); err != nil {
		t.Fatal(err)
	}
	calls := new(atomic.Int32)
	return s, New(s, &hashEmbedder{}, Options{Gate: textGate(s, "365 days", calls)}), calls
}

func TestGateRollsBackAChangedDocument(t *testing.T) {
	s, in, calls := gatedShop(t)
	before := stateOf(t, s)
	planted := fstest.MapFS{
		"returns.md":  {Data: []byte("# Returns\n\n## Window\n\nReturns allowed for 365 days.\n\n## Refunds\n\nWithin 5 days.\n")},
		"shipping.md": shopFS["shipping.md"],
	}
	sum, err := in.IngestFS(context.Background(), planted, Options{})
	if !errors.Is(err, ErrGateFailed) {
		t.Fatalf("IngestFS = %v, want ErrGateFailed", err)
	}
	g := sum.Gate
	// Checked with the change, and once more without it.
	if g == nil || g.Passed || !g.Checked || g.RolledBack != 1 || sum.Documents != 1 || calls.Load() != 2 {
		t.Fatalf("summary %+v, gate %+v, %d checks", sum, g, calls.Load())
	}
	if len(g.Failed) != 1 || g.Failed[0].ID != "ret-01" || len(g.Broken) != 1 || !slices.Equal(g.Broke, []string{"ret-01"}) || g.FailsWithout {
		t.Errorf("gate report %+v", g)
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("after the rollback the store holds\n%+v\nwant\n%+v", after, before)
	}
	text := sum.String()
	for _, want := range []string{"gate:      FAILED", "answer_includes_rate", "failed cases: 1, 1 of them broken by this change", "ret-01 (broken by this change): answer lacks", "rolled back 1 documents"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary text lacks %q:\n%s", want, text)
		}
	}
}

func TestGateDeletesAFailingNewDocument(t *testing.T) {
	s, in, _ := gatedShop(t)
	before := stateOf(t, s)
	sum, err := in.IngestFS(context.Background(), fstest.MapFS{"returns-2027.md": {Data: []byte("# Returns\n\nReturns allowed for 365 days.\n")}}, Options{})
	if !errors.Is(err, ErrGateFailed) || sum.Gate.RolledBack != 1 {
		t.Fatalf("IngestFS = %v, %+v", err, sum.Gate)
	}
	if _, _, ok := s.doc("returns-2027.md"); ok {
		t.Error("the new document is still stored")
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed: %+v", after.infos)
	}
}

func TestGateKeepsAPassingChange(t *testing.T) {
	s, in, calls := gatedShop(t)
	changed := fstest.MapFS{"returns.md": {Data: []byte("# Returns\n\n## Window\n\nYou can return most items within 30 days of delivery, free of charge.\n")}}
	sum, err := in.IngestFS(context.Background(), changed, Options{})
	if err != nil || sum.Gate == nil || !sum.Gate.Passed || !sum.Gate.Checked || sum.Gate.RolledBack != 0 || calls.Load() != 1 {
		t.Fatalf("IngestFS = %v, %+v", err, sum.Gate)
	}
	if _, cs, _ := s.doc("returns.md"); !strings.Contains(cs[0].Text+cs[len(cs)-1].Text, "free of charge") {
		t.Errorf("the change was not kept: %+v", cs)
	}
	if !strings.Contains(sum.String(), "gate:      passed (1 cases") {
		t.Errorf("summary text:\n%s", sum)
	}

	// The same files again change nothing, so nothing is checked.
	sum, err = in.IngestFS(context.Background(), changed, Options{})
	if err != nil || sum.Gate.Checked || !sum.Gate.Passed || calls.Load() != 1 {
		t.Fatalf("unchanged upload: %v, %+v, %d checks", err, sum.Gate, calls.Load())
	}
}

func TestGateRollsBackPrunedDocuments(t *testing.T) {
	dir := t.TempDir()
	for name, f := range shopFS {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := snapStore{newMemStore()}
	if _, err := New(s, &hashEmbedder{}, Options{}).Run(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, s)
	// Shipping goes (pruned) and returns says 365 days: both come back.
	os.Remove(filepath.Join(dir, "shipping.md"))
	edit(t, filepath.Join(dir, "returns.md"), "within 30 days of delivery", "for 365 days")
	calls := new(atomic.Int32)
	sum, err := New(s, &hashEmbedder{}, Options{Prune: true, Gate: textGate(s, "365 days", calls)}).Run(context.Background(), dir)
	if !errors.Is(err, ErrGateFailed) || sum.Pruned != 1 || sum.Gate.RolledBack != 2 {
		t.Fatalf("Run = %v, %+v, gate %+v", err, sum, sum.Gate)
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("after the rollback %+v, want %+v", after.infos, before.infos)
	}
}

func TestGateTimeoutRollsBack(t *testing.T) {
	s, _, _ := gatedShop(t)
	before := stateOf(t, s)
	slow := GateFunc(func(ctx context.Context) (GateReport, error) {
		<-ctx.Done()
		return GateReport{}, ctx.Err()
	})
	in := New(s, &hashEmbedder{}, Options{Gate: slow, GateTimeout: 20 * time.Millisecond})
	sum, err := in.IngestFS(context.Background(), fstest.MapFS{"returns.md": {Data: []byte("# Returns\n\nWithin 30 days, even opened.\n")}}, Options{})
	if !errors.Is(err, ErrGateFailed) {
		t.Fatalf("IngestFS = %v, want ErrGateFailed", err)
	}
	if g := sum.Gate; g.Passed || len(g.Broken) != 1 || !strings.Contains(g.Broken[0], "did not finish within 20ms") || g.RolledBack != 1 || g.Broke != nil {
		t.Errorf("gate %+v", g)
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed: %+v", after.infos)
	}
}

// A run cancelled during the check, or whose gate cannot run, is rolled
// back too, even though its context has ended.
func TestGateErrorRollsBack(t *testing.T) {
	s, _, _ := gatedShop(t)
	before := stateOf(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancelling := GateFunc(func(context.Context) (GateReport, error) {
		cancel()
		return GateReport{}, context.Canceled
	})
	_, err := New(s, &hashEmbedder{}, Options{Gate: cancelling}).IngestFS(ctx, fstest.MapFS{"new.md": {Data: []byte("# New\n\nSomething new.\n")}}, Options{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrGateFailed) {
		t.Fatalf("IngestFS = %v, want the cancellation", err)
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed: %+v", after.infos)
	}

	// A store that fails part-way: what was written goes back.
	n := 0
	s.ReplaceFn = func(doc kefu.Document, chunks []kefu.Chunk) error {
		if n++; n == 2 {
			return errors.New("disk full")
		}
		return nil
	}
	calls := new(atomic.Int32)
	two := fstest.MapFS{"a.md": {Data: []byte("# A\n\nAlpha.\n")}, "b.md": {Data: []byte("# B\n\nBeta.\n")}}
	_, err = New(s, &hashEmbedder{}, Options{Gate: textGate(s, "365 days", calls)}).IngestFS(context.Background(), two, Options{})
	s.ReplaceFn = nil
	if err == nil || !strings.Contains(err.Error(), "disk full") || calls.Load() != 0 {
		t.Fatalf("IngestFS = %v after %d checks", err, calls.Load())
	}
	if after := stateOf(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed: %+v", after.infos)
	}
}

func TestGateNeedsASnapshotter(t *testing.T) {
	in := New(newMemStore(), &hashEmbedder{}, Options{Gate: GateFunc(func(context.Context) (GateReport, error) { return GateReport{}, nil })})
	if _, err := in.IngestFS(context.Background(), shopFS, Options{}); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Fatalf("IngestFS on a store without DocumentChunks = %v, want an invalid error", err)
	}
}

// Gated uploads run one at a time: a second waits for the first's check
// and rollback, so neither sees the other's documents, and a deletion
// waits too.
func TestGatedRunsAreSerial(t *testing.T) {
	s := snapStore{newMemStore()}
	var inCheck, most atomic.Int32
	gate := GateFunc(func(ctx context.Context) (GateReport, error) {
		n := inCheck.Add(1)
		defer inCheck.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		return GateReport{Cases: 1}, nil
	})
	in := New(s, &hashEmbedder{}, Options{Gate: gate})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a'+i)) + ".md"
			if _, err := in.IngestFS(context.Background(), fstest.MapFS{name: {Data: []byte("# " + name + "\n\nText " + name + ".\n")}}, Options{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || len(s.ids()) != 4 {
		t.Errorf("%d checks at once, %d documents", most.Load(), len(s.ids()))
	}
	if err := in.DeleteDocument(context.Background(), "a.md"); err != nil {
		t.Fatal(err)
	}
}

// A gate that fails without the change too says so, and names no case as
// broken by the change.
func TestGateFailingBeforeTheChange(t *testing.T) {
	s, _, _ := gatedShop(t)
	always := GateFunc(func(context.Context) (GateReport, error) {
		return GateReport{Cases: 2, Broken: []string{"hit_at_5 = 0.5, below the floor 0.9"}, Failed: []CaseFailure{{ID: "old-1", Reasons: []string{"no relevant chunk in top 10"}}}}, nil
	})
	sum, err := New(s, &hashEmbedder{}, Options{Gate: always}).IngestFS(context.Background(), fstest.MapFS{"new.md": {Data: []byte("# New\n\nSomething new.\n")}}, Options{})
	if !errors.Is(err, ErrGateFailed) {
		t.Fatalf("IngestFS = %v", err)
	}
	if g := sum.Gate; g.Broke == nil || len(g.Broke) != 0 || !g.FailsWithout || !strings.Contains(sum.String(), "the gate fails without this change too") {
		t.Errorf("gate %+v\n%s", g, sum)
	}
}
