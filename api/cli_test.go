package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"iter"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

const cliToken = "kefu_cli_7f3a9c0e5b1d4f2a8c6e0b9d7f1a3c5e"

func cliDo(h http.Handler, method, target, remote string, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = remote
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The command line's endpoints answer a loopback peer that is not a
// proxy's client and carries the credential, and log no credential.
func TestCLIHandlerNeedsLoopbackAndCredential(t *testing.T) {
	logs := &logBuffer{}
	h := api.NewCLIHandler(api.CLIDeps{Token: cliToken, Logger: logs.logger(),
		Status: func(context.Context) (api.CLIStatus, error) {
			return api.CLIStatus{Documents: 3, KnowledgeVersion: "kv1-x"}, nil
		}})
	bearer := map[string]string{"Authorization": "Bearer " + cliToken}
	for _, tc := range []struct {
		name   string
		remote string
		header map[string]string
		status int
	}{
		{"another machine", "192.0.2.7:4000", bearer, http.StatusForbidden},
		{"no credential", "127.0.0.1:4000", nil, http.StatusUnauthorized},
		{"a wrong credential", "127.0.0.1:4000", map[string]string{"Authorization": "Bearer " + cliToken[:len(cliToken)-1] + "0"}, http.StatusUnauthorized},
		{"through a proxy", "127.0.0.1:4000", map[string]string{"Authorization": "Bearer " + cliToken, "X-Forwarded-For": "203.0.113.9"}, http.StatusForbidden},
		{"this machine, IPv6", "[::1]:4000", bearer, http.StatusOK},
		{"this machine", "127.0.0.1:4000", bearer, http.StatusOK},
	} {
		rec := cliDo(h, "GET", "/v1/cli/status", tc.remote, nil, tc.header)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
		}
	}
	rec := cliDo(h, "GET", "/v1/cli/status", "127.0.0.1:4000", nil, bearer)
	var st api.CLIStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Documents != 3 || st.KnowledgeVersion != "kv1-x" {
		t.Fatalf("status %+v %v", st, err)
	}
	if strings.Contains(logs.String(), cliToken[10:]) {
		t.Fatalf("the credential is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "/v1/cli/status") {
		t.Fatalf("requests are not logged:\n%s", logs)
	}
}

// A turn comes back whole, with the retrieved chunks, and a failed
// stream with its error beside what came before it.
func TestCLITurn(t *testing.T) {
	hit := kefu.Hit{Chunk: kefu.Chunk{ID: "returns.md#0", DocID: "returns.md", Text: "within 30 days"}, Score: 0.5, Lexical: 2, Dense: 0.4}
	fail := false
	h := api.NewCLIHandler(api.CLIDeps{Token: cliToken, Answerer: &fakeAnswerer{StreamFn: func(_ context.Context, turn rag.Turn) iter.Seq2[rag.Event, error] {
		meta := &rag.Meta{Intent: "return_refund", Decision: rag.DecideAnswer, Backend: "extractive", Retrieved: []kefu.Hit{hit}}
		if fail {
			return events(kefu.WrapError(kefu.EUnavailable, "the model failed", io.ErrUnexpectedEOF), rag.Event{Type: rag.EventMeta, Meta: meta}, rag.Event{Type: rag.EventDelta, Delta: "Within"})
		}
		return events(nil, rag.Event{Type: rag.EventMeta, Meta: meta},
			rag.Event{Type: rag.EventCitations, Citations: []rag.Citation{{N: 1, DocID: "returns.md", Title: "Returns"}}},
			rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: "Within 30 days [1] for " + turn.CustomerID}})
	}}})
	turn := func(body string) (int, api.CLITurnResult) {
		rec := cliDo(h, "POST", "/v1/cli/turn", "127.0.0.1:4000", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + cliToken})
		var res api.CLITurnResult
		_ = json.Unmarshal(rec.Body.Bytes(), &res)
		return rec.Code, res
	}
	code, res := turn(`{"message":"return?","customer_id":"C1001"}`)
	if code != 200 || res.Answer != "Within 30 days [1] for C1001" || len(res.Retrieved) != 1 || res.Retrieved[0].Chunk.Text != "within 30 days" ||
		res.Retrieved[0].Lexical != 2 || res.Meta.Intent != "return_refund" || len(res.Citations) != 1 || res.Error != nil {
		t.Fatalf("turn: %d %+v", code, res)
	}
	fail = true
	code, res = turn(`{"message":"return?"}`)
	if code != 200 || res.Answer != "Within" || res.Error == nil || res.Error.Code != kefu.EUnavailable || res.Error.Message != "the model failed" || res.Error.Cause == "" {
		t.Fatalf("failed turn: %d %+v %+v", code, res, res.Error)
	}
	if err := res.Error.Err(); kefu.ErrorMessage(err) != "the model failed" || kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("the error read back: %v", err)
	}
	for _, body := range []string{`{"message":"  "}`, `{"message":"hi","customer_id":"a b"}`, `{"message":`} {
		if code, _ := turn(body); code != http.StatusBadRequest {
			t.Errorf("turn %s: status %d, want 400", body, code)
		}
	}
}

// cliIngestBody is a multipart ingest: the request, then files by path.
func cliIngestBody(t *testing.T, req api.CLIIngestRequest, files map[string]string, order ...string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	raw, _ := json.Marshal(req)
	if err := mw.WriteField("request", string(raw)); err != nil {
		t.Fatal(err)
	}
	for _, name := range order {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+name+`"; filename="x"`)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, files[name])
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// An ingest's files arrive as the folder tree they were sent as, with the
// options, and the reply streams the progress and then the summary.
func TestCLIIngestRebuildsTheTree(t *testing.T) {
	var seen map[string]string
	var gotPaths []string
	var gotOpts ingest.Options
	h := api.NewCLIHandler(api.CLIDeps{Token: cliToken, Ingest: func(ctx context.Context, fsys fs.FS, opts ingest.Options, gate *eval.Gate, golden []eval.Case, paths ...string) (ingest.Summary, error) {
		seen, gotPaths, gotOpts = map[string]string{}, paths, opts
		err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				raw, err := fs.ReadFile(fsys, name)
				if err != nil {
					return err
				}
				seen[name] = string(raw)
			}
			return nil
		})
		opts.Progress(ingest.Progress{Files: 1, FilesTotal: 3})
		return ingest.Summary{Files: 3, Documents: 2, Failed: []ingest.FileError{{File: "docs/bad.json", Reason: "invalid JSON"}}}, err
	}})
	files := map[string]string{"docs/a.md": "# A\n", "docs/sub/b.md": "# B\n", "faq.csv": "q,a\n"}
	body, ctype := cliIngestBody(t, api.CLIIngestRequest{Paths: []string{"docs", "faq.csv"}, Options: api.CLIIngestOptions{Type: "policy", Prune: true, ProductField: "sku"}},
		files, "docs/sub/b.md", "faq.csv", "docs/a.md")
	rec := cliDo(h, "POST", "/v1/cli/ingest", "127.0.0.1:4000", body, map[string]string{"Authorization": "Bearer " + cliToken, "Content-Type": ctype})
	if rec.Code != 200 {
		t.Fatalf("ingest: %d %s", rec.Code, rec.Body)
	}
	if len(seen) != 3 || seen["docs/sub/b.md"] != "# B\n" || seen["faq.csv"] != "q,a\n" || strings.Join(gotPaths, ",") != "docs,faq.csv" ||
		gotOpts.Type != "policy" || !gotOpts.Prune || gotOpts.ProductField != "sku" {
		t.Fatalf("ingested %v from %v with %+v", seen, gotPaths, gotOpts)
	}
	sc := bufio.NewScanner(rec.Body)
	var lines []api.CLIIngestLine
	for sc.Scan() {
		var l api.CLIIngestLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 || lines[0].Progress == nil || lines[0].Progress.Files != 1 || lines[1].Summary == nil || lines[1].Summary.Documents != 2 || len(lines[1].Summary.Failed) != 1 {
		t.Fatalf("reply lines %+v", lines)
	}

	for name, files := range map[string]map[string]string{
		"a path out of the tree": {"../etc/passwd.md": "x"},
		"a file and a folder":    {"docs": "x", "docs/a.md": "y"},
	} {
		var order []string
		for n := range files {
			order = append(order, n)
		}
		body, ctype := cliIngestBody(t, api.CLIIngestRequest{Paths: []string{"docs"}}, files, order...)
		rec := cliDo(h, "POST", "/v1/cli/ingest", "127.0.0.1:4000", body, map[string]string{"Authorization": "Bearer " + cliToken, "Content-Type": ctype})
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, rec.Code, rec.Body)
		}
	}
}

// /readyz shows the knowledge version the server reads now.
func TestReadyzKnowledgeVersion(t *testing.T) {
	version := "kv1-0000000000000001"
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.KnowledgeVersion = func() string { return version } })
	for _, want := range []string{"kv1-0000000000000001", "kv1-0000000000000002"} {
		version = want
		rec := e.do(t, http.MethodGet, "/readyz", "")
		if got := decode[api.ReadyResponse](t, rec.Body.Bytes()); rec.Code != 200 || got.KnowledgeVersion != want {
			t.Fatalf("readyz %d %+v, want knowledge_version %s", rec.Code, got, want)
		}
	}
}
