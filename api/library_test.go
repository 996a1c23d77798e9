package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
)

type fakeLibrary struct{}

func (fakeLibrary) Documents(context.Context) ([]kefu.DocumentInfo, error) {
	return []kefu.DocumentInfo{
		{ID: "policies/shipping.md", Type: "policy", Source: "policies/shipping.md", Chunks: 1},
		{ID: "policies/returns.md", Type: "policy", Source: "policies/returns.md", Chunks: 2},
		{ID: "catalogue.csv#P1", Type: "product", Source: "catalogue.csv", Chunks: 1},
	}, nil
}

func (fakeLibrary) DocumentChunks(_ context.Context, id string) ([]kefu.Chunk, error) {
	if id != "policies/returns.md" {
		return nil, nil
	}
	return []kefu.Chunk{{ID: id + "#1", DocID: id, Ordinal: 1, Text: "second"}, {ID: id + "#0", DocID: id, Ordinal: 0, Text: "first"}}, nil
}

func TestDocumentLibrary(t *testing.T) {
	e := newDeskEnv(t, func(_ *api.Config, d *api.Deps) { d.Library = fakeLibrary{} })
	all := decode[api.DocumentList](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/documents", ""))
	if all.Total != 3 || all.Documents[0].ID != "catalogue.csv#P1" {
		t.Fatalf("documents = %+v", all)
	}
	found := decode[api.DocumentList](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/documents?q=RETURN", ""))
	if found.Total != 1 || found.Documents[0].ID != "policies/returns.md" {
		t.Fatalf("search = %+v", found)
	}
	limited := decode[api.DocumentList](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/documents?limit=1", ""))
	if limited.Total != 3 || len(limited.Documents) != 1 {
		t.Fatalf("limited = %+v", limited)
	}
	ch := decode[api.DocumentChunks](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/documents/"+url.PathEscape("policies/returns.md"), ""))
	if len(ch.Chunks) != 2 || ch.Chunks[0].Text != "first" {
		t.Fatalf("chunks = %+v", ch)
	}
	wantError(t, e.do(t, "GET", "/v1/admin/documents/nope.md", "", bearer(adminKey)...), http.StatusNotFound, kefu.ENotFound)
	wantError(t, e.do(t, "GET", "/v1/admin/documents?limit=0", "", bearer(adminKey)...), http.StatusBadRequest, kefu.EInvalid)
	e.agent(t, aliceKey, 403, "GET", "/v1/admin/documents", "")
	e.agent(t, widgetKey, 403, "GET", "/v1/admin/documents/policies%2Freturns.md", "")
}

type fakeEvaluator struct {
	started chan struct{}
	release chan struct{}
}

func (f *fakeEvaluator) Evaluate(ctx context.Context) (eval.Report, error) {
	if f.started != nil {
		close(f.started)
		<-f.release
	}
	return eval.Report{Cases: 3, HitAt1: 0.67, Failures: []eval.Failure{{ID: "ret-02", Reasons: []string{"answer lacks \"30 days\""}}}}, nil
}

func TestRunEval(t *testing.T) {
	ev := &fakeEvaluator{started: make(chan struct{}), release: make(chan struct{})}
	e := newDeskEnv(t, func(_ *api.Config, d *api.Deps) { d.Evaluator = ev })
	done := make(chan []byte)
	go func() {
		rec := e.do(t, "POST", "/v1/admin/eval", "", bearer(adminKey)...)
		done <- rec.Body.Bytes()
	}()
	<-ev.started
	// One run at a time.
	wantError(t, e.do(t, "POST", "/v1/admin/eval", "", bearer(adminKey)...), http.StatusConflict, kefu.EConflict)
	close(ev.release)
	got := decode[api.EvalResponse](t, <-done)
	if got.Report.Cases != 3 || len(got.Report.Failures) != 1 || got.Report.Failures[0].ID != "ret-02" {
		t.Fatalf("eval = %+v", got)
	}
	ev.started = nil
	if rec := e.do(t, "POST", "/v1/admin/eval", "", bearer(adminKey)...); rec.Code != 200 {
		t.Errorf("a second run after the first: %d %s", rec.Code, rec.Body)
	}
	e.agent(t, aliceKey, 403, "POST", "/v1/admin/eval", "")
}
