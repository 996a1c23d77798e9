package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/kefuhq/kefu"
)

// A JSON value decoded in source order: object, array, string, json.Number,
// bool or nil.
type (
	object []field
	array  []elem
	field  struct {
		key string
		val any
		off int64 // byte offset of the key in the input
	}
	elem struct {
		val any
		off int64 // byte offset of the value in the input
	}
)

// maxDepth bounds the nesting of JSON values.
const maxDepth = 64

// maxLineBytes bounds one line of a JSONL file.
const maxLineBytes = 16 << 20

// record is one structured record, before it becomes a document.
type record struct {
	fields object
	line   int    // 1-based line it starts on, 0 if unknown
	index  int    // 1-based position in a JSON file, 0 for line-based formats
	key    string // its key, in a JSON object of records keyed by id
	hint   string // document type suggested by a wrapping key ("orders")
	kind   string // what the value is when it is not an object ("a string")
	// path holds the keys that wrap the record in a nested JSON file,
	// outermost first: {"jd": {"shop-1": {"P1": {...}}}} gives jd, shop-1.
	path []string
	// render, when set, is what the document shows in place of fields: the
	// merged rows of a group (Options.GroupBy).
	render object
}

// decodeValue reads the next JSON value, keeping object keys in order.
func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return decodeFrom(dec, tok, depth)
}

func decodeFrom(dec *json.Decoder, tok json.Token, depth int) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("values nested more than %d deep", maxDepth)
	}
	switch d {
	case '{':
		obj := object{}
		for dec.More() {
			off := dec.InputOffset()
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, ok := kt.(string)
			if !ok {
				return nil, fmt.Errorf("object key is not a string")
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, field{k, v, off})
		}
		_, err := dec.Token() // '}'
		return obj, err
	case '[':
		arr := array{}
		for dec.More() {
			off := dec.InputOffset()
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, elem{v, off})
		}
		_, err := dec.Token() // ']'
		return arr, err
	}
	return nil, fmt.Errorf("unexpected %q", d)
}

// lines maps byte offsets to 1-based line numbers.
type lines []int // offsets of '\n'

func newLines(text string) lines {
	var ls lines
	for i := range len(text) {
		if text[i] == '\n' {
			ls = append(ls, i)
		}
	}
	return ls
}

// at returns the line of the first value character at or after off,
// skipping white space and commas.
func (ls lines) at(text string, off int64) int {
	o := int(off)
	for o < len(text) && strings.IndexByte(" \t\r\n,:", text[o]) >= 0 {
		o++
	}
	return sort.SearchInts(ls, o) + 1
}

// jsonError describes a decoding error and the line it happened on.
func jsonError(err error, dec *json.Decoder, text string, ls lines) (int, string) {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ls.at(text, int64(len(text))), "invalid JSON: unexpected end of file"
	}
	return ls.at(text, max(off-1, 0)), "invalid JSON: " + err.Error()
}

// loadJSON reads a JSON file: an array of records, an object of records
// keyed by id, collections of records under keys that name them
// ({"products": {...}, "orders": [...]}) and levels of keys around them
// (see recordsOf), or a single record.
func (in *Ingester) loadJSON(ctx context.Context, f file, text string, s sink) error {
	rs := in.newRecords(f, s)
	if err := in.readJSON(ctx, text, rs); err != nil {
		return err
	}
	return rs.flush(ctx)
}

func (in *Ingester) readJSON(ctx context.Context, text string, s *records) error {
	ls := newLines(text)
	if v, err := parseJSON(text); err == nil {
		return in.emitJSON(ctx, v, text, ls, s)
	}
	// Not valid JSON: decoded again token by token, to keep the records
	// before the error and report it precisely.
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		s.fail(0, 0, "empty file")
		return nil
	}
	if err != nil {
		line, reason := jsonError(err, dec, text, ls)
		s.fail(line, 0, reason)
		return nil
	}
	var recs []record
	switch tok {
	case json.Delim('['):
		// Stream the array: records before a syntax error still count.
		idx := 0
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("ingest: %w", err)
			}
			idx++
			off := dec.InputOffset()
			v, err := decodeValue(dec, 1)
			if err != nil {
				line, reason := jsonError(err, dec, text, ls)
				s.fail(line, idx, reason)
				return nil
			}
			if err := s.add(recordOf(v, record{line: ls.at(text, off), index: idx})); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			line, reason := jsonError(err, dec, text, ls)
			s.fail(line, 0, reason)
			return nil
		}
	case json.Delim('{'):
		v, err := decodeFrom(dec, tok, 0)
		if err != nil {
			line, reason := jsonError(err, dec, text, ls)
			s.fail(line, 0, reason)
			return nil
		}
		recs = in.recordsOf(v.(object), text, ls, func(line int, reason string) { s.skip(line, 0, reason) })
	default:
		s.fail(1, 0, "want a JSON array or object of records")
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		s.fail(ls.at(text, dec.InputOffset()), 0, "unexpected data after the JSON value")
		// The value itself was read whole; keep its records.
	}
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		if err := s.add(rec); err != nil {
			return err
		}
	}
	return nil
}

// emitJSON passes on the records of a whole decoded JSON file.
func (in *Ingester) emitJSON(ctx context.Context, v any, text string, ls lines, s *records) error {
	var recs []record
	switch v := v.(type) {
	case array:
		recs = make([]record, len(v))
		for i, e := range v {
			recs[i] = recordOf(e.val, record{line: ls.at(text, e.off), index: i + 1})
		}
	case object:
		recs = in.recordsOf(v, text, ls, func(line int, reason string) { s.skip(line, 0, reason) })
	default:
		s.fail(1, 0, "want a JSON array or object of records")
		return nil
	}
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		if err := s.add(rec); err != nil {
			return err
		}
	}
	return nil
}

// recordOf fills rec with v, an object or a value that fails as a record.
func recordOf(v any, rec record) record {
	if obj, ok := v.(object); ok {
		rec.fields = obj
	} else {
		rec.kind = kindOf(v)
	}
	return rec
}

func hasObject(a array) bool {
	for _, e := range a {
		if _, ok := e.val.(object); ok {
			return true
		}
	}
	return false
}

func allObjects(o object) bool {
	if len(o) == 0 {
		return false
	}
	for _, f := range o {
		if _, ok := f.val.(object); !ok {
			return false
		}
	}
	return true
}

func kindOf(v any) string {
	switch v.(type) {
	case object:
		return "an object"
	case array:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// loadJSONL reads one JSON object per line. A bad line fails alone.
func (in *Ingester) loadJSONL(ctx context.Context, fsys fs.FS, f file, s sink) error {
	fh, err := fsys.Open(f.name)
	if err != nil {
		s.fail(0, 0, "open: "+statReason(err))
		return nil
	}
	defer fh.Close()
	rs := in.newRecords(f, s)
	if err := in.readJSONL(ctx, fh, rs); err != nil {
		return err
	}
	return rs.flush(ctx)
}

func (in *Ingester) readJSONL(ctx context.Context, rd io.Reader, s *records) error {
	br := bufio.NewReaderSize(rd, 64<<10)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		line, tooLong, err := readLine(br)
		if err != nil && err != io.EOF {
			s.fail(n, 0, "read: "+err.Error())
			return nil
		}
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil
		}
		if tooLong {
			s.fail(n, 0, fmt.Sprintf("line longer than %d MiB", maxLineBytes>>20))
		} else if err := in.jsonLine(n, line, s); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}

// jsonLine handles one JSONL line.
func (in *Ingester) jsonLine(n int, line []byte, s *records) error {
	if n == 1 {
		line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
	}
	text, err := decodeText(line)
	if err != nil {
		s.fail(n, 0, err.Error())
		return nil
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.fail(n, 0, "invalid JSON: unexpected end of line")
		} else {
			s.fail(n, 0, "invalid JSON: "+err.Error())
		}
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		s.fail(n, 0, "invalid JSON: more than one value on the line")
		return nil
	}
	obj, ok := v.(object)
	if !ok {
		s.fail(n, 0, fmt.Sprintf("line is %s, not a JSON object", kindOf(v)))
		return nil
	}
	return s.add(record{fields: obj, line: n})
}

// readLine reads one line without its line break. A line longer than
// maxLineBytes is skipped and reported with tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		part, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(part) > maxLineBytes {
				tooLong, line = true, nil
			} else {
				line = append(line, part...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// loadCSV reads a CSV file with a header row; each further row is a
// record. Commas, semicolons and tabs are recognised as separators.
func (in *Ingester) loadCSV(ctx context.Context, f file, text string, s sink) error {
	rs := in.newRecords(f, s)
	if err := in.readCSV(ctx, text, rs); err != nil {
		return err
	}
	return rs.flush(ctx)
}

func (in *Ingester) readCSV(ctx context.Context, text string, s *records) error {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = csvComma(text)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		s.fail(0, 0, "empty file")
		return nil
	}
	if err != nil {
		s.fail(1, 0, "invalid CSV header: "+csvReason(err))
		return nil
	}
	keys := make([]string, len(header))
	for i, h := range header {
		if keys[i] = strings.TrimSpace(h); keys[i] == "" {
			keys[i] = fmt.Sprintf("column %d", i+1)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		row, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			s.fail(line, 0, "invalid CSV: "+csvReason(err))
			continue
		}
		if len(row) > len(keys) {
			s.fail(line, 0, fmt.Sprintf("row has %d fields, the header %d", len(row), len(keys)))
			continue
		}
		obj := make(object, 0, len(row))
		empty := true
		for i, v := range row {
			if v = strings.TrimSpace(v); v != "" {
				empty = false
			}
			obj = append(obj, field{key: keys[i], val: v})
		}
		if empty {
			continue // a row of empty cells, like a blank line
		}
		if err := s.add(record{fields: obj, line: line}); err != nil {
			return err
		}
	}
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// csvComma picks the separator that splits the header line most.
func csvComma(text string) rune {
	header, _, _ := strings.Cut(text, "\n")
	best, n := ',', strings.Count(header, ",")
	for _, c := range []rune{';', '\t'} {
		if k := strings.Count(header, string(c)); k > n {
			best, n = c, k
		}
	}
	return best
}

// setProduct gives a record's document its product id
// (kefu.MetaProductID), as Options.ProductField describes, or says why the
// record fails. A product id already in the document's meta (a field named
// product_id among the levels, say) is replaced only by the named field.
func (in *Ingester) setProduct(u *unit, f file, rec record) string {
	id := ""
	if name := in.opts.ProductField; name != "" {
		id, _ = rec.fields.scalar(name)
		for i, level := range in.opts.Levels {
			if id == "" && i < len(rec.path) && normKey(strings.TrimSpace(level)) == normKey(name) {
				id = strings.TrimSpace(rec.path[i])
			}
		}
		if id != "" {
			if err := kefu.CheckProductID(id); err != nil {
				return fmt.Sprintf("record %s: product id from %q: %s", recordName(u.doc.ID, f), name, kefu.ErrorMessage(err))
			}
		}
	}
	if id == "" && u.doc.Type == kefu.TypeProduct && u.doc.Meta[kefu.MetaProductID] == "" {
		if own, ok := strings.CutPrefix(u.doc.ID, f.source+"#"); ok && kefu.CheckProductID(own) == nil {
			id = own
		}
	}
	if id == "" {
		return ""
	}
	if u.doc.Meta == nil {
		u.doc.Meta = map[string]string{}
	}
	u.doc.Meta[kefu.MetaProductID] = id
	return ""
}

// recordName is a record's id as its document id ends with it.
func recordName(docID string, f file) string {
	if id, ok := strings.CutPrefix(docID, f.source+"#"); ok {
		return id
	}
	return docID
}
