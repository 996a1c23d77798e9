package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/internal/pdftest"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// TestUploadBombs sends an upload holding a PDF bomb, a document that cuts
// into 10,000 chunks, one over the character limit and a good policy
// through the real pipeline: each bomb fails alone naming its limit, the
// policy is stored, and this process's allocations stay small.
func TestUploadBombs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	emb := embedding.NewLocal(64)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in := ingest.New(st, emb, ingest.Options{
		PDFWorker: []string{exe, ingest.PDFWorkerCommand},
		Limits:    ingest.Limits{PDFMemory: 128 << 20, MaxChars: 200_000},
	})
	e := adminEnv(t, in)
	var sections strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&sections, "# P%d\n\nw\n\n", i)
	}
	long := strings.Repeat("Returns are accepted within thirty days. ", 6000)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rec := upload(t, e, []upFile{
		{"bomb.pdf", "application/pdf", string(pdftest.Bomb(pdftest.Operands(), 1))},
		{"sections.md", "text/markdown", sections.String()},
		{"long.txt", "text/plain", long},
		{"returns.md", "text/markdown", mdData},
	}, nil)
	runtime.ReadMemStats(&after)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", rec.Code, rec.Body)
	}
	sum := decode[api.UploadResponse](t, rec.Body.Bytes())
	want := map[string]string{
		"bomb.pdf":    "128 MiB of memory, the limit per PDF (ingest.pdf_max_memory_bytes)",
		"sections.md": "over the limit of 3000 chunks per document",
		"long.txt":    "more than 200000 characters",
	}
	if len(sum.Failed) != len(want) || sum.Documents != 1 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range sum.Failed {
		if !strings.Contains(f.Reason, want[f.File]) {
			t.Errorf("%s failed with %q, want %q", f.File, f.Reason, want[f.File])
		}
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("the upload allocated %d MiB in the server", grew>>20)
	}
}

// TestUploadTrickleCut sends an upload a byte at a time: the server cuts
// it at its read deadline with 408 long before the body is through.
func TestUploadTrickleCut(t *testing.T) {
	docs := &fakeDocuments{}
	e := adminEnv(t, docs, func(c *api.Config, _ *api.Deps) { c.UploadReadTimeout = 300 * time.Millisecond })
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()

	ctype, body := multipartBody(t, []upFile{{"returns.md", "text/markdown", mdData + strings.Repeat("x", 4000)}})
	pr, pw := io.Pipe()
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for _, b := range body.Bytes() {
			if _, err := pw.Write([]byte{b}); err != nil {
				return
			}
			n++
			time.Sleep(5 * time.Millisecond) // pacing the attack, no assertion
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/admin/documents", pr)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := srv.Client().Do(req)
	pr.CloseWithError(io.ErrClosedPipe)
	n := <-sent
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	defer resp.Body.Close()
	var got api.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != http.StatusRequestTimeout || got.Error.Code != "timeout" {
		t.Fatalf("status %d %+v, want 408 timeout", resp.StatusCode, got)
	}
	if n >= body.Len() {
		t.Errorf("the whole trickled body (%d bytes) was read", n)
	}
	if docs.files != nil {
		t.Error("a cut upload was ingested")
	}
}

// TestUploadLeavesNoFiles checks the temporary folder while an upload is
// being ingested and after it ends, by a hang-up, a panic or success: no
// file of the upload is ever left in it.
func TestUploadLeavesNoFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	empty := func(when string) {
		t.Helper()
		ents, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("%s: the temp folder holds %d entries (%s...)", when, len(ents), ents[0].Name())
		}
	}

	t.Run("client hangs up", func(t *testing.T) {
		started, stopped := make(chan struct{}), make(chan error, 1)
		docs := &fakeDocuments{IngestFn: func(ctx context.Context, fsys fs.FS, _ ingest.Options, names ...string) (ingest.Summary, error) {
			close(started)
			<-ctx.Done() // the ingest runs until the client leaves
			stopped <- ctx.Err()
			return ingest.Summary{}, ctx.Err()
		}}
		srv := httptest.NewServer(adminEnv(t, docs).srv.Handler())
		ctype, body := multipartBody(t, []upFile{{"returns.md", "text/markdown", mdData}, {"catalog.csv", "text/csv", csvData}})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/admin/documents", body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := srv.Client().Do(req); err == nil {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("upload answered %d before the ingest started", resp.StatusCode)
				}
				resp.Body.Close()
			}
		}()
		select {
		case <-started:
		case <-done:
			cancel()
			t.Fatal("the upload ended before the ingest started")
		}
		empty("during the ingest")
		if docs.files["returns.md"] != mdData {
			t.Errorf("the ingester read %q", docs.files["returns.md"])
		}
		cancel()
		<-done
		if err := <-stopped; err == nil {
			t.Error("the ingest was not cancelled")
		}
		srv.Close() // waits for the handler
		empty("after the hang-up")
	})

	t.Run("panic", func(t *testing.T) {
		docs := &fakeDocuments{IngestFn: func(context.Context, fs.FS, ingest.Options, ...string) (ingest.Summary, error) {
			panic("ingester bug")
		}}
		if rec := upload(t, adminEnv(t, docs), []upFile{{"returns.md", "text/markdown", mdData}}, nil); rec.Code != http.StatusInternalServerError {
			t.Errorf("status %d", rec.Code)
		}
		empty("after a panic")
	})

	t.Run("refused part-way", func(t *testing.T) {
		rec := upload(t, adminEnv(t, &fakeDocuments{}), []upFile{{"returns.md", "text/markdown", mdData}, {"virus.exe", "", "MZ"}}, nil)
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Errorf("status %d", rec.Code)
		}
		empty("after a refused upload")
	})
}

// TestUploadBodyCutMidFile sends a body that ends inside a file.
func TestUploadBodyCutMidFile(t *testing.T) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="returns.md"`)
	p, _ := w.CreatePart(h)
	p.Write([]byte(mdData))
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/documents", bytes.NewReader(buf.Bytes()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+adminKey)
	rec := httptest.NewRecorder()
	adminEnv(t, &fakeDocuments{}).srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}
