package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// readyVersion reads knowledge_version from /readyz at base.
func readyVersion(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r api.ReadyResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(r.KnowledgeVersion, "kv1-") {
		t.Fatalf("/readyz has no knowledge_version: %+v", r)
	}
	return r.KnowledgeVersion
}

// TestCLIThroughRunningServer runs kefu serve --demo on a data dir and,
// while it holds the data dir, kefu ask, ingest (a new document), ask
// about that document and eval: each goes through the server, says so
// once, and answers as it would alone; the ingest changes /readyz's
// knowledge_version at once. A clean stop removes serve.json.
func TestCLIThroughRunningServer(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(t.TempDir(), "newdocs")
	if err := os.MkdirAll(docs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docs, "giftcards.md"), []byte("# Gift cards\n\nZephyr gift cards never expire and can be topped up at any till.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(t.TempDir(), "golden.jsonl")
	if err := os.WriteFile(golden, []byte(`{"id":"returns","question":"How long do I have to return an item?","evidence":["30 days"],"answer_includes":["30 days"],"expect":"answer"}
{"id":"giftcards","question":"Do Zephyr gift cards expire?","evidence":["never expire"],"answer_includes":["never expire"],"expect":"answer"}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.Server.Addr = "127.0.0.1:0"
	serverLog := &syncBuffer{}
	g := &globals{stdout: io.Discard, stderr: serverLog, getenv: func(string) string { return "" }}
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil { // serve --demo finds examples/demo-shop from the repository root
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	base, errc := startServe(t, ctx, g, cfg, true)

	rec, err := readServerRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, serverFileName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("serve.json: %v %v", info, err)
	}
	if "http://"+rec.Addr != base || rec.PID != os.Getpid() || !strings.HasPrefix(rec.CLIAddr, "127.0.0.1:") || len(rec.Token) < 40 {
		t.Fatalf("serve.json records %+v (server at %s)", rec, base)
	}
	before := readyVersion(t, base)

	through := func(args ...string) string {
		t.Helper()
		out, stderr, err := run(t, nil, append(args, "--data-dir", dir)...)
		if err != nil {
			t.Fatalf("kefu %s: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, out, stderr)
		}
		if n := strings.Count(stderr, "going through the server at "+rec.Addr); n != 1 {
			t.Fatalf("kefu %s says %d times that it went through the server:\n%s", args[0], n, stderr)
		}
		if strings.Contains(stderr+out, rec.Token) {
			t.Fatalf("kefu %s printed the credential", args[0])
		}
		return out
	}

	if out := through("ask", "How long do I have to return an item?"); !strings.Contains(out, "30 days") || !strings.Contains(out, "returns.en.md") {
		t.Fatalf("ask through the server:\n%s", out)
	}

	var sum struct {
		Documents int   `json:"documents"`
		Unchanged int   `json:"unchanged"`
		Failed    []any `json:"failed"`
	}
	if err := json.Unmarshal([]byte(through("ingest", "--json", docs)), &sum); err != nil || sum.Documents != 1 || len(sum.Failed) != 0 {
		t.Fatalf("ingest through the server: %+v %v", sum, err)
	}
	after := readyVersion(t, base)
	if after == before {
		t.Fatalf("knowledge_version stayed %s after an ingest that added a document", after)
	}
	askOut := through("ask", "--explain", "Do Zephyr gift cards expire?")
	if !strings.Contains(askOut, "never expire") || !strings.Contains(askOut, "newdocs/giftcards.md") {
		t.Fatalf("ask about the new document:\n%s", askOut)
	}
	// The same files again change nothing, nor the version.
	if err := json.Unmarshal([]byte(through("ingest", "--json", docs)), &sum); err != nil || sum.Documents != 0 || sum.Unchanged != 1 {
		t.Fatalf("second ingest: %+v %v", sum, err)
	}
	if v := readyVersion(t, base); v != after {
		t.Fatalf("knowledge_version changed from %s to %s on an ingest that changed nothing", after, v)
	}

	// Files that fail are reported as a run of its own reports them, with
	// the paths as given, and the exit status says so.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.MkdirAll(filepath.Join(bad, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bad, "sub", "broken.json"), []byte(`{"a":`), 0o600)
	os.WriteFile(filepath.Join(bad, "notes.xyz"), []byte("x"), 0o600)
	badArgs := []string{"ingest", "--json", bad, filepath.Join(bad, "notes.xyz"), filepath.Join(bad, "missing.md")}
	badOut, stderr, err := run(t, nil, append(badArgs, "--data-dir", dir)...)
	var exit exitError
	if !errors.As(err, &exit) || !strings.Contains(stderr, "going through the server") {
		t.Fatalf("ingest of bad files through the server: %v\n%s\n%s", err, badOut, stderr)
	}
	directOut, _, err := run(t, nil, append(badArgs, "--data-dir", t.TempDir())...)
	if !errors.As(err, &exit) || failedOf(t, badOut) != failedOf(t, directOut) || !strings.Contains(failedOf(t, badOut), filepath.Join(bad, "sub", "broken.json")) {
		t.Fatalf("ingest of bad files through the server reports\n%s\nand on its own\n%s", failedOf(t, badOut), failedOf(t, directOut))
	}

	var report struct {
		Cases    int     `json:"cases"`
		HitAt5   float64 `json:"hit_at_5"`
		Includes float64 `json:"answer_includes_rate"`
		Failures []any   `json:"failures"`
	}
	evalOut := through("eval", "--golden", golden, "--json")
	if err := json.Unmarshal([]byte(evalOut), &report); err != nil || report.Cases != 2 || report.HitAt5 != 1 || report.Includes != 1 || len(report.Failures) != 0 {
		t.Fatalf("eval through the server: %+v %v\n%s", report, err, evalOut)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
	if _, err := os.Stat(filepath.Join(dir, serverFileName)); !os.IsNotExist(err) {
		t.Fatalf("serve.json is left after a clean stop: %v", err)
	}
	if logs := serverLog.String(); strings.Contains(logs, rec.Token) || !strings.Contains(logs, "/v1/cli/turn") {
		t.Fatalf("the server's log holds the credential, or no line of the command line's requests:\n%s", logs)
	}
	// With the server gone the commands open the data dir themselves, and
	// print what they printed through the server.
	out, stderr, err := run(t, nil, "ask", "--data-dir", dir, "--explain", "Do Zephyr gift cards expire?")
	if err != nil || out != askOut || strings.Contains(stderr, "going through") {
		t.Fatalf("ask after the server stopped: %v\n%s\nthrough the server:\n%s\n%s", err, out, askOut, stderr)
	}
	out, _, err = run(t, nil, "eval", "--data-dir", dir, "--golden", golden, "--json")
	if err != nil || !sameReport(t, out, evalOut) {
		t.Fatalf("eval after the server stopped: %v\n%s\nthrough the server:\n%s", err, out, evalOut)
	}
}

// sameReport compares two kefu eval --json reports but for their latencies.
func sameReport(t *testing.T, a, b string) bool {
	t.Helper()
	var ma, mb map[string]any
	if json.Unmarshal([]byte(a), &ma) != nil || json.Unmarshal([]byte(b), &mb) != nil {
		return false
	}
	for _, m := range []map[string]any{ma, mb} {
		delete(m, "latency_ms_p50")
		delete(m, "latency_ms_p95")
	}
	ra, _ := json.Marshal(ma)
	rb, _ := json.Marshal(mb)
	return string(ra) == string(rb)
}

// TestStaleServerRecordIsIgnored leaves a serve.json behind as a killed
// server would, while another process holds the data dir: kefu ask reports
// the lock as before instead of trying the recorded address, whether the
// recorded process is gone or nothing answers at the address. A new kefu
// serve replaces the stale file.
func TestStaleServerRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()
	// A process that has ended.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.ProcessState.Pid()

	if err := os.MkdirAll(filepath.Join(dir, "chunks"), 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := bolt.Open(filepath.Join(dir, "chunks", embedded.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			lock.Close()
		}
	}()
	for _, rec := range []serverRecord{
		{Addr: "127.0.0.1:8080", CLIAddr: deadAddr, PID: deadPID, Token: "kefu_cli_stale"},
		{Addr: "127.0.0.1:8080", CLIAddr: deadAddr, PID: os.Getpid(), Token: "kefu_cli_stale"},
	} {
		if err := writeServerRecord(dir, rec); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := run(t, nil, "ask", "--data-dir", dir, "How long do I have to return an item?")
		if err == nil || !strings.Contains(errorText(err), "in use by another kefu process") || strings.Contains(stderr, "going through") {
			t.Fatalf("ask with a stale serve.json (pid %d): %v\n%s", rec.PID, err, stderr)
		}
	}

	lock.Close()
	locked = false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.Server.Addr = "127.0.0.1:0"
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	base, errc := startServe(t, ctx, g, cfg, false)
	rec, err := readServerRecord(dir)
	if err != nil || rec.Token == "kefu_cli_stale" || rec.CLIAddr == deadAddr || "http://"+rec.Addr != base {
		t.Fatalf("serve did not replace the stale serve.json: %+v %v", rec, err)
	}
	if findServer(ctx, dir) == nil {
		t.Fatal("the new server's record is not found live")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// refreshCounter is an embedded store that counts its reloads.
type refreshCounter struct {
	*embedded.Store
	refreshed int
}

func (r *refreshCounter) Refresh() { r.refreshed++ }

// A server notices a change that another process made to its store: the
// version read next differs, and the store is told to drop its caches.
func TestKnowledgeVersionNoticesAChange(t *testing.T) {
	st, err := embedded.Open(t.TempDir(), embedded.EmbedderInfo{Name: "test", Dims: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store := &refreshCounter{Store: st}
	know := &knowledge{store: store, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	if err := know.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	empty := know.Version()
	if err := know.refresh(ctx); err != nil || know.Version() != empty || store.refreshed != 0 {
		t.Fatalf("an unchanged store: %s then %s, %d reloads, %v", empty, know.Version(), store.refreshed, err)
	}
	doc := kefu.Document{ID: "returns.md", Type: "policy", Source: "returns.md", Title: "Returns", Text: "Within 30 days.", Hash: "h1"}
	chunk := kefu.Chunk{ID: "returns.md#0", DocID: "returns.md", Type: "policy", Source: "returns.md", Title: "Returns", Text: "Within 30 days.", Tokens: 4, Vector: []float32{1, 0}}
	if err := st.Replace(ctx, doc, []kefu.Chunk{chunk}); err != nil {
		t.Fatal(err)
	}
	if err := know.refresh(ctx); err != nil || know.Version() == empty || store.refreshed != 1 {
		t.Fatalf("after a write: %s (was %s), %d reloads, %v", know.Version(), empty, store.refreshed, err)
	}
	// The version is what the store holds, not how it got there.
	docs, _ := st.Documents(ctx)
	if knowledgeVersion(docs) != know.Version() || knowledgeVersion(nil) != empty {
		t.Fatal("the version depends on more than the documents")
	}
}

// failedOf is the failures of a kefu ingest --json summary, as JSON.
func failedOf(t *testing.T, out string) string {
	t.Helper()
	var sum struct {
		Failed json.RawMessage `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("ingest --json printed %q: %v", out, err)
	}
	return string(sum.Failed)
}
