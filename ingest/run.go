package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

// run is the state of one Ingester.Run.
type run struct {
	in   *Ingester
	ctx  context.Context
	fsys fs.FS
	sum  Summary

	chunker  *chunker
	existing map[string]kefu.DocumentInfo
	// seen maps each document id produced in this run to where it came from,
	// to catch duplicate record ids and to know what not to prune.
	seen map[string]string
	// failed holds the sources that reported a failure in this run.
	failed map[string]bool
	// states holds what earlier runs made of each file, when the store
	// keeps it; made what this run makes of the files it reads, and cur
	// the one being read (nil when none is recorded).
	states map[string]FileState
	made   map[string]*FileState
	cur    *FileState

	// pending documents wait for their chunks' vectors; queue lists those
	// chunks in order, so that each Embed call gets a full batch.
	pending []*pendingDoc
	queue   []chunkRef

	// Batches being embedded: at most Options.Concurrency at once, each
	// in its own goroutine, which sends its result to done (buffered, so
	// a send never blocks). Only the run's goroutine touches documents and
	// the store; it applies results as they come and writes documents in
	// the order they were loaded.
	embedCtx context.Context
	stop     context.CancelFunc
	inflight int
	done     chan batchResult
	w        *writer
	files    int    // files found, for progress
	file     string // the last file read, for progress
}

// batchResult is one embedded batch: its chunks and their vectors, or why
// it failed.
type batchResult struct {
	refs []chunkRef
	vecs [][]float32
	err  error
}

type pendingDoc struct {
	doc    kefu.Document
	chunks []kefu.Chunk
	left   int // chunks still without a vector
}

type chunkRef struct {
	doc *pendingDoc
	i   int
}

func (r *run) run(targets []target) error {
	if err := r.in.check(); err != nil {
		return err
	}
	if len(targets) == 0 {
		return kefu.Errorf(kefu.EInvalid, "no paths to ingest")
	}
	r.chunker = &chunker{max: r.in.maxTokens()} // its tokenizer loads when a document needs chunking
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	infos, err := r.in.store.Documents(r.ctx)
	if err != nil {
		return fmt.Errorf("ingest: list documents: %w", err)
	}
	r.existing = make(map[string]kefu.DocumentInfo, len(infos))
	for _, d := range infos {
		r.existing[d.ID] = d
	}
	r.seen = map[string]string{}
	r.failed = map[string]bool{}
	r.made = map[string]*FileState{}
	if fs, ok := r.in.store.(FileStateStore); ok {
		if r.states, err = loadStates(r.ctx, fs); err != nil {
			return fmt.Errorf("ingest: read file states: %w", err)
		}
	}
	r.embedCtx, r.stop = context.WithCancel(r.ctx)
	r.done = make(chan batchResult, r.in.concurrency())
	r.w = startWriter(r.ctx, r.in.store)
	defer r.abandon()

	files, roots, fails := collect(r.fsys, targets)
	r.files = len(files)
	for _, f := range fails {
		r.fail(f.source, f.err)
	}
	for _, f := range files {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		r.sum.Files++
		if r.skipUnchanged(f) {
			r.file = f.path
			r.progress(false)
			continue
		}
		if err := r.load(f); err != nil {
			return err
		}
		r.file = f.path
		r.progress(false)
	}
	if err := r.flush(true); err != nil {
		return err
	}
	if err := r.w.close(); err != nil {
		return err
	}
	if err := r.saveStates(); err != nil {
		return fmt.Errorf("ingest: store file states: %w", err)
	}
	if r.in.opts.Prune {
		if err := r.prune(infos, roots); err != nil {
			return err
		}
	}
	r.progress(true)
	return nil
}

// load reads one file within the file time limit: a file that runs out
// of it fails (what it yielded before stays), and the run goes on.
func (r *run) load(f file) error {
	limit := r.in.opts.Limits.withDefaults().FileTimeout
	ctx, cancel := context.WithTimeout(r.ctx, limit)
	defer cancel()
	s := &fileSink{r: r, f: f}
	err := r.in.loadTo(ctx, r.fsys, f, s)
	if r.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && (err == nil || errors.Is(err, context.DeadlineExceeded)) {
		s.fail(0, 0, tooSlow(limit))
		return nil
	}
	return err
}

// progress reports the run so far to Options.Progress.
func (r *run) progress(done bool) {
	if r.in.opts.Progress == nil {
		return
	}
	docs, chunks := r.w.written()
	r.in.opts.Progress(Progress{
		Files:      r.sum.Files,
		FilesTotal: r.files,
		Documents:  docs,
		Chunks:     chunks,
		Unchanged:  r.sum.Unchanged,
		Failed:     len(r.sum.Failed),
		File:       r.file,
		Done:       done,
	})
}

// abandon stops the batches still being embedded, when the run ends early,
// and waits for their goroutines and for the writer, whose counts it puts
// in the summary.
func (r *run) abandon() {
	if r.stop == nil {
		return
	}
	r.stop()
	for ; r.inflight > 0; r.inflight-- {
		<-r.done
	}
	r.w.close()
	r.sum.Documents, r.sum.Chunks = r.w.written()
}

// fail records a failure of the file, or of one of its records.
func (r *run) fail(source string, e FileError) {
	r.failed[source] = true
	r.sum.Failed = append(r.sum.Failed, e)
	if r.cur != nil {
		r.cur.Failed = append(r.cur.Failed, e)
	}
}

// add takes one loaded document: skips it when unchanged, else chunks it
// and queues it for embedding. where names its origin for duplicate
// reports. The returned error stops the run.
func (r *run) add(u unit, where string) (string, error) {
	doc := u.doc
	if first, dup := r.seen[doc.ID]; dup {
		return fmt.Sprintf("duplicate document id %q (first at %s)", doc.ID, first), nil
	}
	if doc.Type == kefu.TypeOrder && doc.CustomerID == "" {
		return "order has no customer id; orders are private, so each needs the customer it belongs to", nil
	}
	if strings.TrimSpace(doc.Text) == "" {
		return "no text", nil
	}
	r.seen[doc.ID] = where
	doc.Hash = hashDocument(&doc, r.chunker.version())
	if old, ok := r.existing[doc.ID]; ok && old.Hash == doc.Hash && old.Chunks > 0 {
		r.sum.Unchanged++
		r.madeDoc(&doc)
		return "", nil
	}
	lim := r.in.opts.Limits.withDefaults()
	if utf8.RuneCountInString(doc.Text) > lim.MaxChars {
		return tooManyChars(lim.MaxChars), nil
	}
	if err := r.chunker.ready(); err != nil {
		return "", fmt.Errorf("ingest: %w", err)
	}
	chunks := r.chunker.chunks(&doc, u.sections)
	if len(chunks) == 0 {
		return "no text", nil
	}
	if len(chunks) > lim.MaxChunks {
		return tooManyChunks(len(chunks), lim.MaxChunks), nil
	}
	if doc.Type == kefu.TypeOrder {
		// The day this copy was taken, which an answer names when the live
		// order system fails and the copy stands in ("as of ...").
		day := time.Now().UTC().Format("2006-01-02")
		for i := range chunks {
			if chunks[i].Meta == nil {
				chunks[i].Meta = map[string]string{}
			}
			chunks[i].Meta[kefu.MetaIngestedAt] = day
		}
	}
	r.madeDoc(&doc)
	p := &pendingDoc{doc: doc, chunks: chunks, left: len(chunks)}
	r.pending = append(r.pending, p)
	for i := range chunks {
		r.queue = append(r.queue, chunkRef{p, i})
	}
	return "", r.flush(false)
}

// flush sends queued chunks to the embedder in full batches (and the
// remainder when final), applying the batches done meanwhile; when final,
// it waits for every batch and writes every document.
func (r *run) flush(final bool) error {
	batch := r.in.batchSize()
	for len(r.queue) >= batch || (final && len(r.queue) > 0) {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		// A free slot first: wait for a batch when all are busy.
		for r.inflight >= r.in.concurrency() {
			if err := r.apply(<-r.done); err != nil {
				return err
			}
		}
		n := min(batch, len(r.queue))
		refs := r.queue[:n:n]
		r.queue = r.queue[n:]
		texts := make([]string, n)
		for i, ref := range refs {
			texts[i] = embedText(&ref.doc.chunks[ref.i])
		}
		r.inflight++
		go func() {
			vecs, err := r.in.embed(r.embedCtx, texts)
			r.done <- batchResult{refs: refs, vecs: vecs, err: err}
		}()
	}
	// Apply what is done without waiting, or everything when final.
	for r.inflight > 0 {
		var res batchResult
		if final {
			res = <-r.done
		} else {
			select {
			case res = <-r.done:
			default:
				return nil
			}
		}
		if err := r.apply(res); err != nil {
			return err
		}
	}
	return nil
}

// apply takes one embedded batch: its vectors go to their chunks, and the
// documents now complete are written.
func (r *run) apply(res batchResult) error {
	r.inflight--
	if res.err != nil {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		return fmt.Errorf("ingest: embed %d chunks of %s: %w", len(res.refs), res.refs[0].doc.doc.ID, res.err)
	}
	for i, ref := range res.refs {
		ref.doc.chunks[ref.i].Vector = res.vecs[i]
		ref.doc.left--
	}
	if err := r.write(); err != nil {
		return err
	}
	r.progress(false)
	return nil
}

// write hands the pending documents whose chunks are all embedded to the
// writer, in order.
func (r *run) write() error {
	for len(r.pending) > 0 && r.pending[0].left == 0 {
		if err := r.w.failed(); err != nil {
			return err
		}
		p := r.pending[0]
		select {
		case r.w.docs <- p:
		case <-r.ctx.Done():
			return fmt.Errorf("ingest: %w", r.ctx.Err())
		}
		r.pending[0] = nil
		r.pending = r.pending[1:]
	}
	return nil
}

// writer stores documents in its own goroutine, in the order received, so
// that storing overlaps loading, chunking and embedding. With a BatchStore
// it writes the documents waiting at that moment together (up to
// writeBatch), one write instead of one per document. After its first
// failure it stores nothing more.
type writer struct {
	docs chan *pendingDoc
	done chan struct{}

	mu     sync.Mutex
	n      int // documents stored
	chunks int // their chunks
	err    error
}

// writeBuffer is how many documents may wait for the writer; writeBatch how
// many it writes at once.
const (
	writeBuffer = 64
	writeBatch  = 64
)

func startWriter(ctx context.Context, store Store) *writer {
	w := &writer{docs: make(chan *pendingDoc, writeBuffer), done: make(chan struct{})}
	batcher, _ := store.(BatchStore)
	go func() {
		defer close(w.done)
		for p := range w.docs {
			batch := []*pendingDoc{p}
			if batcher != nil {
				batch = w.waiting(batch)
			}
			if w.failed() != nil {
				continue // drain
			}
			err := w.write(ctx, store, batcher, batch)
			w.mu.Lock()
			if err != nil {
				w.err = err
			} else {
				for _, q := range batch {
					w.n++
					w.chunks += len(q.chunks)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// waiting adds to batch the documents already waiting, up to writeBatch.
func (w *writer) waiting(batch []*pendingDoc) []*pendingDoc {
	for len(batch) < writeBatch {
		select {
		case q, ok := <-w.docs:
			if !ok {
				return batch
			}
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

func (w *writer) write(ctx context.Context, store Store, batcher BatchStore, batch []*pendingDoc) error {
	if batcher == nil || len(batch) == 1 {
		for _, p := range batch {
			if err := store.Replace(ctx, p.doc, p.chunks); err != nil {
				return fmt.Errorf("ingest: replace %s: %w", p.doc.ID, err)
			}
		}
		return nil
	}
	rs := make([]kefu.Replacement, len(batch))
	for i, p := range batch {
		rs[i] = kefu.Replacement{Doc: p.doc, Chunks: p.chunks}
	}
	if err := batcher.ReplaceMany(ctx, rs); err != nil {
		return fmt.Errorf("ingest: replace %d documents from %s: %w", len(rs), batch[0].doc.ID, err)
	}
	return nil
}

// failed returns the writer's failure, if any.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// written returns the documents and chunks stored so far.
func (w *writer) written() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.chunks
}

// close waits for the documents handed over to be stored and returns the
// writer's failure, if any. It may be called more than once.
func (w *writer) close() error {
	select {
	case <-w.done:
	default:
		close(w.docs)
		<-w.done
	}
	return w.failed()
}

// prune deletes documents under the walked roots that this run did not
// produce, leaving alone sources that failed.
func (r *run) prune(infos []kefu.DocumentInfo, roots []root) error {
	for _, d := range infos {
		if _, ok := r.seen[d.ID]; ok || r.failed[d.Source] || !underRoots(d.Source, roots) {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		if err := r.in.store.Delete(r.ctx, d.ID); err != nil {
			return fmt.Errorf("ingest: delete %s: %w", d.ID, err)
		}
		r.sum.Pruned++
	}
	return nil
}

// embedText is what gets embedded for a chunk: its title and heading path
// make a chunk findable by what the document is about, not only by its own
// words.
func embedText(c *kefu.Chunk) string {
	var b strings.Builder
	b.WriteString(c.Title)
	if c.Heading != "" && c.Heading != c.Title {
		b.WriteString("\n")
		b.WriteString(c.Heading)
	}
	b.WriteString("\n\n")
	b.WriteString(c.Text)
	return strings.TrimSpace(b.String())
}
