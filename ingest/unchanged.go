package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"runtime/debug"
	"strings"

	"github.com/kefuhq/kefu"
)

// FileState is what an ingest made of one source file: a digest of its
// bytes and of everything that shapes how they are read, the documents it
// produced (with their content hashes) and the failures and skips it
// reported. A later run that finds the same digest, and every one of those
// documents still stored with the same hash, takes the file as unchanged
// without parsing it, and reports its failures again.
type FileState struct {
	Digest  string            `json:"digest"`
	Docs    map[string]string `json:"docs"` // document id -> content hash
	Failed  []FileError       `json:"failed,omitempty"`
	Skipped []FileError       `json:"skipped,omitempty"`
}

// FileStateStore is a Store that keeps FileStates, as the ingester encodes
// them, keyed by source. The ingester uses it, when the store has it, to
// skip unchanged files.
type FileStateStore interface {
	FileStates(ctx context.Context) (map[string][]byte, error)
	PutFileStates(ctx context.Context, states map[string][]byte) error
}

// loadStates reads the store's file states; one that does not decode is
// as good as none (its file is parsed).
func loadStates(ctx context.Context, fs FileStateStore) (map[string]FileState, error) {
	raw, err := fs.FileStates(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]FileState, len(raw))
	for source, b := range raw {
		var st FileState
		if json.Unmarshal(b, &st) == nil {
			out[source] = st
		}
	}
	return out, nil
}

// readingOptions are the options that shape what a file yields; a change
// to any of them makes every file be read again. (TestReadingOptions keeps
// this list and Options in step.)
type readingOptions struct {
	Type, IDField, TitleField, CustomerField string
	Records, Levels, Fields                  []string
	GroupBy, ProductField                    string
	Limits                                   Limits
	PDFWorker                                []string
	Chunker                                  string
	Build                                    string
	Explicit                                 bool
}

// buildID names this build of kefu: a new one may read files differently.
var buildID = func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	id := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			id += " " + s.Value
		}
	}
	return id
}()

// fileDigest hashes f's bytes and the options that shape reading them. It
// returns "" when the file cannot be read: the parse then reports why.
func (r *run) fileDigest(f file) string {
	o := r.in.opts
	key, _ := json.Marshal(readingOptions{
		Type: o.Type, IDField: o.IDField, TitleField: o.TitleField, CustomerField: o.CustomerField,
		Records: o.Records, Levels: o.Levels, Fields: o.Fields, GroupBy: o.GroupBy, ProductField: o.ProductField,
		Limits: o.Limits.withDefaults(), PDFWorker: o.PDFWorker, Chunker: r.chunker.version(), Build: buildID,
		Explicit: f.explicit,
	})
	in, err := r.fsys.Open(f.name)
	if err != nil {
		return ""
	}
	defer in.Close()
	h := sha256.New()
	h.Write(key)
	h.Write([]byte{0})
	if _, err := io.Copy(h, io.LimitReader(in, maxDigestBytes)); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// maxDigestBytes bounds what is read to fingerprint a file; a larger file
// is fingerprinted by its first maxDigestBytes and always parsed.
const maxDigestBytes = 1 << 30

// skipUnchanged reports whether f can be taken as unchanged: its digest is
// the one stored, and every document it made is still stored as it made
// it. Then its documents count as unchanged (and as seen, so a pruning run
// keeps them) and its failures are reported again. Otherwise it starts
// recording what this run makes of f.
func (r *run) skipUnchanged(f file) bool {
	r.cur = nil
	if r.states == nil {
		return false
	}
	digest := r.fileDigest(f)
	if digest == "" {
		return false
	}
	if st, ok := r.states[f.source]; ok && st.Digest == digest && r.stillStored(st) {
		for id := range st.Docs {
			r.seen[id] = f.path
		}
		r.sum.Unchanged += len(st.Docs)
		for _, e := range st.Failed {
			e.File = f.path
			r.fail(f.source, e)
		}
		for _, e := range st.Skipped {
			e.File = f.path
			r.sum.Skipped = append(r.sum.Skipped, e)
		}
		return true
	}
	r.cur = &FileState{Digest: digest, Docs: map[string]string{}}
	r.made[f.source] = r.cur
	return false
}

// stillStored reports whether every document of st is stored with the hash
// it had, and none was produced earlier in this run.
func (r *run) stillStored(st FileState) bool {
	if len(st.Docs) == 0 && len(st.Failed) == 0 && len(st.Skipped) == 0 {
		return false
	}
	for id, hash := range st.Docs {
		old, ok := r.existing[id]
		if _, dup := r.seen[id]; dup || !ok || old.Hash != hash || old.Chunks == 0 {
			return false
		}
	}
	return true
}

// madeDoc records a document of the file being read.
func (r *run) madeDoc(doc *kefu.Document) {
	if r.cur != nil {
		r.cur.Docs[doc.ID] = doc.Hash
	}
}

// saveStates stores what this run made of the files it read, once all
// their documents are written. A file that failed as a whole (unreadable,
// too slow) is left out: it is read again next time.
func (r *run) saveStates() error {
	if r.states == nil || len(r.made) == 0 {
		return nil
	}
	keep := map[string][]byte{}
	for source, st := range r.made {
		whole := false
		for _, e := range st.Failed {
			// A failure of the whole file, or of reading it, may not
			// happen again: such a file is read again next time.
			if e.Line == 0 && e.Record == 0 || strings.HasPrefix(e.Reason, "read: ") || strings.HasPrefix(e.Reason, "open: ") {
				whole = true
			}
		}
		if !whole {
			keep[source], _ = json.Marshal(st)
		}
	}
	return r.in.store.(FileStateStore).PutFileStates(r.ctx, keep)
}
