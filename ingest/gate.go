package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kefuhq/kefu"
)

// Snapshotter is a Store that can read a document's stored chunks back,
// vectors included, so that a change can be taken back: a gated run
// (Options.Gate) keeps each document it is about to replace or delete and
// writes it back when the gate fails. Chunks come in ordinal order; a
// document that is not stored has none (not an error).
type Snapshotter interface {
	DocumentChunks(ctx context.Context, docID string) ([]kefu.Chunk, error)
}

// Gate decides whether a change to the shop's knowledge may stay. Check
// runs after the change's documents are written, against the store as they
// left it (a golden set run through the answering pipeline, in kefu), and
// reports the thresholds broken; a report with none passes. When it
// fails, the change is taken back and Check runs once more, on the store
// without the change, to tell the cases the change broke from those that
// fail anyway. Its error is for a check that could not run; when ctx ends,
// Check should return soon.
type Gate interface {
	Check(ctx context.Context) (GateReport, error)
}

// GateFunc adapts a function to Gate.
type GateFunc func(ctx context.Context) (GateReport, error)

// Check calls f.
func (f GateFunc) Check(ctx context.Context) (GateReport, error) { return f(ctx) }

var _ Gate = GateFunc(nil)

// GateReport is a gate's verdict on one change. A Gate fills Cases, Broken
// and Failed; the run fills the rest.
type GateReport struct {
	// Passed is true when no threshold was broken: the change stays.
	Passed bool `json:"passed"`
	// Checked is false when the run changed nothing, so nothing was checked.
	Checked bool `json:"checked"`
	// Cases is the number of golden cases run.
	Cases int `json:"cases"`
	// Broken lists the thresholds broken, one line each ("answer_includes_rate
	// = 0.9, below the floor 1"), or why the check did not finish.
	Broken []string `json:"broken"`
	// Failed lists the cases that failed, each with every reason.
	Failed []CaseFailure `json:"failed"`
	// Broke lists the failed cases that pass once the change is taken
	// back: the cases the change broke. After a rollback the gate runs
	// again on the restored store to tell them apart; Broke is null when
	// that run did not finish, or the gate did not fail on thresholds.
	Broke []string `json:"broke"`
	// FailsWithout is true when the store without the change breaks the
	// gate too: the failure is not the change's alone.
	FailsWithout bool `json:"fails_without_change,omitempty"`
	// RolledBack is the number of documents put back as they were (or
	// deleted, when the change added them) after the gate failed.
	RolledBack int `json:"rolled_back"`
	// Elapsed is the time the check took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// CaseFailure is a golden case that failed, with every reason.
type CaseFailure struct {
	ID      string   `json:"id"`
	Reasons []string `json:"reasons"`
}

// String renders the verdict for people: the broken thresholds, then the
// failed cases, then what was rolled back.
func (g GateReport) String() string {
	var b strings.Builder
	switch {
	case !g.Checked:
		b.WriteString("gate:      not checked (nothing changed)\n")
		return b.String()
	case g.Passed:
		fmt.Fprintf(&b, "gate:      passed (%d cases, %s)\n", g.Cases, g.Elapsed.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "gate:      FAILED (%d cases, %s)\n", g.Cases, g.Elapsed.Round(time.Millisecond))
		for _, line := range g.Broken {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	if len(g.Failed) > 0 {
		fmt.Fprintf(&b, "failed cases: %d", len(g.Failed))
		if g.Broke != nil {
			fmt.Fprintf(&b, ", %d of them broken by this change", len(g.Broke))
		}
		b.WriteByte('\n')
		for _, f := range g.Failed {
			mark := ""
			if slices.Contains(g.Broke, f.ID) {
				mark = " (broken by this change)"
			}
			fmt.Fprintf(&b, "  %s%s: %s\n", f.ID, mark, strings.Join(f.Reasons, "; "))
		}
	}
	if !g.Passed {
		fmt.Fprintf(&b, "rolled back %d documents\n", g.RolledBack)
	}
	if g.FailsWithout {
		b.WriteString("the gate fails without this change too\n")
	}
	return b.String()
}

// Errors of a gated run that callers tell apart.
var (
	// ErrGateFailed is returned (wrapped) by a gated run whose change
	// broke the gate; Summary.Gate says what broke and how many documents
	// were rolled back.
	ErrGateFailed = errors.New("the change broke the gate and was rolled back")
	// ErrRollbackFailed is in the chain of a gated run's error when some
	// documents could not be put back: they are left as the run wrote
	// them, and the error (a kefu.EUnavailable) names them.
	ErrRollbackFailed = errors.New("the change could not be taken back")
)

// Bounds of a gated run.
const (
	// DefaultGateTimeout bounds a gate's check when Options.GateTimeout is
	// zero. A check that runs out of time fails the gate.
	DefaultGateTimeout = 2 * time.Minute
	// MaxUndoChunks bounds the stored chunks a gated run keeps to take its
	// change back (their vectors are held in memory): a change that
	// replaces or deletes more fails before it writes them.
	MaxUndoChunks = 200_000
	// rollbackTimeout bounds writing a change back, which goes on after
	// the run's context has ended (a client that left, an interrupt).
	rollbackTimeout = 5 * time.Minute
)

func (in *Ingester) gateTimeout() time.Duration {
	if in.opts.GateTimeout > 0 {
		return in.opts.GateTimeout
	}
	return DefaultGateTimeout
}

// gated runs the ingest with Options.Gate: it writes through a recorder
// that keeps each document as it was before its first write, runs the gate,
// and when the gate fails, or cannot run, or the ingest fails part-way,
// puts every changed document back. Gated runs of one Ingester (and of the
// ones IngestFS derives from it) run one at a time, from the first write to
// the end of the rollback.
func (in *Ingester) gated(ctx context.Context, fsys fs.FS, targets []target) (Summary, error) {
	empty := Summary{Failed: []FileError{}, Skipped: []FileError{}}
	snap, ok := in.store.(Snapshotter)
	if !ok {
		return empty, kefu.Errorf(kefu.EInvalid, "the knowledge store cannot read documents back, so a gated change could not be taken back")
	}
	if err := in.lock(ctx); err != nil {
		return empty, fmt.Errorf("ingest: %w", err)
	}
	defer in.unlock()
	rec, err := newRecorder(ctx, in.store, snap)
	if err != nil {
		return empty, err
	}
	o := in.opts
	o.Gate = nil
	sum, err := New(rec, in.emb, o).run(ctx, fsys, targets)
	if err != nil {
		if _, rerr := rec.rollback(ctx); rerr != nil {
			return sum, errors.Join(err, rerr)
		}
		return sum, err
	}
	report := GateReport{Broken: []string{}, Failed: []CaseFailure{}}
	if rec.changed() == 0 {
		report.Passed = true
		sum.Gate = &report
		return sum, nil
	}
	report.Checked = true
	thresholds := false // the check finished, so its thresholds decide
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, in.gateTimeout())
	got, err := in.opts.Gate.Check(cctx)
	cancel()
	report.Elapsed = time.Since(start)
	switch {
	case err == nil:
		thresholds = true
		report.Cases, report.Failed = got.Cases, got.Failed
		report.Broken = append(report.Broken, got.Broken...)
		if report.Failed == nil {
			report.Failed = []CaseFailure{}
		}
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		report.Broken = append(report.Broken, fmt.Sprintf("the check did not finish within %s", in.gateTimeout()))
	default:
		// The run was cancelled or the check could not run: nothing vouches
		// for the change, so it goes.
		_, rerr := rec.rollback(ctx)
		return sum, errors.Join(fmt.Errorf("ingest: gate: %w", err), rerr)
	}
	report.Passed = len(report.Broken) == 0
	sum.Gate = &report
	if report.Passed {
		return sum, nil
	}
	n, err := rec.rollback(ctx)
	report.RolledBack = n
	if err != nil {
		return sum, errors.Join(ErrGateFailed, err)
	}
	if thresholds {
		in.compareWithout(ctx, &report)
	}
	return sum, fmt.Errorf("ingest: %w", ErrGateFailed)
}

// compareWithout runs the gate again, on the store as the rollback left
// it, to tell the cases the change broke from those that fail without it
// (report.Broke, report.FailsWithout). A run that does not finish within
// the gate's timeout leaves them unknown.
func (in *Ingester) compareWithout(ctx context.Context, report *GateReport) {
	cctx, cancel := context.WithTimeout(ctx, in.gateTimeout())
	defer cancel()
	base, err := in.opts.Gate.Check(cctx)
	if err != nil {
		return
	}
	before := map[string]bool{}
	for _, f := range base.Failed {
		before[f.ID] = true
	}
	report.Broke = []string{}
	for _, f := range report.Failed {
		if !before[f.ID] {
			report.Broke = append(report.Broke, f.ID)
		}
	}
	report.FailsWithout = len(base.Broken) > 0
}

// lock waits for the Ingester's gated runs to be one at a time, or for
// ctx to end.
func (in *Ingester) lock(ctx context.Context) error {
	select {
	case in.serial <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (in *Ingester) unlock() { <-in.serial }

// recorder is a Store that, before each document's first write (replace
// or delete), keeps the document as stored: its info and its chunks with
// their vectors. rollback writes them back.
type recorder struct {
	store Store
	snap  Snapshotter
	batch BatchStore // nil when the store has none

	mu     sync.Mutex
	before map[string]kefu.DocumentInfo // the store's documents when the run began
	kept   map[string]kept
	order  []string // ids in order of first write
	chunks int      // chunks kept, bounded by MaxUndoChunks
}

// kept is one document as it was before the run wrote it.
type kept struct {
	existed bool
	info    kefu.DocumentInfo
	chunks  []kefu.Chunk
}

func newRecorder(ctx context.Context, store Store, snap Snapshotter) (*recorder, error) {
	infos, err := store.Documents(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: list documents: %w", err)
	}
	r := &recorder{store: store, snap: snap, before: make(map[string]kefu.DocumentInfo, len(infos)), kept: map[string]kept{}}
	r.batch, _ = store.(BatchStore)
	for _, d := range infos {
		r.before[d.ID] = d
	}
	return r, nil
}

var (
	_ Store      = (*recorder)(nil)
	_ BatchStore = (*recorder)(nil)
)

func (r *recorder) Documents(ctx context.Context) ([]kefu.DocumentInfo, error) {
	return r.store.Documents(ctx)
}

func (r *recorder) Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error {
	if err := r.keep(ctx, doc.ID); err != nil {
		return err
	}
	return r.store.Replace(ctx, doc, chunks)
}

func (r *recorder) ReplaceMany(ctx context.Context, rs []kefu.Replacement) error {
	for _, x := range rs {
		if err := r.keep(ctx, x.Doc.ID); err != nil {
			return err
		}
	}
	if r.batch == nil {
		for _, x := range rs {
			if err := r.store.Replace(ctx, x.Doc, x.Chunks); err != nil {
				return err
			}
		}
		return nil
	}
	return r.batch.ReplaceMany(ctx, rs)
}

func (r *recorder) Delete(ctx context.Context, docID string) error {
	if err := r.keep(ctx, docID); err != nil {
		return err
	}
	return r.store.Delete(ctx, docID)
}

// keep records document id as stored, once.
func (r *recorder) keep(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.kept[id]; ok {
		return nil
	}
	info, existed := r.before[id]
	k := kept{existed: existed, info: info}
	if existed {
		chunks, err := r.snap.DocumentChunks(ctx, id)
		if err != nil {
			return fmt.Errorf("ingest: keep %s to take the change back: %w", id, err)
		}
		if r.chunks+len(chunks) > MaxUndoChunks {
			return kefu.Errorf(kefu.ETooLarge, "a gated change may replace or delete at most %d stored chunks; ingest in smaller parts", MaxUndoChunks)
		}
		r.chunks += len(chunks)
		k.chunks = chunks
	}
	r.kept[id] = k
	r.order = append(r.order, id)
	return nil
}

// changed returns how many documents the run wrote or deleted.
func (r *recorder) changed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// rollback puts every document the run wrote back as it was: a document
// that existed gets its old chunks and info again, one the run added is
// deleted. It goes on when ctx has ended (within rollbackTimeout of its
// own), tries every document, and returns how many it restored and an
// error naming those it could not.
func (r *recorder) rollback(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		restore []kefu.Replacement
		done    int
		failed  []string
		errs    []error
	)
	for _, id := range slices.Backward(r.order) {
		k := r.kept[id]
		if !k.existed {
			if err := r.store.Delete(ctx, id); err != nil {
				failed, errs = append(failed, id), append(errs, err)
				continue
			}
			done++
			continue
		}
		restore = append(restore, kefu.Replacement{Doc: documentOf(k.info, k.chunks), Chunks: k.chunks})
	}
	for len(restore) > 0 {
		n := 1
		if r.batch != nil {
			n = min(writeBatch, len(restore))
		}
		part := restore[:n]
		restore = restore[n:]
		var err error
		if r.batch != nil && n > 1 {
			err = r.batch.ReplaceMany(ctx, part)
		} else {
			err = r.store.Replace(ctx, part[0].Doc, part[0].Chunks)
		}
		if err != nil {
			for _, x := range part {
				failed = append(failed, x.Doc.ID)
			}
			errs = append(errs, err)
			continue
		}
		done += n
	}
	if len(failed) > 0 {
		return done, kefu.WrapError(kefu.EUnavailable,
			fmt.Sprintf("ingest: could not take the change back: %d documents are left as changed (%s); ingest the previous files again", len(failed), clipList(failed, 5)),
			errors.Join(append([]error{ErrRollbackFailed}, errs...)...))
	}
	return done, nil
}

// documentOf rebuilds the document a store's info and chunks came from, as
// far as Replace reads it: the id, type, source and hash it keeps, and the
// owner its chunks carry.
func documentOf(info kefu.DocumentInfo, chunks []kefu.Chunk) kefu.Document {
	doc := kefu.Document{ID: info.ID, Type: info.Type, Source: info.Source, Hash: info.Hash}
	if len(chunks) > 0 {
		c := chunks[0]
		doc.CustomerID, doc.Title, doc.Locale = c.CustomerID, c.Title, c.Locale
	}
	return doc
}

// clipList joins the first n ids, saying how many more there are.
func clipList(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}
