package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	// keyStoreID is a random id made when the store is created, and
	// keyGeneration counts its writes: together they say whether the
	// index segment beside the file reflects it.
	keyStoreID    = []byte("store_id")
	keyGeneration = []byte("generation")
)

// BM25 parameters (the usual ones).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// fuseDepth is how many hits of each ranking take part in fusion.
	fuseDepth = 100
)

// Store is the embedded chunk store. It is safe for concurrent use: searches
// share a read lock; writes are serialised by wmu and take the write lock
// after their bbolt commit.
//
// The indexes are in two tiers: base, a mapped segment file that holds
// everything up to the last checkpoint, and a memory tier for what was
// written since. Slots are numbered across both: the base's first, then the
// memory tier's. A checkpoint (Checkpoint, or Close) merges the two into a
// new segment, so the next open maps it instead of rebuilding.
type Store struct {
	db  *bolt.DB
	dir string
	id  [2]uint64 // names this store's file, so a segment from another is refused

	wmu sync.Mutex // held by every writer: ReplaceMany, Delete, Checkpoint

	mu        sync.RWMutex
	gen       uint64 // the file's write generation
	base      *segment
	baseGen   uint64   // the generation base reflects; base is current when it equals gen
	baseDead  []uint64 // bitset over base slots deleted since
	deadBase  int
	baseTypos *typoIndex // built on the first misspelt word
	cache     chunkCache

	// The memory tier. Its postings hold global slots; slots[i] is global
	// slot baseN()+i.
	slots  []*kefu.Chunk      // nil once deleted
	memPos []uint32           // each slot's position in its document (its record's key)
	byDoc  map[string][]int32 // doc id -> global slots
	dead   int                // deleted memory slots not yet compacted
	post   map[string][]posting
	typos  map[string][]string // one-letter deletion of a Latin term -> the terms it came from
	docLen []int32
	cols   [][]float32 // cols[d][i]: column-major so a sparse query touches few columns

	// total is the sum of the term counts of every slot of both tiers,
	// deleted ones included until a merge drops them: BM25's collection
	// statistics (slot count, total length, document frequency) all count
	// the same slots, as Lucene's do.
	total int64
	dims  int

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

// Open opens (creating if needed) the store in dir. A segment that is
// current is mapped; otherwise the indexes are rebuilt from the records and
// written as a segment for the next open. It fails with an EConflict error
// if the store was built by an embedder other than emb: its vectors would be
// meaningless to the new one, and the data must be re-ingested.
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
	s := &Store{db: db, dir: dir, dims: emb.Dims}
	s.resetMemory()
	if err := s.init(emb); err != nil {
		db.Close()
		return nil, err
	}
	if g, err := openSegment(filepath.Join(dir, SegmentFileName)); err == nil {
		if g.id == s.id && g.gen == s.gen && g.dims == s.dims {
			s.useBase(g)
			return s, nil
		}
		g.close()
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	// Written now, the next open maps it. A directory that cannot take the
	// file still serves, from memory; Checkpoint reports the error.
	_ = s.Checkpoint(context.Background())
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
		ready = meta.Get(keyStoreID) != nil
		if err := checkEmbedder(raw, emb); err != nil {
			return err
		}
		s.readMeta(meta)
		return nil
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
			if err := checkEmbedder(raw, emb); err != nil {
				return err
			}
		} else {
			raw, _ := json.Marshal(emb)
			if err := meta.Put(keyEmbedder, raw); err != nil {
				return err
			}
		}
		if meta.Get(keyStoreID) == nil {
			id := make([]byte, 16)
			if _, err := rand.Read(id); err != nil {
				return err
			}
			if err := meta.Put(keyStoreID, id); err != nil {
				return err
			}
		}
		s.readMeta(meta)
		return nil
	})
}

// readMeta reads the store's id and write generation.
func (s *Store) readMeta(meta *bolt.Bucket) {
	if id := meta.Get(keyStoreID); len(id) == 16 {
		s.id = [2]uint64{binary.LittleEndian.Uint64(id), binary.LittleEndian.Uint64(id[8:])}
	}
	if g := meta.Get(keyGeneration); len(g) == 8 {
		s.gen = binary.BigEndian.Uint64(g)
	}
}

// bumpGeneration counts a write in tx; the caller stores the result in
// s.gen once tx has committed.
func (s *Store) bumpGeneration(tx *bolt.Tx) (uint64, error) {
	next := s.gen + 1
	return next, tx.Bucket(bucketMeta).Put(keyGeneration, binary.BigEndian.AppendUint64(nil, next))
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

// Close writes what the memory tier holds into the segment (see
// Checkpoint) and releases the files.
func (s *Store) Close() error {
	err := s.Checkpoint(context.Background())
	s.mu.Lock()
	s.base.close()
	s.base = nil
	s.mu.Unlock()
	return errors.Join(err, s.db.Close())
}

// Ping reports whether the store is usable.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.View(func(tx *bolt.Tx) error { return nil })
}

// load rebuilds the indexes from the records, into the memory tier.
func (s *Store) load() error {
	s.resetMemory()
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			c, err := decodeChunk(v, s.dims, true)
			if err != nil {
				return fmt.Errorf("read chunk %q: %w", k, err)
			}
			s.index(c, binary.BigEndian.Uint32(k[len(k)-4:]))
			return nil
		})
	})
}

// resetMemory empties the memory tier.
func (s *Store) resetMemory() {
	s.slots = nil
	s.memPos = nil
	s.byDoc = map[string][]int32{}
	s.dead = 0
	s.post = map[string][]posting{}
	s.typos = map[string][]string{}
	s.docLen = nil
	s.cols = make([][]float32, s.dims)
}

// baseN is the number of base slots: the first memory slot's number.
func (s *Store) baseN() int {
	if s.base == nil {
		return 0
	}
	return s.base.n
}

// useBase makes g the base tier, with every slot live.
func (s *Store) useBase(g *segment) {
	s.base = g
	s.baseGen = g.gen
	s.baseDead = make([]uint64, (g.n+63)/64)
	s.deadBase = 0
	s.baseTypos = &typoIndex{}
	s.cache.reset()
	s.total = g.total
}

// index adds c, whose record is at position pos of its document, to the
// memory tier; the caller holds the write lock.
func (s *Store) index(c *kefu.Chunk, pos uint32) {
	slot := int32(s.baseN() + len(s.slots))
	s.slots = append(s.slots, c)
	s.memPos = append(s.memPos, pos)
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

// unindex marks a document's slots deleted in both tiers; the caller
// holds the write lock.
func (s *Store) unindex(docID string) {
	first, count := s.base.docSlots(docID)
	for slot := first; slot < first+count; slot++ {
		if w, bit := slot/64, uint64(1)<<(slot%64); s.baseDead[w]&bit == 0 {
			s.baseDead[w] |= bit
			s.deadBase++
			s.cache.drop(int32(slot))
		}
	}
	bn := int32(s.baseN())
	for _, slot := range s.byDoc[docID] {
		s.slots[slot-bn] = nil
		s.dead++
	}
	delete(s.byDoc, docID)
}

// Documents lists every stored document, sorted by id.
func (s *Store) Documents(ctx context.Context) ([]kefu.DocumentInfo, error) {
	var out []kefu.DocumentInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDocs).ForEach(func(k, v []byte) error {
			var info kefu.DocumentInfo
			if err := json.Unmarshal(v, &info); err != nil {
				return fmt.Errorf("read document %q: %w", k, err)
			}
			out = append(out, info)
			return ctx.Err()
		})
	})
	return out, err
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var gen uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range rs {
			doc, chunks := r.Doc, r.Chunks
			info := kefu.DocumentInfo{ID: doc.ID, Type: doc.Type, Source: doc.Source, Hash: doc.Hash, Chunks: len(chunks)}
			if err := deleteChunks(tx, doc.ID); err != nil {
				return err
			}
			b := tx.Bucket(bucketChunks)
			for j := range chunks {
				if err := b.Put(chunkKey(doc.ID, j), encodeChunk(&chunks[j])); err != nil {
					return err
				}
			}
			raw, _ := json.Marshal(info)
			if err := tx.Bucket(bucketDocs).Put([]byte(doc.ID), raw); err != nil {
				return err
			}
		}
		var err error
		gen, err = s.bumpGeneration(tx)
		return err
	})
	if err != nil {
		if len(rs) == 1 {
			return fmt.Errorf("store document %s: %w", rs[0].Doc.ID, err)
		}
		return fmt.Errorf("store %d documents: %w", len(rs), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen = gen
	for _, r := range rs {
		s.unindex(r.Doc.ID)
		for j := range r.Chunks {
			c := r.Chunks[j]
			c.Vector = append([]float32(nil), c.Vector...)
			s.index(&c, uint32(j))
		}
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var gen uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := deleteChunks(tx, docID); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDocs).Delete([]byte(docID)); err != nil {
			return err
		}
		var err error
		gen, err = s.bumpGeneration(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete document %s: %w", docID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen = gen
	s.unindex(docID)
	s.maybeCompact()
	return nil
}

// maybeCompact rebuilds the memory tier once its deleted slots outnumber
// its live ones, so a store that is re-ingested often between checkpoints
// does not grow without bound.
func (s *Store) maybeCompact() {
	if s.dead < 1024 || s.dead < len(s.slots)-s.dead {
		return
	}
	type kept struct {
		c   *kefu.Chunk
		pos uint32
		vec []float32
	}
	live := make([]kept, 0, len(s.slots)-s.dead)
	for i, c := range s.slots {
		if c == nil {
			continue
		}
		v := make([]float32, s.dims)
		for d := range s.cols {
			v[d] = s.cols[d][i]
		}
		live = append(live, kept{c, s.memPos[i], v})
	}
	for _, n := range s.docLen {
		s.total -= int64(n)
	}
	s.resetMemory()
	for _, k := range live {
		k.c.Vector = k.vec
		s.index(k.c, k.pos)
	}
}

// Checkpoint merges the memory tier into a new index segment, so that the
// next open maps the indexes instead of rebuilding them; it does nothing
// when the segment is current. Searches go on while it writes. Close calls
// it; so does an ingest run that changed something.
func (s *Store) Checkpoint(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	if s.base != nil && s.baseGen == s.gen {
		s.mu.RUnlock()
		return nil
	}
	src := s.segSource()
	s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if !littleEndian {
		return nil // segments are not used here (see openSegment)
	}
	path, err := writeSegment(s.dir, src)
	if err != nil {
		return err
	}
	g, err := openSegment(path)
	if err != nil {
		return fmt.Errorf("reopen index segment: %w", err)
	}
	s.mu.Lock()
	old := s.base
	s.resetMemory()
	s.useBase(g)
	s.mu.Unlock()
	return old.close()
}

// segSource gathers both tiers' live slots, in document and position
// order, for a new segment. The caller holds wmu (no write can change
// either tier meanwhile) and the read lock.
func (s *Store) segSource() *segSource {
	refs := s.inDocumentOrder(nil)
	// renum maps an old slot to its new one, -1 for a deleted slot.
	renum := make([]int32, s.slotCount())
	for i := range renum {
		renum[i] = -1
	}
	rows := make([]segRow, len(refs))
	for i, r := range refs {
		renum[r.slot] = int32(i)
		rows[i] = segRow{fields: s.fieldsOf(r.slot), pos: r.pos, docLen: s.lengthOf(r.slot), from: r.slot}
	}
	post := map[string][]posting{}
	add := func(term string, slot int32, tf uint16) {
		if uint32(slot) < uint32(len(renum)) && renum[slot] >= 0 { // a damaged posting is dropped
			post[term] = append(post[term], posting{renum[slot], tf})
		}
	}
	if s.base != nil {
		for i := range s.base.nterms() {
			term := strings.Clone(s.base.term(i))
			slots, tfs := s.base.postings(i)
			for j, slot := range slots {
				add(term, slot, tfs[j])
			}
		}
	}
	for term, ps := range s.post {
		for _, p := range ps {
			add(term, p.slot, p.tf)
		}
	}
	for _, ps := range post {
		sort.Slice(ps, func(i, j int) bool { return ps[i].slot < ps[j].slot })
	}
	return &segSource{id: s.id, gen: s.gen, dims: s.dims, rows: rows, post: post, value: s.vectorValue}
}

// vectorValue is dimension d of slot's vector.
func (s *Store) vectorValue(slot int32, d int) float32 {
	if bn := int32(s.baseN()); slot >= bn {
		return s.cols[d][slot-bn]
	}
	return s.base.cols[d*s.base.n+int(slot)]
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

// decodeChunk reads a record; withVector false leaves the vector out.
func decodeChunk(buf []byte, dims int, withVector bool) (*kefu.Chunk, error) {
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
	if !withVector {
		return c, nil
	}
	vec := buf[4+n:]
	c.Vector = make([]float32, dims)
	for i := range c.Vector {
		c.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(vec[4*i:]))
	}
	return c, nil
}

// liveCount is the number of live slots in both tiers.
func (s *Store) liveCount() int {
	return s.baseN() - s.deadBase + len(s.slots) - s.dead
}

// slotCount is the number of slots in both tiers, deleted ones included.
func (s *Store) slotCount() int { return s.baseN() + len(s.slots) }

// baseLive reports whether base slot is not deleted.
func (s *Store) baseLive(slot int32) bool {
	return s.baseDead[slot/64]&(uint64(1)<<(slot%64)) == 0
}

// live reports whether slot, in either tier, holds a chunk.
func (s *Store) live(slot int32) bool {
	if bn := int32(s.baseN()); slot >= bn {
		return s.slots[slot-bn] != nil
	}
	return s.baseLive(slot)
}

// fieldsOf returns what a Filter looks at of a live slot's chunk. A base
// slot's strings point into the segment: use them, do not keep them.
func (s *Store) fieldsOf(slot int32) kefu.FilterFields {
	if bn := int32(s.baseN()); slot >= bn {
		return s.slots[slot-bn].FilterFields()
	}
	return s.base.filterFields(slot)
}

// lengthOf is slot's term count.
func (s *Store) lengthOf(slot int32) int32 {
	if bn := int32(s.baseN()); slot >= bn {
		return s.docLen[slot-bn]
	}
	return s.base.docLen[slot]
}

// chunksAt returns the chunks of live slots, in order: memory slots as
// they are, base slots from the cache or read from the file in one read
// transaction. A base chunk that a write has just replaced in the file (its
// slot not yet marked deleted) is left out.
func (s *Store) chunksAt(slots []int32) ([]*kefu.Chunk, error) {
	out := make([]*kefu.Chunk, len(slots))
	bn := int32(s.baseN())
	var missing []int
	for i, slot := range slots {
		if slot >= bn {
			out[i] = s.slots[slot-bn]
		} else if c := s.cache.get(slot); c != nil {
			out[i] = c
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChunks)
		for _, i := range missing {
			v := b.Get(s.base.key(slots[i]))
			if v == nil {
				continue
			}
			c, err := decodeChunk(v, s.dims, false)
			if err != nil {
				return fmt.Errorf("read chunk of slot %d: %w", slots[i], err)
			}
			out[i] = c
			s.cache.put(slots[i], c)
		}
		return nil
	})
	return out, err
}

// chunkCacheSize bounds how many decoded base chunks are kept.
const chunkCacheSize = 4096

// chunkCache keeps recently read base chunks by slot, so that the chunks a
// shop's common questions find are decoded once.
type chunkCache struct {
	mu sync.Mutex
	m  map[int32]*kefu.Chunk
}

func (c *chunkCache) get(slot int32) *kefu.Chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[slot]
}

func (c *chunkCache) put(slot int32, ch *kefu.Chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int32]*kefu.Chunk{}
	}
	if len(c.m) >= chunkCacheSize {
		for k := range c.m { // an arbitrary one: Go's map order is random
			delete(c.m, k)
			break
		}
	}
	c.m[slot] = ch
}

func (c *chunkCache) drop(slot int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, slot)
}

func (c *chunkCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// positionOf is slot's position in its document.
func (s *Store) positionOf(slot int32) uint32 {
	if bn := int32(s.baseN()); slot >= bn {
		return s.memPos[slot-bn]
	}
	return s.base.pos[slot]
}
