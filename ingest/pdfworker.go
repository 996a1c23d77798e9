package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
)

// PDFWorkerCommand is the argument that turns a kefu process into a PDF
// worker (kefu pdf-worker): Options.PDFWorker is normally the running
// executable and this argument.
const PDFWorkerCommand = "pdf-worker"

// pdfRequest is the first line a PDF worker reads, before the PDF's bytes.
type pdfRequest struct {
	MaxPages  int   `json:"max_pages"`
	MaxChars  int   `json:"max_chars"`
	MaxMemory int64 `json:"max_memory"`
}

// pdfReply is one line a PDF worker writes: the title, one page's text,
// the end, or why it stopped (Limit: a limit, whose reason Err is).
type pdfReply struct {
	Title *string `json:"title,omitempty"`
	Page  *string `json:"page,omitempty"`
	Done  bool    `json:"done,omitempty"`
	Err   string  `json:"err,omitempty"`
	Limit bool    `json:"limit,omitempty"`
}

// maxPDFRequest bounds the request line.
const maxPDFRequest = 4 << 10

// pdfWorkerGrace is how long a PDF worker has to end after it is told to
// stop (its input closed, or killed) before its pipes are closed.
const pdfWorkerGrace = 2 * time.Second

// ServePDFWorker is the body of a PDF worker process: it reads a request
// line and a PDF from r, bounds its own memory as asked (on Linux, the
// process's data segment, so that an allocation past the bound ends the
// process instead of the machine's memory), and writes the PDF's title
// and page texts to w as JSON lines. It returns the process's exit status.
// It is meant to run alone in a process of its own, started by an
// Ingester with Options.PDFWorker; the memory bound lasts for the
// process's life.
func ServePDFWorker(r io.Reader, w io.Writer) int {
	out := &workerSink{w: bufio.NewWriter(w)}
	out.enc = json.NewEncoder(out.w)
	fail := func(err error) int {
		var le errPDFLimit
		_ = out.write(pdfReply{Err: err.Error(), Limit: errors.As(err, &le)})
		return 0
	}
	br := bufio.NewReader(r)
	line, err := br.ReadSlice('\n')
	if err != nil || len(line) > maxPDFRequest {
		return fail(errors.New("PDF worker: no request line"))
	}
	var req pdfRequest
	if err := json.Unmarshal(line, &req); err != nil || req.MaxPages <= 0 || req.MaxChars <= 0 || req.MaxMemory < minPDFMemory {
		return fail(errors.New("PDF worker: bad request line"))
	}
	if err := limitMemory(req.MaxMemory); err != nil {
		return fail(fmt.Errorf("PDF worker: bound memory: %w", err))
	}
	// Collect garbage hard before the bound is reached, and stop with a
	// clear reason shortly before it: the Go runtime does not always end
	// in a clean "out of memory" at the hard bound.
	debug.SetMemoryLimit(req.MaxMemory / 2)
	go watchMemory(req.MaxMemory/4*3, func() {
		_ = out.write(pdfReply{Err: tooMuchMemory(req.MaxMemory), Limit: true})
		os.Exit(0)
	})
	data, err := io.ReadAll(io.LimitReader(br, maxFileBytes+1))
	if err != nil {
		return fail(fmt.Errorf("PDF worker: read input: %w", err))
	}
	if len(data) > maxFileBytes {
		return fail(fmt.Errorf("file too large (over %d MiB)", maxFileBytes>>20))
	}
	out.limits = Limits{MaxChars: req.MaxChars}
	if err := readPDF(context.Background(), bytes.NewReader(data), int64(len(data)), req.MaxPages, out); err != nil {
		return fail(err)
	}
	if out.err != nil {
		return 1
	}
	_ = out.write(pdfReply{Done: true})
	return 0
}

// watchMemory calls over, from its own goroutine, once the memory the Go
// runtime has mapped passes limit. It polls often enough that a reader
// allocating a gigabyte a second overshoots by a few megabytes only.
func watchMemory(limit int64, over func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	for range time.Tick(2 * time.Millisecond) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && int64(sample[0].Value.Uint64()) > limit {
			over()
			return
		}
	}
}

// workerSink writes what readPDF finds as reply lines, counting the
// characters against the limit.
type workerSink struct {
	mu     sync.Mutex // one reply at a time: the memory watch may write too
	enc    *json.Encoder
	w      *bufio.Writer
	limits Limits
	chars  int
	err    error
}

func (s *workerSink) setTitle(title string) {
	s.write(pdfReply{Title: &title})
}

func (s *workerSink) page(text string) error {
	s.chars += len([]rune(text))
	if s.chars > s.limits.MaxChars {
		return errPDFLimit{tooManyChars(s.limits.MaxChars)}
	}
	return s.write(pdfReply{Page: &text})
}

func (s *workerSink) write(r pdfReply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.enc.Encode(r)
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// pdfWorker extracts a PDF's text in a worker process (Options.PDFWorker),
// which is killed when ctx ends or when the text passes the limit. The
// process gets no environment, so none of the server's secrets.
func (in *Ingester) pdfWorker(ctx context.Context, data []byte, lim Limits, out *pdfText) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	argv := in.opts.PDFWorker
	cmd := exec.CommandContext(wctx, argv[0], argv[1:]...)
	cmd.Env = []string{}
	cmd.WaitDelay = pdfWorkerGrace
	req, _ := json.Marshal(pdfRequest{MaxPages: lim.MaxPDFPages, MaxChars: lim.MaxChars, MaxMemory: lim.PDFMemory})
	cmd.Stdin = io.MultiReader(bytes.NewReader(append(req, '\n')), bytes.NewReader(data))
	stderr := &head{max: 4 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start PDF worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start PDF worker: %w", err)
	}
	// JSON escapes at most six bytes per character; the rest is framing.
	dec := json.NewDecoder(bufio.NewReader(io.LimitReader(stdout, int64(lim.MaxChars)*6+1<<20)))
	var (
		done    bool
		stopErr error
	)
	for stopErr == nil && !done {
		var r pdfReply
		if err := dec.Decode(&r); err != nil {
			break
		}
		switch {
		case r.Title != nil:
			out.setTitle(*r.Title)
		case r.Page != nil:
			stopErr = out.page(*r.Page)
		case r.Err != "" && r.Limit:
			stopErr = errPDFLimit{r.Err}
		case r.Err != "":
			stopErr = errors.New(r.Err)
		case r.Done:
			done = true
		}
	}
	if stopErr != nil || !done {
		cancel() // a worker that is not done is not waited for
	}
	waitErr := cmd.Wait()
	switch {
	case stopErr != nil:
		return stopErr
	case done:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case strings.Contains(stderr.String(), "out of memory"):
		return errPDFLimit{tooMuchMemory(lim.PDFMemory)}
	case waitErr != nil:
		// The Go runtime may also end in a fault when memory runs out.
		return errPDFLimit{fmt.Sprintf("the PDF reader ended abnormally (%v): the PDF is malformed or needs more than %d MiB of memory, the limit per PDF (ingest.pdf_max_memory_bytes)", waitErr, lim.PDFMemory>>20)}
	}
	return errors.New("the PDF reader ended without the text")
}

// head keeps the first max bytes written to it: where the Go runtime
// says why it ended a process.
type head struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (h *head) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.max - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (h *head) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.b)
}
