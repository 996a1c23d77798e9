package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/vectordb/qdrant/qdranttest"
)

// qdrantEnv points kefu at a fresh fake Qdrant (which checks every request
// kefu sends: schema, filters, vectors, batching).
func qdrantEnv(t *testing.T) map[string]string {
	t.Helper()
	const key = "test-qdrant-api-key"
	srv := qdranttest.Start(t, qdranttest.WithAPIKey(key))
	return map[string]string{
		"KEFU_VECTORDB":       "qdrant",
		"KEFU_QDRANT_ADDR":    srv.Addr,
		"KEFU_QDRANT_API_KEY": key,
	}
}

// The whole stack on the Qdrant store: ingest (incremental through
// Documents), answers with citations, and a signed-in shopper's orders.
func TestQdrantStoreEndToEnd(t *testing.T) {
	env := qdrantEnv(t)
	dir := t.TempDir()
	ingest := func() (written, unchanged int) {
		t.Helper()
		out, stderr, err := run(t, env, "ingest", "--data-dir", dir, "--json", demoDir)
		if err != nil {
			t.Fatalf("ingest into Qdrant: %v\n%s\n%s", err, out, stderr)
		}
		var sum struct{ Documents, Unchanged int }
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatal(err)
		}
		return sum.Documents, sum.Unchanged
	}
	if written, _ := ingest(); written < 100 {
		t.Fatalf("first ingest wrote %d documents", written)
	}
	if written, unchanged := ingest(); written != 0 || unchanged < 100 {
		t.Fatalf("second ingest wrote %d, skipped %d; want every document skipped", written, unchanged)
	}
	for _, tc := range []struct {
		args         []string
		want, source string
	}{
		{[]string{"退货期限是多久？"}, "30天", "returns.zh.md"},
		{[]string{"free shipping minimum?"}, "¥99", "shipping.en.md"},
		{[]string{"--customer", "C1001", "where is my order"}, "SF1420576381945", "orders.jsonl"},
	} {
		out, _, err := run(t, env, append([]string{"ask", "--data-dir", dir}, tc.args...)...)
		if err != nil {
			t.Fatalf("ask %v: %v", tc.args, err)
		}
		if !strings.Contains(out, tc.want) || !strings.Contains(out, tc.source) {
			t.Errorf("ask %v:\n%s\nwant %q cited from %s", tc.args, out, tc.want, tc.source)
		}
	}
}

func TestQdrantConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KEFU_VECTORDB": "pinecone"}, "vectordb.provider"},
		{map[string]string{"KEFU_QDRANT_COLLECTION": "a/b"}, "vectordb.qdrant.collection"},
		{map[string]string{"KEFU_QDRANT_TLS": "sometimes"}, "KEFU_QDRANT_TLS"},
		{map[string]string{"KEFU_QDRANT_API_KEY": "k", "KEFU_QDRANT_API_KEY_FILE": "/k"}, "vectordb.qdrant.api_key"},
	} {
		_, err := LoadConfig("", func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want one naming %s", tc.env, err, tc.want)
		}
	}
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil || cfg.VectorDB.Provider != "embedded" || cfg.VectorDB.Qdrant.Collection != "kefu_chunks" || cfg.VectorDB.Qdrant.Addr != "localhost:6334" {
		t.Fatalf("defaults: %+v %v", cfg.VectorDB, err)
	}
}

// A Qdrant that cannot be reached fails the command with a message naming
// the store and the address, and never shows the API key.
func TestQdrantUnreachable(t *testing.T) {
	env := map[string]string{"KEFU_VECTORDB": "qdrant", "KEFU_QDRANT_ADDR": "127.0.0.1:1", "KEFU_QDRANT_API_KEY": "do-not-print-me"}
	_, stderr, err := run(t, env, "ask", "--data-dir", t.TempDir(), "hello")
	if err == nil {
		t.Fatal("ask succeeded without Qdrant")
	}
	msg := err.Error() + stderr
	if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "unavailable") {
		t.Errorf("error does not say Qdrant at 127.0.0.1:1 is unavailable: %v", msg)
	}
	if strings.Contains(msg, "do-not-print-me") {
		t.Errorf("the API key was printed: %v", msg)
	}
}
