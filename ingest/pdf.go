package ingest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/ledongthuc/pdf"
)

// maxPDFPages bounds the pages read from one PDF; a malformed page count
// must not keep a run busy.
const maxPDFPages = 5000

// loadPDF reads the text layer of a PDF, one paragraph break between pages.
func (in *Ingester) loadPDF(fsys fs.FS, f file, s sink) error {
	data, err := readFile(fsys, f.name)
	if err != nil {
		s.fail(0, 0, err.Error())
		return nil
	}
	title, pages, err := readPDF(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		s.fail(0, 0, err.Error())
		return nil
	}
	var kept []string
	for _, p := range pages {
		if p = cleanText(p); p != "" {
			kept = append(kept, p)
		}
	}
	text := strings.Join(kept, "\n\n")
	if text == "" {
		s.fail(0, 0, "no text layer (scanned PDF?)")
		return nil
	}
	return s.emit(in.proseUnit(f, prose{title: title, text: text, sections: []section{{body: text}}}))
}

// readPDF returns a PDF's document title and the plain text of each page.
// The PDF reader reports some malformed input by panicking; that is turned
// into an error here so that one bad file cannot end a run.
func readPDF(ra io.ReaderAt, size int64) (title string, pages []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			title, pages, err = "", nil, fmt.Errorf("malformed PDF: %v", v)
		}
	}()
	r, err := pdf.NewReader(ra, size)
	if err != nil {
		return "", nil, fmt.Errorf("read PDF: %w", err)
	}
	if info := r.Trailer().Key("Info"); !info.IsNull() {
		title = oneLine(info.Key("Title").Text())
	}
	n := min(r.NumPage(), maxPDFPages)
	for i := 1; i <= n; i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		// nil: use the page's own fonts to decode its text.
		text, err := p.GetPlainText(nil)
		if err != nil {
			return "", nil, fmt.Errorf("read PDF page %d: %w", i, err)
		}
		pages = append(pages, text)
	}
	return title, pages, nil
}
