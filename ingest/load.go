package ingest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/kefuhq/kefu"
)

// maxFileBytes bounds the files read whole (all but JSONL, which is read a
// line at a time).
const maxFileBytes = 64 << 20

// unit is one document as loaded, before hashing and chunking.
type unit struct {
	doc      kefu.Document
	sections []section
	line     int // 1-based line the record starts on, 0 if n/a
	record   int // 1-based record number in a JSON file, 0 if n/a
}

// sink receives what a loader finds in one file. emit returns an error
// only when the run must stop.
type sink interface {
	emit(u unit) error
	fail(line, record int, reason string)
	// skip reports a part of the file deliberately left out.
	skip(line, record int, reason string)
}

// fileSink passes one file's documents to the run.
type fileSink struct {
	r *run
	f file
}

func (s *fileSink) emit(u unit) error {
	where := s.f.path
	switch {
	case u.line > 0:
		where += ":" + strconv.Itoa(u.line)
	case u.record > 0:
		where += " record " + strconv.Itoa(u.record)
	}
	reason, err := s.r.add(u, where)
	if err != nil {
		return err
	}
	if reason != "" {
		s.fail(u.line, u.record, reason)
	}
	return nil
}

func (s *fileSink) fail(line, record int, reason string) {
	s.r.fail(s.f.source, FileError{File: s.f.path, Line: line, Record: record, Reason: reason})
}

func (s *fileSink) skip(line, record int, reason string) {
	e := FileError{File: s.f.path, Line: line, Record: record, Reason: reason}
	s.r.sum.Skipped = append(s.r.sum.Skipped, e)
	if s.r.cur != nil {
		s.r.cur.Skipped = append(s.r.cur.Skipped, e)
	}
}

// loadTo reads one file, passing its documents and failures to s.
func (in *Ingester) loadTo(ctx context.Context, fsys fs.FS, f file, s sink) error {
	format := formats[strings.ToLower(path.Ext(f.name))]
	switch format {
	case "csv", "json", "jsonl":
		if reason := in.excludedFile(f.source); reason != "" {
			s.skip(0, 0, reason)
			return nil
		}
	}
	if format == "jsonl" {
		return in.loadJSONL(ctx, fsys, f, s)
	}
	if format == "pdf" {
		return in.loadPDF(ctx, fsys, f, s)
	}
	data, err := readFile(fsys, f.name)
	if err != nil {
		s.fail(0, 0, err.Error())
		return nil
	}
	text, err := decodeText(data)
	if err != nil {
		s.fail(0, 0, err.Error())
		return nil
	}
	switch format {
	case "markdown":
		md, err := parseMarkdown(cleanText(text), true)
		if err != nil {
			s.fail(0, 0, err.Error())
			return nil
		}
		return in.emitMarkdown(f, md, prose{}, s)
	case "html":
		p, mdText, err := htmlToMarkdown(text)
		if err != nil {
			s.fail(0, 0, err.Error())
			return nil
		}
		md, _ := parseMarkdown(cleanText(mdText), false)
		return in.emitMarkdown(f, md, p, s)
	case "text":
		body := cleanText(text)
		return s.emit(in.proseUnit(f, prose{text: body, sections: []section{{body: body}}}))
	case "csv":
		return in.loadCSV(ctx, f, text, s)
	case "json":
		return in.loadJSON(ctx, f, text, s)
	}
	s.fail(0, 0, unsupported(path.Ext(f.name)))
	return nil
}

// readFile reads a whole file of at most maxFileBytes.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	fh, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open: %s", statReason(err))
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %s", statReason(err))
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("file too large (over %d MiB)", maxFileBytes>>20)
	}
	return data, nil
}

// prose is what a prose loader knows about its file beyond the text.
type prose struct {
	title      string            // explicit title: front matter, <title>, PDF info
	h1         string            // first level-1 heading
	typ        string            // front matter type
	locale     string            // front matter locale
	weakLocale string            // a page's declared language, often a template default
	customer   string            // front matter customer id
	meta       map[string]string // front matter
	text       string
	sections   []section
}

// emitMarkdown turns parsed Markdown into a document.
func (in *Ingester) emitMarkdown(f file, md markdown, p prose, s sink) error {
	p.h1, p.text, p.sections = md.h1, md.body, md.sections
	meta := map[string]string{}
	for k, v := range md.front {
		switch k {
		case "title":
			p.title = v
		case "locale", "lang", "language":
			p.locale = normLocale(v)
		case "type":
			t := strings.ToLower(v)
			if !isDocType(t) {
				s.fail(0, 0, fmt.Sprintf("front matter type %q is not one of %s", v, strings.Join(kefu.DocTypes, ", ")))
				return nil
			}
			p.typ = t
		default:
			if isCustomerKey(k) {
				p.customer = v
				continue
			}
			meta[k] = v
		}
	}
	if len(meta) > 0 {
		p.meta = meta
	}
	return s.emit(in.proseUnit(f, p))
}

// proseUnit makes the document of a prose file, whose ID is its source.
func (in *Ingester) proseUnit(f file, p prose) unit {
	name := path.Base(f.source)
	typ := in.forcedType()
	if typ == "" {
		typ = p.typ
	}
	if typ == "" {
		// A prose file is never an order by its name alone: an order
		// needs its customer, which only front matter can give.
		if t := typeOfName(name); t != kefu.TypeOrder {
			typ = t
		}
	}
	if typ == "" {
		typ = kefu.TypePolicy
	}
	title := firstNonEmpty(p.title, p.h1, titleOfName(name))
	locale := firstNonEmpty(p.locale, localeOfName(name), detectLocale(p.text), normLocale(p.weakLocale))
	doc := kefu.Document{
		ID:     f.source,
		Type:   typ,
		Title:  oneLine(title),
		Source: f.source,
		Locale: locale,
		Text:   p.text,
		Meta:   p.meta,
	}
	if typ == kefu.TypeOrder {
		doc.CustomerID = p.customer
	}
	return unit{doc: doc, sections: p.sections}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// oneLine collapses white space and drops invalid UTF-8, for titles.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
}
