package api_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// fakeDocuments is a DocumentIngester whose methods are its Fn fields; it
// records what it was given.
type fakeDocuments struct {
	IngestFn func(ctx context.Context, fsys fs.FS, opts ingest.Options, names ...string) (ingest.Summary, error)
	DeleteFn func(ctx context.Context, id string) error

	mu      sync.Mutex
	files   map[string]string // name -> content, of the last upload
	opts    ingest.Options
	deleted []string
}

func (f *fakeDocuments) IngestFS(ctx context.Context, fsys fs.FS, opts ingest.Options, names ...string) (ingest.Summary, error) {
	f.mu.Lock()
	f.files, f.opts = map[string]string{}, opts
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			f.mu.Unlock()
			return ingest.Summary{}, err
		}
		f.files[n] = string(b)
	}
	f.mu.Unlock()
	if f.IngestFn != nil {
		return f.IngestFn(ctx, fsys, opts, names...)
	}
	return ingest.Summary{Files: len(names), Documents: len(names), Chunks: len(names), Failed: []ingest.FileError{}, Skipped: []ingest.FileError{}}, nil
}

func (f *fakeDocuments) DeleteDocument(ctx context.Context, id string) error {
	f.mu.Lock()
	f.deleted = append(f.deleted, id)
	f.mu.Unlock()
	if f.DeleteFn != nil {
		return f.DeleteFn(ctx, id)
	}
	return nil
}

// fakeAudit is an AuditLog that keeps its records, or fails with Err.
type fakeAudit struct {
	mu   sync.Mutex
	recs []store.AuditRecord
	Err  error
}

func (a *fakeAudit) AppendAudit(ctx context.Context, r store.AuditRecord) error {
	if a.Err != nil {
		return a.Err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
	return nil
}

// upFile is one file of a multipart upload.
type upFile struct {
	name, ctype, data string
}

// multipartBody builds an upload: files, then fields (name, value pairs).
func multipartBody(t *testing.T, files []upFile, fields ...string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+f.name+`"`)
		if f.ctype != "" {
			h.Set("Content-Type", f.ctype)
		}
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte(f.data))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), &buf
}

func adminEnv(t *testing.T, docs api.DocumentIngester, opts ...envOption) *env {
	t.Helper()
	// Document admin always needs an admin key: the env sends one with
	// every request that names no header of its own.
	admin := withKeys(t, auth.KeyConfig{Name: "ops", Role: auth.RoleAdmin, Key: adminKey})
	e := newEnv(t, append([]envOption{admin, withDocuments(docs)}, opts...)...)
	e.header = bearer(adminKey)
	return e
}

func withDocuments(docs api.DocumentIngester) envOption {
	return func(_ *api.Config, d *api.Deps) { d.Documents = docs }
}

func upload(t *testing.T, e *env, files []upFile, fields []string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	ctype, body := multipartBody(t, files, fields...)
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/documents", body)
	req.Header.Set("Content-Type", ctype)
	if len(header) == 0 {
		header = e.header
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// Files of the upload tests; the API keys are the handoff tests'.
const (
	csvData = "sku,name,price\nK-1,Kettle,99\nK-2,Toaster,149\n"
	mdData  = "# Returns\n\nOpened items can be returned within 30 days.\n"
)

func TestUploadChecks(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
	tests := []struct {
		name   string
		files  []upFile
		fields []string
		status int
		code   string
	}{
		{"not a document format", []upFile{{"setup.exe", "", "MZ"}}, nil, 415, "unsupported_media_type"},
		{"declared as an image", []upFile{{"catalog.csv", "image/png", csvData}}, nil, 415, "unsupported_media_type"},
		{"an image named .csv", []upFile{{"catalog.csv", "text/csv", png}}, nil, 415, "unsupported_media_type"},
		{"text named .pdf", []upFile{{"manual.pdf", "application/pdf", mdData}}, nil, 415, "unsupported_media_type"},
		{"no file", nil, []string{"type", "product"}, 400, kefu.EInvalid},
		{"unknown field", []upFile{{"catalog.csv", "", csvData}}, []string{"colour", "red"}, 400, kefu.EInvalid},
		{"bad type", []upFile{{"catalog.csv", "", csvData}}, []string{"type", "recipe"}, 400, kefu.EInvalid},
		{"a file twice", []upFile{{"a.md", "", mdData}, {"sub/a.md", "", mdData}}, nil, 400, kefu.EInvalid},
		{"hidden file", []upFile{{".env.md", "", mdData}}, nil, 400, kefu.EInvalid},
		{"file too large", []upFile{{"big.txt", "text/plain", strings.Repeat("x", 2048)}}, nil, 413, kefu.ETooLarge},
		{"upload too large", []upFile{{"a.txt", "", strings.Repeat("a", 1000)}, {"b.txt", "", strings.Repeat("b", 1000)}, {"c.txt", "", strings.Repeat("c", 1000)}}, nil, 413, kefu.ETooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := &fakeDocuments{}
			e := adminEnv(t, docs, func(c *api.Config, _ *api.Deps) { c.MaxUploadFileBytes, c.MaxUploadBytes = 1024, 2500 })
			rec := upload(t, e, tt.files, tt.fields)
			wantError(t, rec, tt.status, tt.code)
			if docs.files != nil {
				t.Errorf("ingested %v despite the error", docs.files)
			}
		})
	}
}

func TestUploadNotMultipart(t *testing.T) {
	e := adminEnv(t, &fakeDocuments{})
	rec := e.do(t, http.MethodPost, "/v1/admin/documents", `{"path": "/etc/passwd"}`)
	wantError(t, rec, 415, "unsupported_media_type")
}

func TestUploadPassesFilesAndOptions(t *testing.T) {
	docs := &fakeDocuments{}
	e := adminEnv(t, docs)
	rec := upload(t, e, []upFile{
		{"orders.jsonl", "application/x-ndjson", `{"id": "W1", "buyer": "C1"}` + "\n"},
		{`C:\exports\..\catalog.csv`, "application/vnd.ms-excel", csvData}, // a browser on Windows
		{"../../returns.md", "", mdData},
	}, []string{"type", "Order", "customer_field", "buyer", "id_field", "id", "title_field", "name", "levels", "platform, shop ,customer_id", "records", "orders"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := decode[api.UploadResponse](t, rec.Body.Bytes())
	if got.Files != 3 || got.Documents != 3 {
		t.Errorf("reply %+v", got)
	}
	if docs.files["catalog.csv"] != csvData || docs.files["returns.md"] != mdData || len(docs.files) != 3 {
		t.Errorf("files %q: want the base names and the bytes sent", docs.files)
	}
	o := docs.opts
	if o.Type != kefu.TypeOrder || o.CustomerField != "buyer" || o.IDField != "id" || o.TitleField != "name" ||
		!slices.Equal(o.Levels, []string{"platform", "shop", "customer_id"}) || !slices.Equal(o.Records, []string{"orders"}) {
		t.Errorf("options %+v", o)
	}
}

func TestUploadFailures(t *testing.T) {
	docs := &fakeDocuments{}
	e := adminEnv(t, docs)
	docs.IngestFn = func(context.Context, fs.FS, ingest.Options, ...string) (ingest.Summary, error) {
		return ingest.Summary{}, kefu.Errorf(kefu.EUnavailable, "the embedding service is unavailable")
	}
	wantError(t, upload(t, e, []upFile{{"a.md", "", mdData}}, nil), 503, kefu.EUnavailable)

	e = adminEnv(t, nil) // no Documents
	wantError(t, upload(t, e, []upFile{{"a.md", "", mdData}}, nil), 503, kefu.EUnavailable)
}

func TestAdminNeedsAnAdminKey(t *testing.T) {
	docs := &fakeDocuments{}
	audit := &fakeAudit{}
	e := newEnv(t, withDocuments(docs), withKeys(t, authKey("web", widgetKey), auth.KeyConfig{Name: "ops", Role: auth.RoleAdmin, Key: adminKey}),
		func(_ *api.Config, d *api.Deps) { d.AuditLog = audit })
	files := []upFile{{"a.md", "", mdData}}
	wantError(t, upload(t, e, files, nil), 401, kefu.EUnauthorized)
	wantError(t, upload(t, e, files, nil, "Authorization", "Bearer "+widgetKey), 403, kefu.EForbidden)
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/documents/a.md", "", "X-API-Key", widgetKey), 403, kefu.EForbidden)
	if docs.files != nil || docs.deleted != nil {
		t.Fatal("a non-admin reached the documents")
	}
	if rec := upload(t, e, files, nil, "Authorization", "Bearer "+adminKey); rec.Code != 200 {
		t.Fatalf("admin upload: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(t, http.MethodDelete, "/v1/admin/documents/faq.jsonl%23f-1", "", "X-API-Key", adminKey); rec.Code != 200 {
		t.Fatalf("admin delete: %d %s", rec.Code, rec.Body)
	}
	want := []store.AuditRecord{
		{Actor: "ops", Role: "admin", Action: "documents.upload"},
		{Actor: "ops", Role: "admin", Action: "documents.delete", Target: "faq.jsonl#f-1"},
	}
	audit.recs = withoutAuthFailures(audit.recs)
	if len(audit.recs) != len(want) {
		t.Fatalf("audit %+v", audit.recs)
	}
	for i, w := range want {
		got := audit.recs[i]
		got.At = w.At
		if got != w {
			t.Errorf("audit %d = %+v, want %+v", i, got, w)
		}
	}
	// An access that cannot be audited is refused.
	audit.Err = errors.New("disk full")
	wantError(t, upload(t, e, files, nil, "Authorization", "Bearer "+adminKey), 503, kefu.EUnavailable)
	if !strings.Contains(e.logs.String(), `msg="admin access" actor=ops role=admin action=documents.delete target=faq.jsonl#f-1 status=200`) {
		t.Errorf("log lacks the admin access line:\n%s", e.logs.String())
	}
}

func TestDeleteDocument(t *testing.T) {
	docs := &fakeDocuments{DeleteFn: func(_ context.Context, id string) error {
		if id == "gone.md" {
			return kefu.Errorf(kefu.ENotFound, "no document %q", id)
		}
		return nil
	}}
	e := adminEnv(t, docs)
	for _, tt := range []struct{ path, id string }{
		{"/v1/admin/documents/shop%2Fcatalog.csv%23LM-HP-001", "shop/catalog.csv#LM-HP-001"},
		{"/v1/admin/documents/shop/catalog.csv%23LM-HP-002", "shop/catalog.csv#LM-HP-002"},
		{"/v1/admin/documents/db.json%23%23W2611340", "db.json##W2611340"},
		{"/v1/admin/documents/%E9%80%80%E8%B4%A7.md", "退货.md"},
	} {
		rec := e.do(t, http.MethodDelete, tt.path, "")
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tt.path, rec.Code, rec.Body)
		}
		if got := decode[api.DeleteDocumentResponse](t, rec.Body.Bytes()); got.ID != tt.id || !got.Deleted {
			t.Errorf("%s: reply %+v, want id %q", tt.path, got, tt.id)
		}
		if last := docs.deleted[len(docs.deleted)-1]; last != tt.id {
			t.Errorf("%s: deleted %q, want %q", tt.path, last, tt.id)
		}
	}
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/documents/gone.md", ""), 404, kefu.ENotFound)
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/documents/", ""), 400, kefu.EInvalid)
}

// TestUploadThroughIngest sends an upload through the real pipeline into
// the embedded store: a malformed file fails alone and the reply says so.
func TestUploadThroughIngest(t *testing.T) {
	emb := embedding.NewLocal(64)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := adminEnv(t, ingest.New(st, emb, ingest.Options{}))

	rec := upload(t, e, []upFile{
		{"catalog.csv", "text/csv", csvData},
		{"returns.md", "text/markdown", mdData},
		{"orders.json", "application/json", `[{"order_id": "W1", "customer_id": "C1", "status": "shipped"}, {"order_id": "W2", "status": "paid"}]`},
		{"broken.json", "application/json", `[{"sku": "B-1", "name": "fine"}, {"sku": "B-2", "name": oops}]`},
	}, nil)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", rec.Code, rec.Body)
	}
	sum := decode[api.UploadResponse](t, rec.Body.Bytes())
	if sum.Files != 4 || sum.Documents != 5 || len(sum.Failed) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	// The files are read in the order sent.
	if f := sum.Failed[0]; f.File != "orders.json" || f.Record != 2 || !strings.Contains(f.Reason, "no customer id") {
		t.Errorf("failure %+v", f)
	}
	if f := sum.Failed[1]; f.File != "broken.json" || f.Record != 2 || !strings.Contains(f.Reason, "invalid JSON") {
		t.Errorf("failure %+v", f)
	}
	infos, err := st.Documents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range infos {
		ids = append(ids, d.ID)
	}
	want := []string{"broken.json#B-1", "catalog.csv#K-1", "catalog.csv#K-2", "orders.json#W1", "returns.md"}
	if !slices.Equal(ids, want) {
		t.Errorf("stored %q, want %q", ids, want)
	}

	// The same upload again changes nothing; a clean one answers 200.
	rec = upload(t, e, []upFile{{"catalog.csv", "text/csv", csvData}}, nil)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if sum := decode[api.UploadResponse](t, rec.Body.Bytes()); sum.Documents != 0 || sum.Unchanged != 2 {
		t.Errorf("re-upload %+v", sum)
	}

	rec = e.do(t, http.MethodDelete, "/v1/admin/documents/catalog.csv%23K-1", "")
	if rec.Code != 200 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/documents/catalog.csv%23K-1", ""), 404, kefu.ENotFound)
}
