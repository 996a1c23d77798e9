package api_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// An upload that breaks the gate is answered 422 gate_failed with the
// verdict, and the store is as it was; a passing one is 200 with it.
func TestUploadGate(t *testing.T) {
	ctx := context.Background()
	emb := embedding.NewLocal(64)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := ingest.New(st, emb, ingest.Options{}).IngestFS(ctx, shopFiles, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	// The gate asks the store about the return window, as a golden case would.
	gate := ingest.GateFunc(func(ctx context.Context) (ingest.GateReport, error) {
		hits, err := st.Search(ctx, kefu.Query{Text: "how many days to return", Vector: emb.Vector("how many days to return"), TopK: 1})
		if err != nil {
			return ingest.GateReport{}, err
		}
		rep := ingest.GateReport{Cases: 1}
		if len(hits) == 0 || !strings.Contains(hits[0].Chunk.Text, "30 days") {
			rep.Broken = []string{"answer_includes_rate = 0, below the floor 1"}
			rep.Failed = []ingest.CaseFailure{{ID: "ret-01", Reasons: []string{`answer lacks ["30 days"]`}}}
		}
		return rep, nil
	})
	e := adminEnv(t, ingest.New(st, emb, ingest.Options{Gate: gate}))
	before := storeContents(t, st)

	rec := upload(t, e, []upFile{{"returns.md", "text/markdown", "# Returns\n\nHow many days to return? Returns allowed for 365 days.\n"}}, nil)
	body := wantError(t, rec, http.StatusUnprocessableEntity, "gate_failed")
	g := body.Gate
	if g == nil || g.Passed || g.RolledBack != 1 || len(g.Failed) != 1 || g.Failed[0].ID != "ret-01" || len(g.Broken) != 1 {
		t.Fatalf("gate in the error body: %+v", g)
	}
	if !strings.Contains(body.Message, "answer_includes_rate") || !strings.Contains(body.Message, "rolled back") {
		t.Errorf("message %q", body.Message)
	}
	if after := storeContents(t, st); !reflect.DeepEqual(after, before) {
		t.Errorf("the store changed: %v", after)
	}

	rec = upload(t, e, []upFile{{"gift.md", "text/markdown", "# Gift wrap\n\nWe wrap gifts for 10 yuan.\n"}}, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("a passing upload: %d %s", rec.Code, rec.Body)
	}
	if sum := decode[ingest.Summary](t, rec.Body.Bytes()); sum.Gate == nil || !sum.Gate.Passed || !sum.Gate.Checked {
		t.Errorf("summary of a passing upload: %+v", sum)
	}
}

// When the rollback itself fails the client hears so (503), not that all
// is well again.
func TestUploadGateRollbackFailed(t *testing.T) {
	docs := &fakeDocuments{IngestFn: func(context.Context, fs.FS, ingest.Options, ...string) (ingest.Summary, error) {
		return ingest.Summary{Gate: &ingest.GateReport{Checked: true}},
			errors.Join(ingest.ErrGateFailed, kefu.WrapError(kefu.EUnavailable, "could not take the change back", ingest.ErrRollbackFailed))
	}}
	e := adminEnv(t, docs)
	rec := upload(t, e, []upFile{{"a.md", "", "# A\n\nText.\n"}}, nil)
	wantError(t, rec, http.StatusServiceUnavailable, kefu.EUnavailable)
}

var shopFiles = fstest.MapFS{
	"returns.md": {Data: []byte("# Returns\n\nHow many days to return? You can return most items within 30 days of delivery.\n")},
}

// storeContents is every stored document with its chunks and vectors.
func storeContents(t *testing.T, st *embedded.Store) map[string][]kefu.Chunk {
	t.Helper()
	infos, err := st.Documents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]kefu.Chunk{}
	for _, d := range infos {
		cs, err := st.DocumentChunks(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[d.ID+" "+d.Hash] = cs
	}
	return out
}
