package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// FileName is the store's file inside the data directory.
const FileName = "chunks.db"

var (
	bucketDocs   = []byte("docs")
	bucketChunks = []byte("chunks")
	bucketMeta   = []byte("meta")
	keyEmbedder  = []byte("embedder")
)

// BM25 parameters (the usual ones).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// fuseDepth is how many hits of each ranking take part in fusion.
	fuseDepth = 100
)

// Store is the embedded chunk store. It is safe for concurrent use: searches
// share a read lock, writes take the write lock after their bbolt commit.
type Store struct {
	db *bolt.DB

	mu     sync.RWMutex
	slots  []*kefu.Chunk      // slot -> chunk; nil once deleted
	byDoc  map[string][]int32 // doc id -> slots
	docs   map[string]kefu.DocumentInfo
	dead   int                  // deleted slots not yet compacted
	post   map[string][]posting // term -> postings, slot order
	typos  map[string][]string  // one-letter deletion of a Latin term -> the terms it came from
	docLen []int32
	total  int64 // sum of docLen over live slots
	dims   int
	cols   [][]float32 // cols[d][slot]: column-major so a sparse query touches few columns

	scratch sync.Pool // *scores
}

type posting struct {
	slot int32
	tf   uint16
}

// EmbedderInfo names the embedder that built a store.
type EmbedderInfo struct {
	Name string `json:"name"`
	Dims int    `json:"dims"`
}

// Open opens (creating if needed) the store in dir and loads its indexes.
// It fails with an EConflict error if the store was built by an embedder
// other than emb: its vectors would be meaningless to the new one, and the
// data must be re-ingested.
func Open(dir string, emb EmbedderInfo) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, kefu.WrapError(kefu.EUnavailable, "the data directory is in use by another kefu process", err)
		}
		return nil, fmt.Errorf("open store %s: %w", FileName, err)
	}
	s := &Store{db: db, dims: emb.Dims}
	if err := s.init(emb); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(emb EmbedderInfo) error {
	// A store that is already set up is only read, so that opening it does
	// not write (and sync) the file.
	ready := false
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketDocs) == nil || tx.Bucket(bucketChunks) == nil {
			return nil
		}
		raw := meta.Get(keyEmbedder)
		if raw == nil {
			return nil
		}
		ready = true
		return checkEmbedder(raw, emb)
	})
	if err != nil || ready {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketDocs, bucketChunks, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if raw := meta.Get(keyEmbedder); raw != nil {
			return checkEmbedder(raw, emb)
		}
		raw, _ := json.Marshal(emb)
		return meta.Put(keyEmbedder, raw)
	})
}

func checkEmbedder(raw []byte, emb EmbedderInfo) error {
	var have EmbedderInfo
	if err := json.Unmarshal(raw, &have); err != nil {
		return fmt.Errorf("read store metadata: %w", err)
	}
	if have != emb {
		return kefu.Errorf(kefu.EConflict,
			"the store was built with embedder %s (%d dims) but %s (%d dims) is configured; re-ingest into an empty data dir",
			have.Name, have.Dims, emb.Name, emb.Dims)
	}
	return nil
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the store is usable.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.View(func(tx *bolt.Tx) error { return nil })
}

// load builds the in-memory indexes from disk.
func (s *Store) load() error {
	s.reset()
	return s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketDocs).ForEach(func(k, v []byte) error {
			var info kefu.DocumentInfo
			if err := json.Unmarshal(v, &info); err != nil {
				return fmt.Errorf("read document %q: %w", k, err)
			}
			s.docs[info.ID] = info
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			c, err := decodeChunk(v, s.dims)
			if err != nil {
				return fmt.Errorf("read chunk %q: %w", k, err)
			}
			s.index(c)
			return nil
		})
	})
}

func (s *Store) reset() {
	s.slots = nil
	s.byDoc = map[string][]int32{}
	s.docs = map[string]kefu.DocumentInfo{}
	s.dead = 0
	s.post = map[string][]posting{}
	s.typos = map[string][]string{}
	s.docLen = nil
	s.total = 0
	s.cols = make([][]float32, s.dims)
}

// index adds c to the in-memory indexes; the caller holds the write lock.
func (s *Store) index(c *kefu.Chunk) {
	slot := int32(len(s.slots))
	s.slots = append(s.slots, c)
	s.byDoc[c.DocID] = append(s.byDoc[c.DocID], slot)
	tf := map[string]int{}
	terms := tokenize.Terms(indexText(c))
	for _, t := range terms {
		tf[t]++
	}
	for t, n := range tf {
		if _, known := s.post[t]; !known {
			s.addTypoKeys(t)
		}
		s.post[t] = append(s.post[t], posting{slot: slot, tf: uint16(min(n, math.MaxUint16))})
	}
	s.docLen = append(s.docLen, int32(len(terms)))
	s.total += int64(len(terms))
	for d := range s.cols {
		var x float32
		if d < len(c.Vector) {
			x = c.Vector[d]
		}
		s.cols[d] = append(s.cols[d], x)
	}
	c.Vector = nil // the columns hold it now
}

// indexText is what the lexical index sees of a chunk: its title and
// heading make "return policy" match the returns page's sections.
func indexText(c *kefu.Chunk) string {
	return c.Title + "\n" + c.Heading + "\n" + c.Text
}

// unindex marks a document's slots deleted; the caller holds the write lock.
func (s *Store) unindex(docID string) {
	for _, slot := range s.byDoc[docID] {
		s.total -= int64(s.docLen[slot])
		s.slots[slot] = nil
		s.dead++
	}
	delete(s.byDoc, docID)
	delete(s.docs, docID)
}

// Documents lists every stored document, sorted by id.
func (s *Store) Documents(ctx context.Context) ([]kefu.DocumentInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]kefu.DocumentInfo, 0, len(s.docs))
	for _, d := range s.docs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Replace atomically replaces every chunk of doc.ID with chunks. Each chunk
// must carry a vector of the store's dimension and belong to doc.
func (s *Store) Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error {
	return s.ReplaceMany(ctx, []kefu.Replacement{{Doc: doc, Chunks: chunks}})
}

// ReplaceMany replaces the chunks of several documents in one transaction,
// so a batch costs one sync of the file rather than one per document; each
// document is still replaced whole, and a failure stores none of them.
func (s *Store) ReplaceMany(ctx context.Context, rs []kefu.Replacement) error {
	for _, r := range rs {
		if err := s.validate(r.Doc, r.Chunks); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	infos := make([]kefu.DocumentInfo, len(rs))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, r := range rs {
			doc, chunks := r.Doc, r.Chunks
			infos[i] = kefu.DocumentInfo{ID: doc.ID, Type: doc.Type, Source: doc.Source, Hash: doc.Hash, Chunks: len(chunks)}
			if err := deleteChunks(tx, doc.ID); err != nil {
				return err
			}
			b := tx.Bucket(bucketChunks)
			for j := range chunks {
				if err := b.Put(chunkKey(doc.ID, j), encodeChunk(&chunks[j])); err != nil {
					return err
				}
			}
			raw, _ := json.Marshal(infos[i])
			if err := tx.Bucket(bucketDocs).Put([]byte(doc.ID), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if len(rs) == 1 {
			return fmt.Errorf("store document %s: %w", rs[0].Doc.ID, err)
		}
		return fmt.Errorf("store %d documents: %w", len(rs), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range rs {
		s.unindex(r.Doc.ID)
		for j := range r.Chunks {
			c := r.Chunks[j]
			c.Vector = append([]float32(nil), c.Vector...)
			s.index(&c)
		}
		s.docs[r.Doc.ID] = infos[i]
	}
	s.maybeCompact()
	return nil
}

func (s *Store) validate(doc kefu.Document, chunks []kefu.Chunk) error {
	if doc.ID == "" {
		return kefu.Errorf(kefu.EInvalid, "document has no id")
	}
	for i := range chunks {
		c := &chunks[i]
		if c.DocID != doc.ID {
			return kefu.Errorf(kefu.EInvalid, "chunk %q belongs to %q, not %q", c.ID, c.DocID, doc.ID)
		}
		if len(c.Vector) != s.dims {
			return kefu.Errorf(kefu.EInvalid, "chunk %q has a %d-dim vector, the store holds %d", c.ID, len(c.Vector), s.dims)
		}
		if c.CustomerID != doc.CustomerID {
			return kefu.Errorf(kefu.EInvalid, "chunk %q has another owner than its document", c.ID)
		}
	}
	return nil
}

// Delete removes a document and its chunks; deleting a missing one is not an error.
func (s *Store) Delete(ctx context.Context, docID string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := deleteChunks(tx, docID); err != nil {
			return err
		}
		return tx.Bucket(bucketDocs).Delete([]byte(docID))
	})
	if err != nil {
		return fmt.Errorf("delete document %s: %w", docID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unindex(docID)
	s.maybeCompact()
	return nil
}

// maybeCompact rebuilds the indexes once deleted slots outnumber live ones,
// so a store that is re-ingested often does not grow without bound.
func (s *Store) maybeCompact() {
	if s.dead < 1024 || s.dead < len(s.slots)-s.dead {
		return
	}
	live := make([]*kefu.Chunk, 0, len(s.slots)-s.dead)
	vecs := make([][]float32, 0, cap(live))
	for slot, c := range s.slots {
		if c == nil {
			continue
		}
		v := make([]float32, s.dims)
		for d := range s.cols {
			v[d] = s.cols[d][slot]
		}
		live = append(live, c)
		vecs = append(vecs, v)
	}
	docs := s.docs
	s.reset()
	s.docs = docs
	for i, c := range live {
		c.Vector = vecs[i]
		s.index(c)
	}
}

func chunkKey(docID string, ordinal int) []byte {
	k := make([]byte, 0, len(docID)+5)
	k = append(k, docID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(ordinal))
}

func deleteChunks(tx *bolt.Tx, docID string) error {
	prefix := append([]byte(docID), 0)
	c := tx.Bucket(bucketChunks).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// encodeChunk stores a chunk as a 4-byte JSON length, the JSON, then the
// vector as little-endian float32s.
func encodeChunk(c *kefu.Chunk) []byte {
	js, _ := json.Marshal(c)
	buf := make([]byte, 0, 4+len(js)+4*len(c.Vector))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	for _, x := range c.Vector {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	return buf
}

func decodeChunk(buf []byte, dims int) (*kefu.Chunk, error) {
	if len(buf) < 4 {
		return nil, errors.New("truncated record")
	}
	n := int(binary.LittleEndian.Uint32(buf))
	if 4+n > len(buf) || (len(buf)-4-n) != 4*dims {
		return nil, errors.New("record size does not match its vector dimension")
	}
	c := new(kefu.Chunk)
	if err := json.Unmarshal(buf[4:4+n], c); err != nil {
		return nil, err
	}
	vec := buf[4+n:]
	c.Vector = make([]float32, dims)
	for i := range c.Vector {
		c.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(vec[4*i:]))
	}
	return c, nil
}
