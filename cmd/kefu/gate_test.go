package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/ingest"
)

const (
	gateFile   = "testdata/gate.json"
	goldenFile = "testdata/gate-golden.jsonl"
	// plantedReturns is a return window that breaks the golden case
	// ret-window-en ("how many days do i have": 30 days).
	plantedReturns = "Returns allowed for 365 days."
)

// gateShop copies the demo shop into a fresh folder, ingests it into a
// data dir there (and the store env configures) and returns both.
func gateShop(t *testing.T, env map[string]string) (shop, data string) {
	t.Helper()
	dir := t.TempDir()
	shop, data = filepath.Join(dir, "shop"), filepath.Join(dir, "data")
	if err := os.CopyFS(shop, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := run(t, env, "ingest", "--data-dir", data, shop); err != nil {
		t.Fatalf("ingest: %v\n%s%s", err, out, stderr)
	}
	// The tests below change the shop; before that, the fixture's cases
	// must all pass on it, or no test here can tell a broken change apart.
	if out, stderr, err := run(t, env, "eval", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile); err != nil {
		t.Fatalf("the demo shop does not pass %s on %s before any change (keep only cases it passes there): %v\n%s%s", gateFile, goldenFile, err, out, stderr)
	}
	return shop, data
}

// storeState is every stored document with its chunks and vectors.
type storeState struct {
	Infos  []kefu.DocumentInfo
	Chunks map[string][]kefu.Chunk
}

func readStore(t *testing.T, data string, env map[string]string) storeState {
	t.Helper()
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = data
	a, err := openApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	infos, err := a.store.Documents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := storeState{Infos: infos, Chunks: map[string][]kefu.Chunk{}}
	for _, d := range infos {
		cs, err := a.store.(ingest.Snapshotter).DocumentChunks(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.Chunks[d.ID] = cs
	}
	return st
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func askReturnWindow(t *testing.T, data string, env map[string]string) string {
	t.Helper()
	out, stderr, err := run(t, env, "ask", "--data-dir", data, "return policy? how many days do i have")
	if err != nil {
		t.Fatalf("ask: %v\n%s", err, stderr)
	}
	return out
}

func TestIngestGateRollsBackAPlantedChange(t *testing.T) {
	shop, data := gateShop(t, nil)
	before := readStore(t, data, nil)
	if answer := askReturnWindow(t, data, nil); !strings.Contains(answer, "30 days") {
		t.Fatalf("before the change the answer is %q", answer)
	}
	returns := filepath.Join(shop, "policies", "returns.en.md")
	replaceIn(t, returns, "You can return most items within 30 days of delivery.", plantedReturns)

	out, stderr, err := run(t, nil, "ingest", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile, shop)
	var exit exitError
	if !errors.As(err, &exit) {
		t.Fatalf("ingest --gate = %v, want exit status 1\n%s%s", err, out, stderr)
	}
	for _, want := range []string{"documents: 1 written", "gate:      FAILED (6 cases", "answer_includes_rate = ", "below the floor 1", "failed cases: 1, 1 of them broken by this change", "ret-window-en (broken by this change): ", `answer lacks ["30 days"]`, "rolled back 1 documents"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if after := readStore(t, data, nil); !reflect.DeepEqual(after, before) {
		t.Error("the store is not as it was before the change")
	}
	if answer := askReturnWindow(t, data, nil); !strings.Contains(answer, "30 days") || strings.Contains(answer, "365") {
		t.Errorf("after the rollback the answer is %q", answer)
	}
}

func TestIngestGateDeletesAFailingNewDocument(t *testing.T) {
	_, data := gateShop(t, nil)
	before := readStore(t, data, nil)
	plant := filepath.Join(t.TempDir(), "returns-extended.en.md")
	os.WriteFile(plant, []byte("# Return policy\n\n## Return window\n\nReturn policy: how many days do you have? "+plantedReturns+"\n"), 0o644)

	out, _, err := run(t, nil, "ingest", "--data-dir", data, "--json", "--gate", gateFile, "--golden", goldenFile, plant)
	var exit exitError
	if !errors.As(err, &exit) {
		t.Fatalf("ingest --gate = %v, want exit status 1\n%s", err, out)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	g := sum.Gate
	if sum.Documents != 1 || g == nil || g.Passed || !g.Checked || g.Cases != 6 || g.RolledBack != 1 || len(g.Broken) == 0 {
		t.Fatalf("summary %+v, gate %+v", sum, g)
	}
	if len(g.Failed) != 1 || g.Failed[0].ID != "ret-window-en" || !reflect.DeepEqual(g.Broke, []string{"ret-window-en"}) || g.FailsWithout {
		t.Errorf("failed cases %+v, broken by the change %v, want ret-window-en", g.Failed, g.Broke)
	}
	if after := readStore(t, data, nil); !reflect.DeepEqual(after, before) {
		t.Errorf("the new document was not deleted: %d documents, had %d", len(after.Infos), len(before.Infos))
	}
}

func TestIngestGateKeepsAPassingChange(t *testing.T) {
	shop, data := gateShop(t, nil)
	before := readStore(t, data, nil)
	warranty := filepath.Join(shop, "policies", "warranty.en.md")
	raw, _ := os.ReadFile(warranty)
	os.WriteFile(warranty, append(raw, "\n\nKeep your receipt or order number for warranty claims.\n"...), 0o644)

	out, stderr, err := run(t, nil, "ingest", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile, shop)
	if err != nil {
		t.Fatalf("ingest --gate: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "documents: 1 written") || !strings.Contains(out, "gate:      passed (6 cases") || strings.Contains(out, "rolled back") {
		t.Errorf("output:\n%s", out)
	}
	after := readStore(t, data, nil)
	if len(after.Infos) != len(before.Infos) || reflect.DeepEqual(after, before) {
		t.Fatalf("the change was not kept")
	}
	id := filepath.Join(filepath.Base(shop), "policies", "warranty.en.md")
	if cs := after.Chunks[id]; len(cs) == 0 || !strings.Contains(cs[len(cs)-1].Text, "Keep your receipt") {
		t.Errorf("stored warranty chunks %v", cs)
	}
}

// A check that runs out of time (ingest.gate_timeout) fails the gate and
// takes even a good change back.
func TestIngestGateTimeoutRollsBack(t *testing.T) {
	shop, data := gateShop(t, nil)
	before := readStore(t, data, nil)
	warranty := filepath.Join(shop, "policies", "warranty.en.md")
	raw, _ := os.ReadFile(warranty)
	os.WriteFile(warranty, append(raw, "\n\nKeep your receipt.\n"...), 0o644)
	env := map[string]string{"KEFU_INGEST_GATE_TIMEOUT": "1ns"}
	out, _, err := run(t, env, "ingest", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile, shop)
	var exit exitError
	if !errors.As(err, &exit) || !strings.Contains(out, "the check did not finish within 1ns") || !strings.Contains(out, "rolled back 1 documents") {
		t.Fatalf("ingest = %v\n%s", err, out)
	}
	if after := readStore(t, data, nil); !reflect.DeepEqual(after, before) {
		t.Error("the store is not as it was before the change")
	}
}

func TestIngestGateFlags(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{{"--gate", gateFile}, {"--golden", goldenFile}} {
		_, _, err := run(t, nil, append([]string{"ingest", "--data-dir", data}, append(args, demoDir)...)...)
		if err == nil || !strings.Contains(err.Error(), "--gate FILE and --golden FILE.jsonl together") {
			t.Errorf("ingest %v = %v, want a clear error", args, err)
		}
	}
	env := map[string]string{"KEFU_INGEST_GATE_MAX_CASES": "5"}
	if _, _, err := run(t, env, "ingest", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile, demoDir); err == nil || !strings.Contains(err.Error(), "6 cases, more than the 5") {
		t.Errorf("a golden set over the cap: %v", err)
	}
	if docs, err := os.ReadDir(data); err == nil && len(docs) > 0 {
		t.Errorf("a refused command wrote %v", docs)
	}
}

// The server's uploads are gated by ingest.gate and ingest.golden: a
// failing upload is rolled back and answered 422, a passing one stays.
func TestUploadGate(t *testing.T) {
	_, data := gateShop(t, nil)
	before := readStore(t, data, nil)
	const adminKey, widgetKey = "gate-test-admin-key-0123", "gate-test-widget-key-0123"
	var root string
	base := func(path string) string { return root + path }
	env := map[string]string{"KEFU_INGEST_GATE": gateFile, "KEFU_INGEST_GOLDEN": goldenFile,
		"KEFU_API_KEYS": "ops:admin:" + auth.HashKey(adminKey) + ",web:widget:" + auth.HashKey(widgetKey)}
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = data
	cfg.Server.Addr = "127.0.0.1:0"
	post := func(path, ctype, key string, body io.Reader) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, base(path), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+key)
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	var errc <-chan error
	root, errc = startServe(t, ctx, g, cfg, false)
	upload := func(name, text string) (int, map[string]any) {
		t.Helper()
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		part, _ := w.CreateFormFile("file", name)
		part.Write([]byte(text))
		w.Close()
		resp, err := post("/v1/admin/documents", w.FormDataContentType(), adminKey, &body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	chat := func(msg string) string {
		t.Helper()
		resp, err := post("/v1/chat", "application/json", widgetKey, strings.NewReader(`{"message":"`+msg+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		answer, _ := m["answer"].(string)
		return answer
	}

	status, m := upload("returns-extended.en.md", "# Return policy\n\n## Return window\n\nReturn policy: how many days do you have? "+plantedReturns+"\n")
	e, _ := m["error"].(map[string]any)
	gate, _ := e["gate"].(map[string]any)
	if status != http.StatusUnprocessableEntity || e["code"] != "gate_failed" || gate == nil {
		t.Fatalf("a failing upload: %d %v", status, m)
	}
	failed, _ := gate["failed"].([]any)
	if gate["passed"] != false || gate["rolled_back"] != float64(1) || len(failed) != 1 || failed[0].(map[string]any)["id"] != "ret-window-en" ||
		!reflect.DeepEqual(gate["broke"], []any{"ret-window-en"}) {
		t.Errorf("gate in the error body: %v", gate)
	}
	if msg, _ := e["message"].(string); !strings.Contains(msg, "answer_includes_rate") {
		t.Errorf("message %q does not name the broken threshold", msg)
	}
	if answer := chat("return policy? how many days do i have"); !strings.Contains(answer, "30 days") || strings.Contains(answer, "365") {
		t.Errorf("after the refused upload the answer is %q", answer)
	}

	status, m = upload("gift-wrap.en.md", "# Gift wrapping\n\nWe wrap any order as a gift for ¥10: choose gift wrap at checkout.\n")
	gate, _ = m["gate"].(map[string]any)
	if status != http.StatusOK || gate == nil || gate["passed"] != true || gate["checked"] != true {
		t.Fatalf("a passing upload: %d %v", status, m)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
	after := readStore(t, data, nil)
	if _, ok := after.Chunks["gift-wrap.en.md"]; !ok || len(after.Infos) != len(before.Infos)+1 {
		t.Fatalf("after the uploads: %d documents, had %d", len(after.Infos), len(before.Infos))
	}
	delete(after.Chunks, "gift-wrap.en.md")
	if !reflect.DeepEqual(after.Chunks, before.Chunks) {
		t.Error("the refused upload changed the store")
	}
}

// The same rollback on the Qdrant store (the in-process fake, which checks
// every request): the changed policy gets its old chunks and vectors back.
func TestIngestGateRollsBackOnQdrant(t *testing.T) {
	env := qdrantEnv(t)
	shop, data := gateShop(t, env)
	before := readStore(t, data, env)
	replaceIn(t, filepath.Join(shop, "policies", "returns.en.md"), "You can return most items within 30 days of delivery.", plantedReturns)
	out, _, err := run(t, env, "ingest", "--data-dir", data, "--gate", gateFile, "--golden", goldenFile, shop)
	var exit exitError
	if !errors.As(err, &exit) || !strings.Contains(out, "ret-window-en (broken by this change)") || !strings.Contains(out, "rolled back 1 documents") {
		t.Fatalf("ingest --gate = %v\n%s", err, out)
	}
	after := readStore(t, data, env)
	if !reflect.DeepEqual(after.Infos, before.Infos) {
		t.Fatalf("documents after the rollback differ")
	}
	for id, want := range before.Chunks {
		got := after.Chunks[id]
		if len(got) != len(want) {
			t.Fatalf("%s: %d chunks after the rollback, had %d", id, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.Text != w.Text || g.Heading != w.Heading || !reflect.DeepEqual(g.Meta, w.Meta) || len(g.Vector) != len(w.Vector) {
				t.Fatalf("%s chunk %d after the rollback: %+v, want %+v", id, i, g, w)
			}
			for d := range g.Vector {
				if math.Abs(float64(g.Vector[d]-w.Vector[d])) > 1e-6 {
					t.Fatalf("%s chunk %d: vector[%d] = %v, want %v", id, i, d, g.Vector[d], w.Vector[d])
				}
			}
		}
	}
	if answer := askReturnWindow(t, data, env); !strings.Contains(answer, "30 days") || strings.Contains(answer, "365") {
		t.Errorf("after the rollback the answer is %q", answer)
	}
}
