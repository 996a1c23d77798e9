package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/store"
)

// DocumentIngester loads files into the knowledge store and removes
// documents from it (package ingest's Ingester).
type DocumentIngester interface {
	// IngestFS ingests the named files of fsys, reading records with the
	// record options of opts (Type, IDField, TitleField, CustomerField,
	// Records, Levels, GroupBy, Fields). A malformed file or record is
	// listed in the Summary's failures; the error is for what stops the
	// whole run (a failing embedder or store).
	IngestFS(ctx context.Context, fsys fs.FS, opts ingest.Options, names ...string) (ingest.Summary, error)
	// DeleteDocument removes a document and its chunks; kefu.ENotFound
	// when there is none with that id.
	DeleteDocument(ctx context.Context, id string) error
}

var _ DocumentIngester = (*ingest.Ingester)(nil)

// Limits of the admin API beyond the configured sizes.
const (
	maxUploadFiles = 100
	maxFileName    = 255
	maxFormValue   = 1 << 10
	maxDocIDLen    = 2048
	// uploadSlack is what the multipart framing and the form fields of an
	// upload may add to its files' bytes.
	uploadSlack = 1 << 20
	// codeUnsupportedMedia is the API's own code for a file it does not
	// read, with status 415.
	codeUnsupportedMedia = "unsupported_media_type"
	// codeGateFailed is the API's own code for an upload that broke the
	// configured gate and was rolled back, with status 422.
	codeGateFailed = "gate_failed"
)

// uploadFormats maps the file extensions an upload may have to the
// declared content types accepted for them, besides none and
// application/octet-stream.
var uploadFormats = map[string][]string{
	".md":       {"text/markdown", "text/x-markdown", "text/plain"},
	".markdown": {"text/markdown", "text/x-markdown", "text/plain"},
	".txt":      {"text/plain"},
	".html":     {"text/html", "application/xhtml+xml"},
	".htm":      {"text/html", "application/xhtml+xml"},
	".pdf":      {"application/pdf"},
	".csv":      {"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "text/comma-separated-values"},
	".json":     {"application/json", "text/json", "text/plain"},
	".jsonl":    {"application/jsonl", "application/x-ndjson", "application/json-lines", "application/x-jsonlines", "application/json", "text/plain"},
	".ndjson":   {"application/x-ndjson", "application/jsonl", "application/json", "text/plain"},
}

// adminRoutes registers the admin API's documents: upload and delete.
// They need an admin API key when keys are configured; without keys the
// API is in open demo mode, as for chat. Every access is audited when an
// audit log is configured.
func (s *Server) adminRoutes(r gin.IRouter) {
	g := r.Group("/v1/admin", s.requireRole(auth.RoleAdmin), s.requireDocuments, s.auditAdmin)
	g.POST("/documents", s.uploadDocuments)
	g.DELETE("/documents/*id", s.deleteDocument)
}

func (s *Server) requireDocuments(c *gin.Context) {
	if s.documents == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "document administration is not configured on this server"))
		return
	}
	c.Next()
}

// adminActions names what each admin route does, for the audit log.
var adminActions = map[string]string{
	"/v1/admin/documents":     "documents.upload",
	"/v1/admin/documents/*id": "documents.delete",
}

// auditAdmin records an admin's access before the handler runs (an
// access that cannot be recorded is refused with 503) and logs it after.
func (s *Server) auditAdmin(c *gin.Context) {
	rec := store.AuditRecord{
		At:     time.Now(),
		Actor:  c.GetString(ginKeyName),
		Role:   string(auth.RoleAdmin),
		Action: adminActions[c.FullPath()],
	}
	if rec.Actor == "" {
		rec.Actor, rec.Role = "anonymous", "none" // open demo mode: no keys configured
	}
	if rec.Action == documentsDelete {
		if id, err := documentID(c.Request.URL); err == nil {
			rec.Target = clip(id)
		}
	}
	if s.auditLog != nil {
		if err := s.auditLog.AppendAudit(c.Request.Context(), rec); err != nil {
			writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so admin access is refused", err))
			return
		}
	}
	c.Next()
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelInfo, "admin access",
		slog.String("actor", rec.Actor), slog.String("role", rec.Role), slog.String("action", rec.Action),
		slog.String("target", rec.Target), slog.Int("status", c.Writer.Status()), slog.Time("at", rec.At.UTC()))
}

const documentsDelete = "documents.delete"

// uploadDocuments is POST /v1/admin/documents: a multipart/form-data body
// with one or more files (any field name) and optional fields type,
// id_field, title_field, customer_field, records, levels, group_by and
// fields (the last four comma-separated), which say how records are read,
// as the flags of kefu ingest do. The files go through the ingest pipeline
// under their base names, so a document's id is "catalog.csv#SKU-1".
//
// Before anything is ingested the whole upload is checked: too large a
// file or upload is 413 too_large, a file of another format (by its
// extension, its declared type or its first bytes) is 415, a bad field or
// name is 400, a body that arrives too slowly (Config.UploadReadTimeout,
// UploadMinBytesPerSecond) is 408 timeout; nothing is then stored. After
// that each file stands alone: the reply is the ingest Summary, 200 when
// every file and record went in, 207 (Multi-Status) when some failed, with
// the failures listed (a file over an ingest limit among them). Ingesting
// stops when the client leaves; no file of the upload stays on disk.
//
// When the ingester gates changes (ingest.Options.Gate), an upload that
// breaks the gate is rolled back and answered 422 with code gate_failed
// and the verdict in the error's gate field; one whose rollback failed is
// answered with that error (503) instead.
func (s *Server) uploadDocuments(c *gin.Context) {
	ctype, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || ctype != "multipart/form-data" || params["boundary"] == "" {
		writeMediaError(c, "an upload must be multipart/form-data, with one part per file")
		return
	}
	files := newUploadFiles()
	defer files.close()

	pace := newPaceReader(c, c.Request.Body, s.cfg.UploadReadTimeout, s.cfg.UploadMinBytesPerSecond)
	body := http.MaxBytesReader(c.Writer, io.NopCloser(pace), s.cfg.MaxUploadBytes+uploadSlack)
	up, err := s.readUpload(multipart.NewReader(body, params["boundary"]), files)
	pace.done()
	if err != nil {
		if errors.Is(err, errUploadTooSlow) {
			s.writeUploadTimeout(c)
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = kefu.Errorf(kefu.ETooLarge, "the upload is larger than %s", mib(s.cfg.MaxUploadBytes))
		}
		var me mediaError
		if errors.As(err, &me) {
			writeMediaError(c, string(me))
			return
		}
		writeError(c, err)
		return
	}
	sum, err := s.documents.IngestFS(c.Request.Context(), files, up.opts, up.names...)
	if errors.Is(err, ingest.ErrGateFailed) && !errors.Is(err, ingest.ErrRollbackFailed) && sum.Gate != nil {
		s.writeGateFailed(c, sum)
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelInfo, "documents uploaded",
		slog.Int("files", sum.Files), slog.Int("documents", sum.Documents), slog.Int("chunks", sum.Chunks),
		slog.Int("unchanged", sum.Unchanged), slog.Int("failed", len(sum.Failed)), slog.Int("skipped", len(sum.Skipped)))
	status := http.StatusOK
	if len(sum.Failed) > 0 {
		status = http.StatusMultiStatus
	}
	c.JSON(status, UploadResponse(sum))
}

// writeGateFailed answers an upload that broke the gate and was rolled
// back: 422, code gate_failed, the verdict in the error body.
func (s *Server) writeGateFailed(c *gin.Context, sum ingest.Summary) {
	g := sum.Gate
	msg := fmt.Sprintf("the upload broke the knowledge gate and was rolled back (%d documents restored): %s", g.RolledBack, strings.Join(g.Broken, "; "))
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelWarn, "upload rolled back by the gate",
		slog.Int("documents", sum.Documents), slog.Int("rolled_back", g.RolledBack), slog.Int("failed_cases", len(g.Failed)),
		slog.String("broken", strings.Join(g.Broken, "; ")))
	_ = c.Error(errors.New(msg))
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, ErrorResponse{Error: ErrorBody{Code: codeGateFailed, Message: msg, Gate: g}})
}

// upload is a checked upload written to a folder.
type upload struct {
	names []string
	opts  ingest.Options
}

// mediaError is a file the API does not read: status 415.
type mediaError string

func (e mediaError) Error() string { return string(e) }

func writeMediaError(c *gin.Context, msg string) {
	_ = c.Error(errors.New(msg))
	c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, ErrorResponse{Error: ErrorBody{Code: codeUnsupportedMedia, Message: msg}})
}

// readUpload checks every part of an upload and writes its files to files.
func (s *Server) readUpload(mr *multipart.Reader, files *uploadFiles) (upload, error) {
	var up upload
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, uploadReadError(err)
		}
		if part.FileName() == "" {
			if err := readFormField(part, &up.opts); err != nil {
				return up, err
			}
			continue
		}
		name, err := uploadName(part.FileName())
		if err != nil {
			return up, err
		}
		if slices.Contains(up.names, name) {
			return up, kefu.Errorf(kefu.EInvalid, "file %q is uploaded twice", name)
		}
		if len(up.names) == maxUploadFiles {
			return up, kefu.Errorf(kefu.ETooLarge, "an upload holds at most %d files", maxUploadFiles)
		}
		n, err := s.saveFile(part, name, files, s.cfg.MaxUploadBytes-total)
		if err != nil {
			return up, err
		}
		total += n
		up.names = append(up.names, name)
	}
	if len(up.names) == 0 {
		return up, kefu.Errorf(kefu.EInvalid, "the upload holds no file")
	}
	if t := up.opts.Type; t != "" && t != "auto" && !slices.Contains(kefu.DocTypes, t) {
		return up, kefu.Errorf(kefu.EInvalid, "type %q is not one of %s or auto", clip(t), strings.Join(kefu.DocTypes, ", "))
	}
	return up, nil
}

// saveFile checks one file's format and size and writes it to files.
func (s *Server) saveFile(part *multipart.Part, name string, files *uploadFiles, left int64) (int64, error) {
	ext := strings.ToLower(path.Ext(name))
	accepted, ok := uploadFormats[ext]
	if !ok {
		return 0, mediaError(fmt.Sprintf("file %q: only .md, .txt, .html, .pdf, .csv, .json and .jsonl files can be uploaded", clip(name)))
	}
	if declared := part.Header.Get("Content-Type"); declared != "" {
		mt, _, err := mime.ParseMediaType(declared)
		if err != nil || (mt != "application/octet-stream" && !slices.Contains(accepted, mt)) {
			return 0, mediaError(fmt.Sprintf("file %q is declared as %s, which is not a %s file", clip(name), clip(declared), ext))
		}
	}
	f, err := files.create(name)
	if err != nil {
		return 0, err
	}
	limit := min(s.cfg.MaxUploadFileBytes, left)
	var head [512]byte
	hn, err := io.ReadFull(part, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, uploadReadError(err)
	}
	if hn > 0 {
		if sniffed := http.DetectContentType(head[:hn]); !sniffOK(ext, sniffed) {
			return 0, mediaError(fmt.Sprintf("file %q looks like %s, not a %s file", clip(name), sniffed, ext))
		}
	}
	if _, err := f.Write(head[:hn]); err != nil {
		return 0, fmt.Errorf("write upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(part, limit-int64(hn)+1))
	n += int64(hn)
	if err != nil {
		return 0, uploadReadError(err)
	}
	if n > limit {
		if limit < s.cfg.MaxUploadFileBytes {
			return 0, kefu.Errorf(kefu.ETooLarge, "the upload is larger than %s", mib(s.cfg.MaxUploadBytes))
		}
		return 0, kefu.Errorf(kefu.ETooLarge, "file %q is larger than %s", clip(name), mib(s.cfg.MaxUploadFileBytes))
	}
	files.sizes[name] = n
	return n, nil
}

// sniffOK reports whether a file's first bytes fit its extension: a PDF
// starts as one, text formats are text (in any encoding ingest reads).
func sniffOK(ext, sniffed string) bool {
	if ext == ".pdf" {
		return sniffed == "application/pdf"
	}
	return strings.HasPrefix(sniffed, "text/") || sniffed == "application/json"
}

// readFormField reads one of the upload's option fields into o.
func readFormField(part *multipart.Part, o *ingest.Options) error {
	field := part.FormName()
	raw, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
	if err != nil {
		return uploadReadError(err)
	}
	if len(raw) > maxFormValue {
		return kefu.Errorf(kefu.EInvalid, "field %q is longer than %d bytes", clip(field), maxFormValue)
	}
	v := strings.TrimSpace(string(raw))
	list := func() []string {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	switch field {
	case "type":
		o.Type = strings.ToLower(v)
	case "id_field":
		o.IDField = v
	case "title_field":
		o.TitleField = v
	case "customer_field":
		o.CustomerField = v
	case "group_by":
		o.GroupBy = v
	case "records":
		o.Records = list()
	case "levels":
		o.Levels = list()
	case "fields":
		o.Fields = list()
	default:
		return kefu.Errorf(kefu.EInvalid, "unknown field %q (want files and type, id_field, title_field, customer_field, records, levels, group_by, fields)", clip(field))
	}
	return nil
}

// uploadName is a file's base name as uploaded, checked: no folders, no
// hidden or control characters.
func uploadName(raw string) (string, error) {
	name := path.Base(strings.ReplaceAll(raw, "\\", "/"))
	switch {
	case name == "." || name == "/" || name == "..":
		return "", kefu.Errorf(kefu.EInvalid, "file name %q is not a file name", clip(raw))
	case strings.HasPrefix(name, "."):
		return "", kefu.Errorf(kefu.EInvalid, "file name %q starts with a dot", clip(name))
	case len(name) > maxFileName:
		return "", kefu.Errorf(kefu.EInvalid, "file name %q is longer than %d bytes", clip(name), maxFileName)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == ':' }):
		return "", kefu.Errorf(kefu.EInvalid, "file name %q holds characters a file name cannot", clip(name))
	}
	return name, nil
}

// uploadReadError turns a failure to read the request body into a client
// error, keeping a size limit's error recognisable.
func uploadReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errUploadTooSlow) {
		return err
	}
	return kefu.WrapError(kefu.EInvalid, "the upload is not valid multipart/form-data", err)
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// deleteDocument is DELETE /v1/admin/documents/{id}: the id, url-escaped
// ("catalog.csv%23SKU-1"; slashes may be escaped or not), names the
// document to remove with its chunks. 404 when there is none.
func (s *Server) deleteDocument(c *gin.Context) {
	id, err := documentID(c.Request.URL)
	if err != nil {
		writeError(c, err)
		return
	}
	if err := s.documents.DeleteDocument(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, DeleteDocumentResponse{ID: id, Deleted: true})
}

// documentID reads the document id from the escaped path, so that an
// escaped "/" or "#" in an id survives.
func documentID(u *url.URL) (string, error) {
	const prefix = "/v1/admin/documents/"
	raw, ok := strings.CutPrefix(u.EscapedPath(), prefix)
	if !ok {
		return "", kefu.Errorf(kefu.EInvalid, "no document id")
	}
	id, err := url.PathUnescape(raw)
	switch {
	case err != nil:
		return "", kefu.Errorf(kefu.EInvalid, "document id %q is not a valid escaped path", clip(raw))
	case strings.TrimSpace(id) == "":
		return "", kefu.Errorf(kefu.EInvalid, "no document id: DELETE /v1/admin/documents/{url-escaped id}")
	case len(id) > maxDocIDLen:
		return "", kefu.Errorf(kefu.EInvalid, "document id is longer than %d bytes", maxDocIDLen)
	}
	return id, nil
}
