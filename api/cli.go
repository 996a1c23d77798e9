package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

// CLIIngestFunc ingests the roots paths of fsys with opts (as
// ingest.Ingester.RunFS does), checked by gate on the golden cases when
// gate is set, as kefu ingest --gate does.
type CLIIngestFunc func(ctx context.Context, fsys fs.FS, opts ingest.Options, gate *eval.Gate, golden []eval.Case, paths ...string) (ingest.Summary, error)

// CLIDeps are what the command line's endpoints serve. Token is the
// credential every request must carry (Authorization: Bearer); without one
// every request is refused. Answerer runs turns, Ingest loads documents,
// Chunks lists every chunk (for kefu eval --baseline; nil when the store
// cannot), Status says what the server holds.
type CLIDeps struct {
	Token    string
	Answerer Answerer
	Ingest   CLIIngestFunc
	Chunks   func(ctx context.Context, fn func(kefu.Chunk) error) error
	Status   func(ctx context.Context) (CLIStatus, error)
	Logger   *slog.Logger
}

// Bounds of the command line's endpoints.
const (
	// CLIMaxFiles bounds the files of one ingest, CLIMaxFileBytes each
	// file, CLIMaxUploadBytes all of them together.
	CLIMaxFiles       = 20000
	CLIMaxFileBytes   = 256 << 20
	CLIMaxUploadBytes = 2 << 30
	// CLIMaxGoldenBytes bounds the golden set of a gated ingest.
	CLIMaxGoldenBytes = 16 << 20
	// CLIMaxPaths bounds the roots of one ingest.
	CLIMaxPaths = 1000
	// CLIUploadTimeout bounds reading an ingest's files, CLIIngestTimeout
	// the whole ingest, CLITurnTimeout one turn.
	CLIUploadTimeout = 30 * time.Minute
	CLIIngestTimeout = 2 * time.Hour
	CLITurnTimeout   = 5 * time.Minute

	cliMaxTurnBytes    = 4 << 20
	cliTurnReadTimeout = 30 * time.Second
	cliMaxRequestBytes = 1 << 20
	cliMaxPathLen      = 4096
	cliMaxInFlight     = 4
)

// cliServer serves the command line's endpoints.
type cliServer struct {
	deps  CLIDeps
	log   *slog.Logger
	slots chan struct{}
}

// NewCLIHandler returns the command line's endpoints, for a listener of
// their own on the loopback interface: GET /v1/cli/status, POST
// /v1/cli/turn, POST /v1/cli/ingest and GET /v1/cli/chunks. A request must
// come from a loopback address, directly (a request bearing a proxy's
// forwarding headers is refused), with the credential; the credential is
// never logged. At most a few requests run at once; more get 503.
func NewCLIHandler(deps CLIDeps) http.Handler {
	h := &cliServer{deps: deps, log: deps.Logger, slots: make(chan struct{}, cliMaxInFlight)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(h.logRequests, gin.CustomRecovery(func(c *gin.Context, v any) {
		h.fail(c, fmt.Errorf("panic: %v", v))
	}), h.authenticate, h.limit)
	r.GET("/v1/cli/status", h.status)
	r.POST("/v1/cli/turn", h.turn)
	r.POST("/v1/cli/ingest", h.ingest)
	r.GET("/v1/cli/chunks", h.chunks)
	r.NoRoute(func(c *gin.Context) {
		h.fail(c, kefu.Errorf(kefu.ENotFound, "no route for %s %s", c.Request.Method, clip(c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		h.fail(c, kefu.Errorf(codeMethodNotAllowed, "method %s is not allowed on %s", c.Request.Method, clip(c.Request.URL.Path)))
	})
	return r
}

// logRequests logs one line per request: method, route, status, time and
// the error's code, never a header.
func (h *cliServer) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
	}
	level := slog.LevelInfo
	if len(c.Errors) > 0 {
		attrs = append(attrs, slog.String("code", kefu.ErrorCode(c.Errors.Last().Err)))
		if c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
	}
	h.log.LogAttrs(context.WithoutCancel(c.Request.Context()), level, "cli request", attrs...)
}

// authenticate admits a request from a loopback address, not forwarded
// by a proxy, that carries the credential.
func (h *cliServer) authenticate(c *gin.Context) {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	ip, perr := netip.ParseAddr(host)
	if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
		h.fail(c, kefu.Errorf(kefu.EForbidden, "the command line's endpoints answer this machine only"))
		return
	}
	for _, hdr := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if c.GetHeader(hdr) != "" {
			h.fail(c, kefu.Errorf(kefu.EForbidden, "the command line's endpoints are not served through a proxy"))
			return
		}
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || h.deps.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.deps.Token)) != 1 {
		h.fail(c, kefu.Errorf(kefu.EUnauthorized, "the command line's credential is missing or wrong"))
		return
	}
	c.Next()
}

// limit bounds the requests running at once.
func (h *cliServer) limit(c *gin.Context) {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
		c.Next()
	default:
		h.fail(c, kefu.Errorf(kefu.EUnavailable, "the server is busy with other kefu commands; try again"))
	}
}

// fail replies with err, cause included, unless the reply has begun.
func (h *cliServer) fail(c *gin.Context, err error) {
	_ = c.Error(err)
	if c.Writer.Written() {
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(errorStatus(kefu.ErrorCode(err)), CLIErrorResponse{Error: *NewCLIError(err)})
}

// NewCLIError is err as the command line shows it.
func NewCLIError(err error) *CLIError {
	var ke *kefu.Error
	if errors.As(err, &ke) {
		e := &CLIError{Code: ke.Code, Message: ke.Message}
		if ke.Err != nil {
			e.Cause = ke.Err.Error()
		}
		return e
	}
	return &CLIError{Code: kefu.EInternal, Text: err.Error()}
}

// Err turns a CLIError back into the error it describes: a *kefu.Error
// with the same code, message and cause text, or an error with its text.
func (e *CLIError) Err() error {
	if e.Message == "" {
		text := e.Text
		if text == "" {
			text = "the server failed (code " + e.Code + ")"
		}
		return errors.New(text)
	}
	ke := &kefu.Error{Code: e.Code, Message: e.Message}
	if e.Cause != "" {
		ke.Err = errors.New(e.Cause)
	}
	return ke
}

func (h *cliServer) status(c *gin.Context) {
	if h.deps.Status == nil {
		h.fail(c, kefu.Errorf(kefu.EUnavailable, "no status on this server"))
		return
	}
	st, err := h.deps.Status(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// turn is POST /v1/cli/turn: one turn through the pipeline, gathered.
func (h *cliServer) turn(c *gin.Context) {
	if h.deps.Answerer == nil {
		h.fail(c, kefu.Errorf(kefu.EUnavailable, "this server does not answer"))
		return
	}
	var req CLITurnRequest
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(cliTurnReadTimeout)) // unsupported by test recorders
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, cliMaxTurnBytes))
	err := dec.Decode(&req)
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(c, kefu.Errorf(kefu.ETooLarge, "a turn is at most %s", mib(cliMaxTurnBytes)))
			return
		}
		h.fail(c, kefu.WrapError(kefu.EInvalid, "the turn is not valid JSON", err))
		return
	}
	switch {
	case strings.TrimSpace(req.Message) == "":
		h.fail(c, kefu.Errorf(kefu.EInvalid, "the question is empty"))
		return
	case req.CustomerID != "" && !auth.ValidCustomerID(req.CustomerID):
		h.fail(c, kefu.Errorf(kefu.EInvalid, "customer id %q has characters outside A-Z a-z 0-9 _ . @ -", clip(req.CustomerID)))
		return
	}
	if err := kefu.CheckProductID(req.ProductID); err != nil {
		h.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), CLITurnTimeout)
	defer cancel()
	res, err := rag.Collect(h.deps.Answerer.Stream(ctx, rag.Turn{
		ConversationID: req.ConversationID, CustomerID: req.CustomerID, Message: req.Message,
		Locale: req.Locale, Channel: req.Channel, ProductID: req.ProductID, History: req.History,
	}))
	out := CLITurnResult{Meta: res.Meta, Retrieved: make([]CLIHit, len(res.Meta.Retrieved)), Answer: res.Answer,
		Citations: res.Citations, Escalation: res.Escalation, Action: res.Action}
	for i, hit := range res.Meta.Retrieved {
		out.Retrieved[i] = CLIHit{Chunk: hit.Chunk, Score: hit.Score, Lexical: hit.Lexical, Dense: hit.Dense}
	}
	if out.Citations == nil {
		out.Citations = []rag.Citation{}
	}
	if err != nil {
		out.Error = NewCLIError(err)
		_ = c.Error(err)
	}
	c.JSON(http.StatusOK, out)
}

// chunks is GET /v1/cli/chunks: every chunk of the store, one JSON object
// a line (without vectors).
func (h *cliServer) chunks(c *gin.Context) {
	if h.deps.Chunks == nil {
		h.fail(c, kefu.Errorf(kefu.EInvalid, "--baseline is not supported for qdrant: it reads every chunk, which only the embedded store lists"))
		return
	}
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	err := h.deps.Chunks(c.Request.Context(), func(ch kefu.Chunk) error { return enc.Encode(ch) })
	if err != nil {
		// The reply has begun: a last line says what failed.
		_ = c.Error(err)
		_ = enc.Encode(CLIErrorResponse{Error: *NewCLIError(err)})
	}
}

// ingest is POST /v1/cli/ingest: a multipart body whose first part,
// "request", is a CLIIngestRequest, then an optional "golden" part (the
// golden set of a gated ingest, JSONL), then the files, each a part named
// by its slash-separated path with a file name. The files are held in
// unlinked temporary files while they are ingested. The reply is a stream
// of CLIIngestLine: progress, then the summary.
func (h *cliServer) ingest(c *gin.Context) {
	if h.deps.Ingest == nil {
		h.fail(c, kefu.Errorf(kefu.EUnavailable, "this server does not ingest"))
		return
	}
	ctype, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || ctype != "multipart/form-data" || params["boundary"] == "" {
		h.fail(c, kefu.Errorf(kefu.EInvalid, "an ingest must be multipart/form-data"))
		return
	}
	files := newUploadFiles()
	defer files.close()
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(CLIUploadTimeout))
	body := http.MaxBytesReader(c.Writer, c.Request.Body, CLIMaxUploadBytes+CLIMaxGoldenBytes+cliMaxRequestBytes+uploadSlack)
	req, golden, names, err := readCLIIngest(multipart.NewReader(body, params["boundary"]), files)
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = kefu.Errorf(kefu.ETooLarge, "an ingest through the server is at most %s", mib(CLIMaxUploadBytes))
		}
		h.fail(c, err)
		return
	}
	tree, err := newTreeFS(files, names)
	if err != nil {
		h.fail(c, err)
		return
	}
	var cases []eval.Case
	if req.Gate != nil {
		if cases, err = eval.Load(bytes.NewReader(golden)); err != nil {
			h.fail(c, err)
			return
		}
	}
	o := req.Options
	opts := ingest.Options{Type: o.Type, IDField: o.IDField, TitleField: o.TitleField, CustomerField: o.CustomerField,
		Records: o.Records, Levels: o.Levels, GroupBy: o.GroupBy, Fields: o.Fields, ProductField: o.ProductField, Prune: o.Prune}
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	opts.Progress = func(p ingest.Progress) {
		if p.Done {
			return
		}
		_ = enc.Encode(CLIIngestLine{Progress: &p})
		_ = rc.Flush()
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), CLIIngestTimeout)
	defer cancel()
	sum, err := h.deps.Ingest(ctx, tree, opts, req.Gate, cases, req.Paths...)
	last := CLIIngestLine{Summary: &sum}
	if err != nil {
		_ = c.Error(err)
		last.Error = NewCLIError(err)
		last.GateFailed = errors.Is(err, ingest.ErrGateFailed)
		last.RollbackFailed = errors.Is(err, ingest.ErrRollbackFailed)
	}
	h.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelInfo, "documents ingested for the command line",
		slog.Int("files", sum.Files), slog.Int("documents", sum.Documents), slog.Int("chunks", sum.Chunks),
		slog.Int("unchanged", sum.Unchanged), slog.Int("pruned", sum.Pruned), slog.Int("failed", len(sum.Failed)))
	_ = enc.Encode(last)
}

// readCLIIngest reads an ingest's parts: the request, the golden set, the
// files (written to files); it returns the request, the golden set's bytes
// and the files' names.
func readCLIIngest(mr *multipart.Reader, files *uploadFiles) (CLIIngestRequest, []byte, []string, error) {
	var req CLIIngestRequest
	var golden []byte
	var names []string
	var total int64
	first := true
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return req, nil, nil, uploadReadError(err)
		}
		name := part.FormName()
		switch {
		case first:
			if name != "request" {
				return req, nil, nil, kefu.Errorf(kefu.EInvalid, "the first part of an ingest must be its request")
			}
			raw, err := io.ReadAll(io.LimitReader(part, cliMaxRequestBytes+1))
			if err != nil {
				return req, nil, nil, uploadReadError(err)
			}
			if len(raw) > cliMaxRequestBytes {
				return req, nil, nil, kefu.Errorf(kefu.ETooLarge, "the ingest request is larger than %s", mib(cliMaxRequestBytes))
			}
			if err := json.Unmarshal(raw, &req); err != nil {
				return req, nil, nil, kefu.WrapError(kefu.EInvalid, "the ingest request is not valid JSON", err)
			}
			if len(req.Paths) == 0 || len(req.Paths) > CLIMaxPaths {
				return req, nil, nil, kefu.Errorf(kefu.EInvalid, "an ingest names 1 to %d paths", CLIMaxPaths)
			}
			first = false
		case part.FileName() == "" && name == "golden":
			if golden != nil {
				return req, nil, nil, kefu.Errorf(kefu.EInvalid, "the golden set is sent twice")
			}
			raw, err := io.ReadAll(io.LimitReader(part, CLIMaxGoldenBytes+1))
			if err != nil {
				return req, nil, nil, uploadReadError(err)
			}
			if len(raw) > CLIMaxGoldenBytes {
				return req, nil, nil, kefu.Errorf(kefu.ETooLarge, "the golden set is larger than %s", mib(CLIMaxGoldenBytes))
			}
			golden = raw
		case part.FileName() != "":
			if len(name) > cliMaxPathLen || name == "." || !fs.ValidPath(name) {
				return req, nil, nil, kefu.Errorf(kefu.EInvalid, "file path %q is not a clean relative path", clip(name))
			}
			if _, dup := files.files[name]; dup {
				return req, nil, nil, kefu.Errorf(kefu.EInvalid, "file %q is sent twice", clip(name))
			}
			if len(names) == CLIMaxFiles {
				return req, nil, nil, kefu.Errorf(kefu.ETooLarge, "an ingest through the server holds at most %d files", CLIMaxFiles)
			}
			f, err := files.create(name)
			if err != nil {
				return req, nil, nil, err
			}
			n, err := io.Copy(f, io.LimitReader(part, CLIMaxFileBytes+1))
			if err != nil {
				return req, nil, nil, uploadReadError(err)
			}
			if n > CLIMaxFileBytes {
				return req, nil, nil, kefu.Errorf(kefu.ETooLarge, "file %q is larger than %s", clip(name), mib(CLIMaxFileBytes))
			}
			if total += n; total > CLIMaxUploadBytes {
				return req, nil, nil, kefu.Errorf(kefu.ETooLarge, "an ingest through the server is at most %s", mib(CLIMaxUploadBytes))
			}
			files.sizes[name] = n
			names = append(names, name)
		default:
			return req, nil, nil, kefu.Errorf(kefu.EInvalid, "unknown part %q", clip(name))
		}
	}
	if first {
		return req, nil, nil, kefu.Errorf(kefu.EInvalid, "the ingest has no request")
	}
	if req.Gate != nil && golden == nil {
		return req, nil, nil, kefu.Errorf(kefu.EInvalid, "a gated ingest needs its golden set")
	}
	return req, golden, names, nil
}

// treeFS is the folder tree of an ingest's files: the files of an
// uploadFiles under their slash-separated paths, and the folders that
// hold them.
type treeFS struct {
	files *uploadFiles
	dirs  map[string][]fs.DirEntry // folder -> its entries, by name
}

var (
	_ fs.StatFS    = (*treeFS)(nil)
	_ fs.ReadDirFS = (*treeFS)(nil)
)

func newTreeFS(files *uploadFiles, names []string) (*treeFS, error) {
	t := &treeFS{files: files, dirs: map[string][]fs.DirEntry{".": nil}}
	seen := map[string]bool{}
	for _, name := range names {
		child, isDir := name, false
		for {
			parent := path.Dir(child)
			if _, file := files.files[parent]; file {
				return nil, kefu.Errorf(kefu.EInvalid, "%q is sent both as a file and as a folder", clip(parent))
			}
			key := parent + "\x00" + child
			if !seen[key] {
				seen[key] = true
				var info fs.FileInfo = uploadInfo{path.Base(child), files.sizes[child], files.at}
				if isDir {
					info = dirInfo{name: path.Base(child), at: files.at}
				}
				t.dirs[parent] = append(t.dirs[parent], fs.FileInfoToDirEntry(info))
			}
			if _, ok := t.dirs[child]; !ok && isDir {
				t.dirs[child] = nil
			}
			if parent == "." {
				break
			}
			child, isDir = parent, true
		}
	}
	for dir, entries := range t.dirs {
		slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		t.dirs[dir] = entries
	}
	return t, nil
}

func (t *treeFS) Open(name string) (fs.File, error) {
	if entries, ok := t.dirs[name]; ok {
		return &treeDir{info: dirInfo{name: path.Base(name), at: t.files.at}, entries: entries}, nil
	}
	f, err := t.files.Open(name)
	if err != nil {
		return nil, err
	}
	uf := f.(*uploadFile)
	uf.info.name = path.Base(name)
	return uf, nil
}

func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	if _, ok := t.dirs[name]; ok {
		return dirInfo{name: path.Base(name), at: t.files.at}, nil
	}
	if _, ok := t.files.files[name]; !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return uploadInfo{path.Base(name), t.files.sizes[name], t.files.at}, nil
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, ok := t.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(entries), nil
}

// treeDir is an open folder of a treeFS.
type treeDir struct {
	info    dirInfo
	entries []fs.DirEntry
	mu      sync.Mutex
	read    int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: fs.ErrInvalid}
}
func (d *treeDir) Close() error { return nil }

func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rest := d.entries[d.read:]
	if n <= 0 {
		d.read = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.read += len(rest)
	return slices.Clone(rest), nil
}

type dirInfo struct {
	name string
	at   time.Time
}

func (i dirInfo) Name() string       { return i.name }
func (i dirInfo) Size() int64        { return 0 }
func (i dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o700 }
func (i dirInfo) ModTime() time.Time { return i.at }
func (i dirInfo) IsDir() bool        { return true }
func (i dirInfo) Sys() any           { return nil }
