package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/rag"

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
	askDemo(t, env, dir)
}

// The leak test of the embedded store, on Qdrant: every shopper (and an
// anonymous one) asks about one order of every other shopper, by id, by
// tracking number and by owner; no retrieved chunk and no answer holds
// another shopper's order.
func TestQdrantNoShopperSeesAnotherShoppersOrders(t *testing.T) {
	env := qdrantEnv(t)
	dir := t.TempDir()
	if out, _, err := run(t, env, "ingest", "--data-dir", dir, "--json", demoDir); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	a, err := openApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	orders := demoOrders(t)
	first := map[string]order{} // one order per shopper
	for _, o := range orders {
		if _, ok := first[o.Customer]; !ok {
			first[o.Customer] = o
		}
	}
	askers := []string{""}
	for c := range first {
		askers = append(askers, c)
	}
	turns := 0
	for _, asker := range askers {
		for owner, o := range first {
			if owner == asker {
				continue
			}
			for _, q := range []string{
				"where is order " + o.ID,
				"tracking " + o.Tracking + " status?",
				o.Name + "'s order, what did they buy",
				"我的订单 " + o.ID + " 到哪了",
			} {
				res, err := rag.Collect(a.pipeline.Stream(context.Background(), rag.Turn{CustomerID: asker, Message: q}))
				if err != nil {
					t.Fatalf("%q: %v", q, err)
				}
				turns++
				for _, h := range res.Meta.Retrieved {
					if h.Chunk.CustomerID != "" && h.Chunk.CustomerID != asker {
						t.Fatalf("shopper %q asking %q retrieved %s of %s", asker, q, h.Chunk.ID, h.Chunk.CustomerID)
					}
				}
				for _, other := range orders {
					if other.Customer != asker && (strings.Contains(res.Answer, other.ID) && !strings.Contains(q, other.ID) ||
						other.Tracking != "" && strings.Contains(res.Answer, other.Tracking) && !strings.Contains(q, other.Tracking)) {
						t.Fatalf("shopper %q asking %q was shown %s's order %s:\n%s", asker, q, other.Customer, other.ID, res.Answer)
					}
				}
			}
		}
	}
	t.Logf("%d turns on Qdrant, no leak", turns)
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
	cfg, err := LoadConfig("", func(k string) string { return map[string]string{"KEFU_QDRANT_API_KEY": "do-not-log-me"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "qdrant", cfg.VectorDB.Qdrant)
	if strings.Contains(logged.String(), "do-not-log-me") || !strings.Contains(logged.String(), `"api_key_set":true`) {
		t.Errorf("logging the Qdrant config: %s", logged.String())
	}
	cfg, err = LoadConfig("", func(string) string { return "" })
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
