package embedded

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"unsafe"

	"github.com/edsrzf/mmap-go"

	"github.com/kefuhq/kefu"
)

// The store's indexes persist in a segment file beside the bbolt file: the
// BM25 postings, each chunk's length and filter fields, and the vectors as
// columns, laid out so that opening the store maps the file and reads its
// header instead of rebuilding anything, and a search reads the postings and
// columns in place (Lucene's and Qdrant's way: an immutable segment, with
// later writes held in memory until the next checkpoint merges them in).
//
// Layout, little-endian, every section 8-byte aligned: a fixed header
// (magic, version, counts, section offsets, a CRC of the header), then
//
//	docLen   n × int32       terms in each chunk's indexed text
//	fields   n × 6 × uint32  string ids: doc, type, customer, product, effective from, to
//	pos      n × uint32      the chunk's position in its document (its bbolt key)
//	strOff   (nstr+1) × uint64, strBlob   the interned strings, id 0 is ""
//	termOff  (nterms+1) × uint64, termBlob   the vocabulary, sorted
//	postOff  (nterms+1) × uint64   each term's first posting
//	postSlot npost × int32, postTF npost × uint16   postings, slot order per term
//	cols     dims × n × float32   the vectors, column-major
//	docs     ndocs × 3 × uint32   doc id string, first slot, slot count; sorted by id
//
// Slots are in document id and position order, so a document's chunks are
// one run of slots. The header names the store (a random id kept in the
// bbolt file) and the write generation it reflects: a segment from another
// store or an older generation is ignored and rebuilt.

// SegmentFileName is the index segment's file inside the store's directory.
const SegmentFileName = "index.seg"

const (
	segMagic   = "KEFUSEG1"
	segVersion = 1
)

// Header fields, as uint64s after the magic.
const (
	hVersion = iota
	hIDLo
	hIDHi
	hGen
	hDims
	hN
	hTotal
	hNStr
	hNTerms
	hNPost
	hNDocs
	hDocLen // section offsets from here
	hFields
	hPos
	hStrOff
	hStrBlob
	hTermOff
	hTermBlob
	hPostOff
	hPostSlot
	hPostTF
	hCols
	hDocs
	hEnd
	hCRC
	hCount
)

const segHeaderSize = len(segMagic) + 8*hCount

// nfields is the number of string ids per slot in the fields section.
const nfields = 6

// segment is an open, mapped segment file. Its strings point into the
// mapping: they are compared and copied, never kept past the segment's life.
type segment struct {
	m     mmap.MMap
	id    [2]uint64
	gen   uint64
	dims  int
	n     int
	total int64

	docLen   []int32
	fields   []uint32
	pos      []uint32
	strOff   []uint64
	strBlob  []byte
	termOff  []uint64
	termBlob []byte
	postOff  []uint64
	postSlot []int32
	postTF   []uint16
	cols     []float32
	docs     []uint32
}

// littleEndian reports whether this machine stores numbers as the segment
// does; elsewhere segments are not used and the store rebuilds its
// indexes at every open.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

var errSegment = errors.New("index segment is not usable")

// openSegment maps path and checks its header and section bounds; the
// contents of variable-length sections are checked as they are read.
func openSegment(path string) (*segment, error) {
	if !littleEndian {
		return nil, fmt.Errorf("%w: big-endian machine", errSegment)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < int64(segHeaderSize) {
		return nil, fmt.Errorf("%w: %d bytes is shorter than its header", errSegment, st.Size())
	}
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", filepath.Base(path), err)
	}
	g, err := parseSegment(m)
	if err != nil {
		m.Unmap()
		return nil, err
	}
	g.m = m
	return g, nil
}

// parseSegment checks buf's header and lays the sections over it.
func parseSegment(buf []byte) (*segment, error) {
	if len(buf) < segHeaderSize || string(buf[:len(segMagic)]) != segMagic {
		return nil, fmt.Errorf("%w: no segment header", errSegment)
	}
	var h [hCount]uint64
	for i := range h {
		h[i] = binary.LittleEndian.Uint64(buf[len(segMagic)+8*i:])
	}
	if crc := crc32.ChecksumIEEE(buf[:segHeaderSize-8]); uint64(crc) != h[hCRC] {
		return nil, fmt.Errorf("%w: header checksum mismatch", errSegment)
	}
	if h[hVersion] != segVersion {
		return nil, fmt.Errorf("%w: version %d, this kefu reads %d", errSegment, h[hVersion], segVersion)
	}
	if h[hEnd] != uint64(len(buf)) {
		return nil, fmt.Errorf("%w: %d bytes, the header says %d", errSegment, len(buf), h[hEnd])
	}
	const maxCount = math.MaxInt32
	for _, c := range []int{hDims, hN, hNStr, hNTerms, hNPost, hNDocs} {
		if h[c] > maxCount {
			return nil, fmt.Errorf("%w: count %d out of range", errSegment, h[c])
		}
	}
	n, dims := h[hN], h[hDims]
	if dims*n > math.MaxInt64/8 {
		return nil, fmt.Errorf("%w: %d×%d vectors out of range", errSegment, n, dims)
	}
	sections := []struct {
		at   int
		size uint64
	}{
		{hDocLen, 4 * n},
		{hFields, 4 * nfields * n},
		{hPos, 4 * n},
		{hStrOff, 8 * (h[hNStr] + 1)},
		{hStrBlob, 0},
		{hTermOff, 8 * (h[hNTerms] + 1)},
		{hTermBlob, 0},
		{hPostOff, 8 * (h[hNTerms] + 1)},
		{hPostSlot, 4 * h[hNPost]},
		{hPostTF, 2 * h[hNPost]},
		{hCols, 4 * dims * n},
		{hDocs, 4 * 3 * h[hNDocs]},
	}
	for i, sec := range sections {
		off := h[sec.at]
		limit := h[hEnd]
		if i+1 < len(sections) {
			limit = h[sections[i+1].at]
		}
		if off%8 != 0 || off < uint64(segHeaderSize) || off > limit || limit > h[hEnd] || sec.size > limit-off {
			return nil, fmt.Errorf("%w: section %d out of bounds", errSegment, i)
		}
	}
	g := &segment{
		id:    [2]uint64{h[hIDLo], h[hIDHi]},
		gen:   h[hGen],
		dims:  int(dims),
		n:     int(n),
		total: int64(h[hTotal]),
	}
	g.docLen = view[int32](buf, h[hDocLen], n)
	g.fields = view[uint32](buf, h[hFields], nfields*n)
	g.pos = view[uint32](buf, h[hPos], n)
	g.strOff = view[uint64](buf, h[hStrOff], h[hNStr]+1)
	g.strBlob = buf[h[hStrBlob]:h[hTermOff]]
	g.termOff = view[uint64](buf, h[hTermOff], h[hNTerms]+1)
	g.termBlob = buf[h[hTermBlob]:h[hPostOff]]
	g.postOff = view[uint64](buf, h[hPostOff], h[hNTerms]+1)
	g.postSlot = view[int32](buf, h[hPostSlot], h[hNPost])
	g.postTF = view[uint16](buf, h[hPostTF], h[hNPost])
	g.cols = view[float32](buf, h[hCols], dims*n)
	g.docs = view[uint32](buf, h[hDocs], 3*h[hNDocs])
	return g, nil
}

// view lays a slice of count Ts over buf at off, which the caller has
// checked is in bounds and aligned.
func view[T int32 | uint32 | uint64 | uint16 | float32](buf []byte, off, count uint64) []T {
	if count == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&buf[off])), count)
}

func (g *segment) close() error {
	if g == nil || g.m == nil {
		return nil
	}
	return g.m.Unmap()
}

// span returns blob[off[i]:off[i+1]], or nil when the offsets are out of
// order or bounds (a damaged file reads as empty strings, never a panic).
func span(off []uint64, blob []byte, i int) []byte {
	if i < 0 || i+1 >= len(off) {
		return nil
	}
	a, b := off[i], off[i+1]
	if a > b || b > uint64(len(blob)) {
		return nil
	}
	return blob[a:b]
}

// str returns interned string i, pointing into the mapping.
func (g *segment) str(i uint32) string {
	b := span(g.strOff, g.strBlob, int(i))
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (g *segment) nterms() int { return max(0, len(g.termOff)-1) }

// term returns vocabulary term i, pointing into the mapping.
func (g *segment) term(i int) string {
	b := span(g.termOff, g.termBlob, i)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// find returns the index of term in the vocabulary, or -1.
func (g *segment) find(term string) int {
	if g == nil {
		return -1
	}
	n := g.nterms()
	i := sort.Search(n, func(i int) bool { return g.term(i) >= term })
	if i < n && g.term(i) == term {
		return i
	}
	return -1
}

// postings returns term i's postings: slots and term frequencies.
func (g *segment) postings(i int) ([]int32, []uint16) {
	if i < 0 || i+1 >= len(g.postOff) {
		return nil, nil
	}
	a, b := g.postOff[i], g.postOff[i+1]
	if a > b || b > uint64(len(g.postSlot)) {
		return nil, nil
	}
	return g.postSlot[a:b], g.postTF[a:b]
}

// df is how many slots hold the term (deleted ones included).
func (g *segment) df(term string) int {
	ps, _ := g.postings(g.find(term))
	return len(ps)
}

// col returns dimension d of every slot's vector.
func (g *segment) col(d int) []float32 { return g.cols[d*g.n : (d+1)*g.n] }

// filterFields returns what a Filter looks at of slot's chunk.
func (g *segment) filterFields(slot int32) kefu.FilterFields {
	f := g.fields[nfields*int(slot):][:nfields]
	return kefu.FilterFields{
		DocID: g.str(f[0]), Type: g.str(f[1]), CustomerID: g.str(f[2]), ProductID: g.str(f[3]),
		EffectiveFrom: g.str(f[4]), EffectiveTo: g.str(f[5]),
	}
}

// key is the bbolt key of slot's chunk.
func (g *segment) key(slot int32) []byte {
	return chunkKey(g.str(g.fields[nfields*int(slot)]), int(g.pos[slot]))
}

// docSlots returns the run of slots that hold docID's chunks.
func (g *segment) docSlots(docID string) (first, count int) {
	if g == nil {
		return 0, 0
	}
	nd := len(g.docs) / 3
	i := sort.Search(nd, func(i int) bool { return g.str(g.docs[3*i]) >= docID })
	if i == nd || g.str(g.docs[3*i]) != docID {
		return 0, 0
	}
	first, count = int(g.docs[3*i+1]), int(g.docs[3*i+2])
	if first > g.n || count > g.n-first {
		return 0, 0
	}
	return first, count
}

// segRow is one slot of a segment being written: its filter fields, its
// position in its document, its length in terms, and where its vector is.
type segRow struct {
	fields kefu.FilterFields
	pos    uint32
	docLen int32
	from   int32 // the slot the vector is read from (value's argument)
}

// segSource is what a new segment is written from.
type segSource struct {
	id    [2]uint64
	gen   uint64
	dims  int
	rows  []segRow             // in final slot order: document id, then position
	post  map[string][]posting // term -> postings in the new slot numbering, slot order
	value func(from int32, d int) float32
}

// writeSegment writes src to a new file in dir and renames it over the
// segment, synced, so that a crash leaves either the old segment or the new.
func writeSegment(dir string, src *segSource) (string, error) {
	final := filepath.Join(dir, SegmentFileName)
	f, err := os.CreateTemp(dir, SegmentFileName+".*")
	if err != nil {
		return "", fmt.Errorf("write index segment: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := encodeSegment(f, src); err != nil {
		return "", fmt.Errorf("write index segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("write index segment: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write index segment: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("write index segment: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return final, nil
}

// segWriter writes little-endian sections, counting bytes and padding each
// section to 8.
type segWriter struct {
	w   *bufio.Writer
	off uint64
	buf []byte
	err error
}

func (w *segWriter) bytes(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
	w.off += uint64(len(b))
}

func (w *segWriter) u16(x uint16) {
	w.buf = binary.LittleEndian.AppendUint16(w.buf[:0], x)
	w.bytes(w.buf)
}
func (w *segWriter) u32(x uint32) {
	w.buf = binary.LittleEndian.AppendUint32(w.buf[:0], x)
	w.bytes(w.buf)
}
func (w *segWriter) u64(x uint64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf[:0], x)
	w.bytes(w.buf)
}

// section pads to 8 bytes and returns the offset the next section starts at.
func (w *segWriter) section() uint64 {
	for w.off%8 != 0 {
		w.bytes([]byte{0})
	}
	return w.off
}

func encodeSegment(f *os.File, src *segSource) error {
	n := len(src.rows)
	// Intern the filter strings; id 0 is "".
	ids := map[string]uint32{"": 0}
	strs := []string{""}
	intern := func(s string) uint32 {
		if id, ok := ids[s]; ok {
			return id
		}
		id := uint32(len(strs))
		ids[s] = id
		strs = append(strs, s)
		return id
	}
	fieldIDs := make([]uint32, 0, nfields*n)
	var total int64
	for i := range src.rows {
		r := &src.rows[i]
		x := r.fields
		fieldIDs = append(fieldIDs, intern(x.DocID), intern(x.Type), intern(x.CustomerID), intern(x.ProductID),
			intern(x.EffectiveFrom), intern(x.EffectiveTo))
		total += int64(r.docLen)
	}
	var docs []uint32
	for i := 0; i < n; {
		j := i
		for j < n && src.rows[j].fields.DocID == src.rows[i].fields.DocID {
			j++
		}
		docs = append(docs, fieldIDs[nfields*i], uint32(i), uint32(j-i))
		i = j
	}
	terms := make([]string, 0, len(src.post))
	var npost uint64
	for t, ps := range src.post {
		terms = append(terms, t)
		npost += uint64(len(ps))
	}
	slices.Sort(terms)

	if _, err := f.Seek(int64(segHeaderSize), io.SeekStart); err != nil {
		return err
	}
	w := &segWriter{w: bufio.NewWriterSize(f, 1<<20), off: uint64(segHeaderSize)}
	var h [hCount]uint64
	h[hVersion], h[hIDLo], h[hIDHi], h[hGen] = segVersion, src.id[0], src.id[1], src.gen
	h[hDims], h[hN], h[hTotal] = uint64(src.dims), uint64(n), uint64(total)
	h[hNStr], h[hNTerms], h[hNPost], h[hNDocs] = uint64(len(strs)), uint64(len(terms)), npost, uint64(len(docs)/3)

	h[hDocLen] = w.section()
	for i := range src.rows {
		w.u32(uint32(src.rows[i].docLen))
	}
	h[hFields] = w.section()
	for _, id := range fieldIDs {
		w.u32(id)
	}
	h[hPos] = w.section()
	for i := range src.rows {
		w.u32(src.rows[i].pos)
	}
	h[hStrOff] = w.section()
	writeStrings(w, strs, &h[hStrBlob])
	h[hTermOff] = w.section()
	writeStrings(w, terms, &h[hTermBlob])
	h[hPostOff] = w.section()
	var at uint64
	for _, t := range terms {
		w.u64(at)
		at += uint64(len(src.post[t]))
	}
	w.u64(at)
	h[hPostSlot] = w.section()
	for _, t := range terms {
		for _, p := range src.post[t] {
			w.u32(uint32(p.slot))
		}
	}
	h[hPostTF] = w.section()
	for _, t := range terms {
		for _, p := range src.post[t] {
			w.u16(p.tf)
		}
	}
	h[hCols] = w.section()
	for d := range src.dims {
		for i := range src.rows {
			w.u32(math.Float32bits(src.value(src.rows[i].from, d)))
		}
	}
	h[hDocs] = w.section()
	for _, x := range docs {
		w.u32(x)
	}
	h[hEnd] = w.section()
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	hdr := make([]byte, 0, segHeaderSize)
	hdr = append(hdr, segMagic...)
	for i := range hCount - 1 {
		hdr = binary.LittleEndian.AppendUint64(hdr, h[i])
	}
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(crc32.ChecksumIEEE(hdr)))
	_, err := f.WriteAt(hdr, 0)
	return err
}

// writeStrings writes the offsets of strs, then (recording where) their bytes.
func writeStrings(w *segWriter, strs []string, blobAt *uint64) {
	var at uint64
	for _, s := range strs {
		w.u64(at)
		at += uint64(len(s))
	}
	w.u64(at)
	*blobAt = w.section()
	for _, s := range strs {
		w.bytes(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}
