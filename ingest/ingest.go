package ingest

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
)

// Store is where ingested documents go.
type Store interface {
	// Documents lists every ingested document.
	Documents(ctx context.Context) ([]kefu.DocumentInfo, error)
	// Replace atomically replaces every chunk of doc.ID with chunks.
	Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error
	// Delete removes a document and its chunks.
	Delete(ctx context.Context, docID string) error
}

// BatchStore is a Store that can also replace several documents in one
// write (one transaction, or one round trip); the ingester uses it when the
// store has it.
type BatchStore interface {
	ReplaceMany(ctx context.Context, rs []kefu.Replacement) error
}

// Checkpointer is a Store that keeps its indexes in memory between writes
// and can persist them (the embedded store's index segment); the ingester
// calls Checkpoint at the end of every run, so the next process to open the
// store maps its indexes instead of rebuilding them.
type Checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// Embedder turns texts into vectors, one per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// EmbedFunc adapts a function to Embedder.
type EmbedFunc func(ctx context.Context, texts []string) ([][]float32, error)

// Embed calls f.
func (f EmbedFunc) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f(ctx, texts)
}

var _ Embedder = EmbedFunc(nil)

// Defaults used when the Options fields are zero.
const (
	DefaultMaxChunkTokens = 350
	DefaultBatchSize      = 64

	// minChunkTokens keeps a chunk large enough to hold a heading line and
	// some text.
	minChunkTokens = 32
)

// Options tune a run. The zero value detects types and uses the defaults.
type Options struct {
	// Type is the document type of every file, one of kefu.DocTypes; "" or
	// "auto" detects it per file and per record: a record with a customer
	// field is an order whatever its file is called, so private data never
	// turns public by a naming accident; then the file name ("orders",
	// "products", "catalog", "sku", "faq"), then the fields (question and
	// answer: faq; price or sku: product). Prose files are policies unless
	// front matter or the name (never "order") says otherwise.
	Type string
	// IDField, TitleField and CustomerField name the record fields holding
	// the record id, the title and the owning customer, overriding
	// detection. A record missing a named IDField or CustomerField fails.
	IDField, TitleField, CustomerField string
	// Records chooses collections in JSON files that hold several, by
	// their keys: with "products" and "orders", a file {"products": {...},
	// "users": {...}, "orders": {...}} yields its products and orders and
	// reports users as skipped. Empty loads every collection except those
	// whose key, or whose file's name, says they hold people's personal
	// data ("users", "customers", "accounts", "members", "用户", "客户",
	// ...): those are skipped and reported unless named here.
	Records []string
	// Levels names the levels of keys that wrap records in a nested JSON
	// file, outermost first: with "platform", "shop", "customer_id", the
	// records of {"jd": {"S1": {"U7": {"O1": {...}}}}} get platform "jd",
	// shop "S1" and customer_id "U7" in their metadata, and count as
	// having those fields when their type and owner are detected. "-"
	// leaves a level unnamed. The key right above a record is its id.
	Levels []string
	// GroupBy merges the records (CSV rows, JSON records) that share this
	// field's value into one document, whose id is that value: fields
	// equal in every row appear once, the others as one list item per
	// distinct row.
	GroupBy string
	// Fields, when set, limits the fields a record's text shows to these;
	// the id, title and customer are still read from every field.
	Fields []string
	// ProductField names the record field (or level, see Levels) holding
	// the id of the product a record describes, kept as the document's
	// and every chunk's meta kefu.MetaProductID so that a question asked
	// on that product's page (kefu.Filter.ProductID) finds it. Any record
	// type may carry one (an FAQ row about a product, say). A product
	// record without it, and every product record when ProductField is
	// empty, gets its own record id: the id its document id ends with
	// (with GroupBy, the group's value). A value kefu.CheckProductID
	// refuses fails the record; a record id it refuses gives no product id.
	ProductField string
	// Prune deletes stored documents whose source lies in the walked paths
	// but that no file yields any more. Sources that reported a failure in
	// this run are never pruned, so a broken file does not erase what was
	// ingested from it before.
	Prune bool
	// MaxChunkTokens bounds a chunk in cl100k_base tokens (default 350,
	// at least 32).
	MaxChunkTokens int
	// BatchSize is the number of texts per Embed call (default 64).
	BatchSize int
	// Concurrency bounds the Embed calls in flight at once (default 2);
	// the next files are loaded and chunked meanwhile.
	Concurrency int
	// MaxAttempts bounds the calls made for one batch (default 4): an
	// embedding error that is transient (see Transient) is retried after
	// an exponentially growing, jittered pause, any other error ends the
	// run at once.
	MaxAttempts int
	// RetryDelay is the pause before the second attempt (default 500ms);
	// each later pause doubles it, up to 30s, and is drawn at random from
	// its upper half.
	RetryDelay time.Duration
	// Gate, when set, is checked after the run's documents are written:
	// when it reports a broken threshold, cannot run, or runs out of
	// GateTimeout, every document the run replaced, added or pruned is put
	// back as it was (added ones deleted) and the run fails with
	// ErrGateFailed; Summary.Gate holds the verdict. A run that fails
	// part-way is rolled back too. The store must be a Snapshotter. Gated
	// runs of one Ingester run one at a time.
	Gate Gate
	// GateTimeout bounds the gate's check (default DefaultGateTimeout).
	GateTimeout time.Duration
	// Limits bound each file and document of the run; see Limits.
	Limits Limits
	// PDFWorker, when set, is the command line of a PDF worker (a kefu
	// process run with PDFWorkerCommand, see ServePDFWorker): each PDF's
	// text is then extracted in a process of its own, bounded to
	// Limits.PDFMemory and killed when the file's time runs out or the run
	// is cancelled. Without it PDFs are read in this process, where a
	// crafted PDF can take gigabytes of memory before any limit is checked.
	PDFWorker []string
	// Progress, when set, is called after each file, after each batch
	// written, and once at the end, from the goroutine that called Run,
	// never concurrently. It must return quickly.
	Progress func(Progress)
}

// Progress is a run's progress so far: the files read out of those found,
// the documents and chunks written, the documents skipped as unchanged and
// the failures.
type Progress struct {
	Files      int    `json:"files"`
	FilesTotal int    `json:"files_total"`
	Documents  int    `json:"documents"`
	Chunks     int    `json:"chunks"`
	Unchanged  int    `json:"unchanged"`
	Failed     int    `json:"failed"`
	File       string `json:"file,omitempty"` // the file last read, as walked
	Done       bool   `json:"done"`           // the final call
}

// Ingester loads files into a Store. It is safe to run sequentially many
// times; each Run reads the store's document list afresh.
type Ingester struct {
	store Store
	emb   Embedder
	opts  Options
	// serial holds one token while a gated run or a deletion is under
	// way, shared with the Ingesters IngestFS derives.
	serial chan struct{}
}

// New returns an Ingester writing to store and embedding with emb. Options
// are checked by Run.
func New(store Store, emb Embedder, opts Options) *Ingester {
	return &Ingester{store: store, emb: emb, opts: opts, serial: make(chan struct{}, 1)}
}

// FileError is a file, or one record of it, that could not be ingested.
type FileError struct {
	File   string `json:"file"`             // the path as walked
	Line   int    `json:"line,omitempty"`   // 1-based line the record or error starts on, 0 if n/a
	Record int    `json:"record,omitempty"` // 1-based record of a JSON file, 0 if n/a
	Reason string `json:"reason"`
}

// String formats the failure as "file:line: reason".
func (e FileError) String() string {
	switch {
	case e.Line > 0 && e.Record > 0:
		return fmt.Sprintf("%s:%d (record %d): %s", e.File, e.Line, e.Record, e.Reason)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	case e.Record > 0:
		return fmt.Sprintf("%s (record %d): %s", e.File, e.Record, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Summary reports what a Run did.
type Summary struct {
	Files     int         `json:"files"`     // files read, including those that failed
	Documents int         `json:"documents"` // documents written (new or changed)
	Chunks    int         `json:"chunks"`    // chunks written
	Unchanged int         `json:"unchanged"` // documents skipped because their hash matched
	Pruned    int         `json:"pruned"`    // documents deleted by Options.Prune
	Failed    []FileError `json:"failed"`    // per-file and per-record failures, in walk order
	// Skipped lists what was deliberately left out, and why: files and
	// collections of people's personal data, collections not chosen by
	// Options.Records. Skipping is not a failure.
	Skipped []FileError   `json:"skipped"`
	Elapsed time.Duration `json:"elapsed_ns"` // wall time of the run
	// Gate is the gate's verdict when Options.Gate is set.
	Gate *GateReport `json:"gate,omitempty"`
}

// String renders the summary for people, one failure per line.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "files:     %d\n", s.Files)
	fmt.Fprintf(&b, "documents: %d written (%d chunks), %d unchanged\n", s.Documents, s.Chunks, s.Unchanged)
	if s.Pruned > 0 {
		fmt.Fprintf(&b, "pruned:    %d\n", s.Pruned)
	}
	fmt.Fprintf(&b, "elapsed:   %s\n", s.Elapsed.Round(time.Millisecond))
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "skipped:   %d\n", len(s.Skipped))
		for _, f := range s.Skipped {
			b.WriteString("  ")
			b.WriteString(f.String())
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "failed:    %d\n", len(s.Failed))
	for _, f := range s.Failed {
		b.WriteString("  ")
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if s.Gate != nil {
		b.WriteString(s.Gate.String())
	}
	return b.String()
}

// Run ingests the files and folders at paths. Folders are walked
// recursively in name order, skipping hidden entries, README files, files
// whose name starts with "golden" (evaluation sets kept beside the data)
// and files of unknown formats; a file named directly is always read, and
// fails if its format is unknown.
//
// Problems with a file or a record go to Summary.Failed and do not stop the
// run. Run returns an error only when nothing more can be done: invalid
// options, a cancelled ctx, or a failing store or embedder. The Summary
// then counts the work done so far.
func (in *Ingester) Run(ctx context.Context, paths ...string) (Summary, error) {
	return in.run(ctx, osFS{}, osTargets(paths))
}

// RunFS is Run over a file system, such as an embedded copy of a shop's
// documents. paths are slash-separated names in fsys ("." for all of it)
// and are used as sources as they are.
func (in *Ingester) RunFS(ctx context.Context, fsys fs.FS, paths ...string) (Summary, error) {
	return in.run(ctx, fsys, fsTargets(paths))
}

func (in *Ingester) run(ctx context.Context, fsys fs.FS, targets []target) (Summary, error) {
	var sum Summary
	var err error
	if in.opts.Gate != nil {
		sum, err = in.gated(ctx, fsys, targets)
	} else {
		start := time.Now()
		r := &run{in: in, ctx: ctx, fsys: fsys, sum: Summary{Failed: []FileError{}, Skipped: []FileError{}}}
		err = r.run(targets)
		r.sum.Elapsed = time.Since(start)
		sum = r.sum
	}
	if cp, ok := in.store.(Checkpointer); ok && err == nil {
		if err = cp.Checkpoint(ctx); err != nil {
			err = fmt.Errorf("persist the store's indexes: %w", err)
		}
	}
	return sum, err
}

func (in *Ingester) check() error {
	o := in.opts
	if in.store == nil || in.emb == nil {
		return kefu.Errorf(kefu.EInvalid, "ingest needs a store and an embedder")
	}
	if o.Type != "" && o.Type != "auto" && !slices.Contains(kefu.DocTypes, o.Type) {
		return kefu.Errorf(kefu.EInvalid, "unknown document type %q (want %s or auto)", o.Type, strings.Join(kefu.DocTypes, ", "))
	}
	if o.MaxChunkTokens != 0 && o.MaxChunkTokens < minChunkTokens {
		return kefu.Errorf(kefu.EInvalid, "chunk size %d is too small (at least %d tokens)", o.MaxChunkTokens, minChunkTokens)
	}
	if o.BatchSize < 0 {
		return kefu.Errorf(kefu.EInvalid, "batch size %d is negative", o.BatchSize)
	}
	if o.Concurrency < 0 || o.MaxAttempts < 0 || o.RetryDelay < 0 {
		return kefu.Errorf(kefu.EInvalid, "embedding concurrency, attempts and retry delay must not be negative")
	}
	return o.Limits.check()
}

func (in *Ingester) maxTokens() int {
	if in.opts.MaxChunkTokens == 0 {
		return DefaultMaxChunkTokens
	}
	return in.opts.MaxChunkTokens
}

func (in *Ingester) batchSize() int {
	if in.opts.BatchSize == 0 {
		return DefaultBatchSize
	}
	return in.opts.BatchSize
}

// forcedType is the type set by Options, or "" to detect.
func (in *Ingester) forcedType() string {
	if in.opts.Type == "auto" {
		return ""
	}
	return in.opts.Type
}

// IngestFS ingests the named files of fsys (all of it when none are
// named) as RunFS does, reading records with the record options of rec
// (Type, IDField, TitleField, CustomerField, Records, Levels, GroupBy,
// Fields) in place of the Ingester's own; its other options stay, and
// nothing is pruned. It serves uploads, each of which says how its files
// are to be read. It is safe for concurrent use.
func (in *Ingester) IngestFS(ctx context.Context, fsys fs.FS, rec Options, names ...string) (Summary, error) {
	o := in.opts
	o.Type, o.IDField, o.TitleField, o.CustomerField = rec.Type, rec.IDField, rec.TitleField, rec.CustomerField
	o.Records, o.Levels, o.GroupBy, o.Fields = rec.Records, rec.Levels, rec.GroupBy, rec.Fields
	o.Prune = false
	if len(names) == 0 {
		names = []string{"."}
	}
	sub := New(in.store, in.emb, o)
	sub.serial = in.serial
	return sub.RunFS(ctx, fsys, names...)
}

// DeleteDocument removes a stored document and its chunks. It fails with
// kefu.ENotFound when no document has that id. It is not gated (a shop
// must always be able to take a document down), but it waits for a gated
// run under way, so that the run's rollback cannot bring the document back.
func (in *Ingester) DeleteDocument(ctx context.Context, id string) error {
	if in.store == nil {
		return kefu.Errorf(kefu.EInvalid, "ingest needs a store")
	}
	if err := in.lock(ctx); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer in.unlock()
	infos, err := in.store.Documents(ctx)
	if err != nil {
		return fmt.Errorf("ingest: list documents: %w", err)
	}
	if !slices.ContainsFunc(infos, func(d kefu.DocumentInfo) bool { return d.ID == id }) {
		return kefu.Errorf(kefu.ENotFound, "no document %q", id)
	}
	if err := in.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("ingest: delete %s: %w", id, err)
	}
	return nil
}
