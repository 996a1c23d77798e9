package ingest

import (
	"fmt"
	"time"

	"github.com/kefuhq/kefu"
)

// Limits bound what one file may cost a run. A file over a limit fails
// alone, with a reason naming the limit; the run goes on with the next
// file. The zero value of a field means its default.
type Limits struct {
	// MaxPDFPages is the most pages a PDF may have (default 1000).
	MaxPDFPages int
	// MaxChars is the most characters of text one document may have
	// (default 1,000,000, about 600 pages of prose); a PDF stops being read
	// when its text passes it.
	MaxChars int
	// MaxChunks is the most chunks one document may be cut into (default
	// 3000).
	MaxChunks int
	// FileTimeout bounds reading one file: opening, parsing, extracting a
	// PDF's text and chunking its documents (default 1m). Embedding and
	// storing are bounded by the run's context instead.
	FileTimeout time.Duration
	// PDFMemory bounds the memory of the process that reads a PDF, when
	// Options.PDFWorker is set (default 512 MiB). A PDF that needs more
	// fails.
	PDFMemory int64
}

// Defaults of Limits.
const (
	DefaultMaxPDFPages = 1000
	DefaultMaxChars    = 1_000_000
	DefaultMaxChunks   = 3000
	DefaultFileTimeout = time.Minute
	DefaultPDFMemory   = 512 << 20

	// minPDFMemory is the least a PDF worker is given: the Go runtime
	// and the reader need some to start at all.
	minPDFMemory = 32 << 20
)

// withDefaults returns l with its zero fields set to their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxPDFPages == 0 {
		l.MaxPDFPages = DefaultMaxPDFPages
	}
	if l.MaxChars == 0 {
		l.MaxChars = DefaultMaxChars
	}
	if l.MaxChunks == 0 {
		l.MaxChunks = DefaultMaxChunks
	}
	if l.FileTimeout == 0 {
		l.FileTimeout = DefaultFileTimeout
	}
	if l.PDFMemory == 0 {
		l.PDFMemory = DefaultPDFMemory
	}
	return l
}

func (l Limits) check() error {
	if l.MaxPDFPages < 0 || l.MaxChars < 0 || l.MaxChunks < 0 || l.FileTimeout < 0 || l.PDFMemory < 0 {
		return kefu.Errorf(kefu.EInvalid, "ingest limits must not be negative")
	}
	if l.PDFMemory != 0 && l.PDFMemory < minPDFMemory {
		return kefu.Errorf(kefu.EInvalid, "PDF worker memory %d bytes is too small (at least %d MiB)", l.PDFMemory, minPDFMemory>>20)
	}
	return nil
}

// The reasons a file fails a limit with. Each names the setting of kefu's
// configuration that raises the limit.
func tooManyPages(n, limit int) string {
	return fmt.Sprintf("PDF has %d pages, over the limit of %d pages per document (ingest.max_pdf_pages)", n, limit)
}

func tooManyChars(limit int) string {
	return fmt.Sprintf("document has more than %d characters of text, the limit per document (ingest.max_document_chars)", limit)
}

func tooManyChunks(n, limit int) string {
	return fmt.Sprintf("document cuts into %d chunks, over the limit of %d chunks per document (ingest.max_document_chunks)", n, limit)
}

func tooSlow(limit time.Duration) string {
	return fmt.Sprintf("reading the file took longer than %s, the limit per file (ingest.document_timeout)", limit)
}

func tooMuchMemory(limit int64) string {
	return fmt.Sprintf("reading the PDF needs more than %d MiB of memory, the limit per PDF (ingest.pdf_max_memory_bytes)", limit>>20)
}
