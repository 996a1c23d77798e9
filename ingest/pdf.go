package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// errPDFLimit is a PDF over one of the Limits; its message is the reason.
type errPDFLimit struct{ reason string }

func (e errPDFLimit) Error() string { return e.reason }

// loadPDF reads the text layer of a PDF, one paragraph break between pages.
// With Options.PDFWorker set, the text is extracted in a separate process
// bounded in memory and killed when ctx ends (see pdfworker.go); without,
// in this process, bounded in pages and characters only.
func (in *Ingester) loadPDF(ctx context.Context, fsys fs.FS, f file, s sink) error {
	data, err := readFile(fsys, f.name)
	if err != nil {
		s.fail(0, 0, err.Error())
		return nil
	}
	lim := in.opts.Limits.withDefaults()
	var doc pdfText
	doc.limits = lim
	if len(in.opts.PDFWorker) > 0 {
		err = in.pdfWorker(ctx, data, lim, &doc)
	} else {
		err = readPDF(ctx, bytes.NewReader(data), int64(len(data)), lim.MaxPDFPages, &doc)
	}
	var le errPDFLimit
	switch {
	case errors.As(err, &le):
		s.fail(0, 0, le.reason)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		s.fail(0, 0, err.Error())
		return nil
	}
	var kept []string
	for _, p := range doc.pages {
		if p = cleanText(p); p != "" {
			kept = append(kept, p)
		}
	}
	text := strings.Join(kept, "\n\n")
	if text == "" {
		s.fail(0, 0, "no text layer (scanned PDF?)")
		return nil
	}
	return s.emit(in.proseUnit(f, prose{title: doc.title, text: text, sections: []section{{body: text}}}))
}

// pdfSink receives what readPDF finds: the title once, then each page's
// text in order. An error from page stops the reading.
type pdfSink interface {
	setTitle(title string)
	page(text string) error
}

// pdfText gathers a PDF's text within the limits.
type pdfText struct {
	limits Limits
	title  string
	pages  []string
	chars  int
}

func (d *pdfText) setTitle(title string) { d.title = title }

func (d *pdfText) page(text string) error {
	d.chars += utf8.RuneCountInString(text)
	if d.chars > d.limits.MaxChars {
		return errPDFLimit{tooManyChars(d.limits.MaxChars)}
	}
	d.pages = append(d.pages, text)
	return nil
}

// readPDF passes a PDF's document title and the plain text of each page to
// out. A PDF of more than maxPages pages fails with errPDFLimit before any
// page is read; ctx is checked between pages. The PDF reader reports some
// malformed input by panicking; that is turned into an error here so that
// one bad file cannot end a run.
//
// In this process nothing bounds the memory the reader takes for one page
// (a small compressed content stream can expand to gigabytes of operands);
// the PDF worker process exists for that.
func readPDF(ctx context.Context, ra io.ReaderAt, size int64, maxPages int, out pdfSink) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed PDF: %v", v)
		}
	}()
	r, err := pdf.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("read PDF: %w", err)
	}
	if info := r.Trailer().Key("Info"); !info.IsNull() {
		out.setTitle(oneLine(info.Key("Title").Text()))
	}
	n := r.NumPage()
	if n > maxPages {
		return errPDFLimit{tooManyPages(n, maxPages)}
	}
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		// nil: use the page's own fonts to decode its text.
		text, err := p.GetPlainText(nil)
		if err != nil {
			return fmt.Errorf("read PDF page %d: %w", i, err)
		}
		if err := out.page(text); err != nil {
			return err
		}
	}
	return nil
}
