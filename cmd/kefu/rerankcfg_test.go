package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const rerankSecret = "rk-cfg-7a6b5c4d3e"

func TestRerankConfig(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := LoadConfig("", none)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Rerank; r.Provider != "local" || r.Timeout != 3*time.Second || r.TopN != 0 || r.URL != "" {
		t.Errorf("defaults %+v", r)
	}

	env := map[string]string{"KEFU_RERANK_PROVIDER": "tei", "KEFU_RERANK_URL": "http://tei:80/rerank", "KEFU_RERANK_API_KEY": rerankSecret,
		"KEFU_RERANK_TIMEOUT": "800ms", "KEFU_RERANK_TOP_N": "8"}
	cfg, err = LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Rerank; r.Provider != "tei" || r.URL != "http://tei:80/rerank" || r.apiKey != rerankSecret || r.Timeout != 800*time.Millisecond || r.TopN != 8 {
		t.Errorf("from the environment %+v", r)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "rerank", cfg.Rerank)
	if strings.Contains(b.String(), rerankSecret) || !strings.Contains(b.String(), "api_key_set=true") {
		t.Errorf("log line %s", b.String())
	}

	path := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(path, []byte("rerank:\n  provider: cohere\n  model: rerank-multilingual-v3.0\n  top_n: 5\n  timeout: 2s\n"), 0o600)
	cfg, err = LoadConfig(path, none)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Rerank; r.Provider != "cohere" || r.Model != "rerank-multilingual-v3.0" || r.TopN != 5 || r.Timeout != 2*time.Second {
		t.Errorf("from kefu.yaml %+v", r)
	}
}

func TestRerankConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(rerankSecret+"\n"), 0o600)
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string
	}{
		{"", map[string]string{"KEFU_RERANK_PROVIDER": "openai"}, "rerank.provider"},
		{"", map[string]string{"KEFU_RERANK_PROVIDER": "tei"}, "rerank.url is required"},
		{"", map[string]string{"KEFU_RERANK_PROVIDER": "jina", "KEFU_RERANK_URL": "ftp://x/rerank"}, "rerank.url is not an http"},
		{"", map[string]string{"KEFU_RERANK_URL": "http://tei/rerank"}, "rerank.url is set, but rerank.provider is local"},
		{"", map[string]string{"KEFU_RERANK_PROVIDER": "off", "KEFU_RERANK_MODEL": "m"}, "rerank.model is set, but rerank.provider is off"},
		{"", map[string]string{"KEFU_RERANK_TIMEOUT": "soon"}, "KEFU_RERANK_TIMEOUT"},
		{"", map[string]string{"KEFU_RERANK_TOP_N": "-2"}, "rerank.top_n"},
		{"", map[string]string{"KEFU_RERANK_TOP_N": "five"}, "KEFU_RERANK_TOP_N"},
		{"rerank:\n  timeout: -1s\n", nil, "rerank.timeout"},
		{"rerank:\n  provider: cohere\n  api_key: " + rerankSecret + "\n", nil, "rerank.api_key is a secret"},
		{"rerank:\n  provider: cohere\n  api_key_file: " + keyFile + "\n", map[string]string{"KEFU_RERANK_API_KEY": "k"}, "keep one"},
		{"rerank:\n  providr: cohere\n", nil, "providr"},
	} {
		path := filepath.Join(dir, "kefu.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		_, err := LoadConfig(path, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %v: error %v, want one saying %s", tc.yaml, tc.env, err, tc.want)
		} else if strings.Contains(err.Error(), rerankSecret) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

func TestRerankOptions(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for provider, some := range map[string]bool{"off": false, "local": true, "cohere": true} {
		opts, err := rerankOptions(RerankConfig{Provider: provider, Timeout: time.Second}, "local", log)
		if err != nil || (len(opts) > 0) != some {
			t.Errorf("%s: %d options, %v; want some: %t", provider, len(opts), err, some)
		}
	}
	// The local weights are fitted to the local embedder's scores.
	if opts, err := rerankOptions(RerankConfig{Provider: "local"}, "openai", log); err != nil || len(opts) != 0 {
		t.Errorf("local reranker with a model embedder: %d options, %v; want none", len(opts), err)
	}
	if _, err := rerankOptions(RerankConfig{Provider: "tei", APIKeyFile: filepath.Join(t.TempDir(), "missing")}, "local", log); err == nil ||
		!strings.Contains(err.Error(), "rerank.api_key_file") {
		t.Errorf("a missing key file: %v", err)
	}
}

// teiFake is a text-embeddings-inference /rerank endpoint that scores a
// text 0.9 when it holds favour, else 0.1, or fails with 500.
type teiFake struct {
	mu     sync.Mutex
	auth   []string
	fail   bool
	favour string
}

func (f *teiFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query string   `json:"query"`
		Texts []string `json:"texts"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	fail := f.fail
	f.mu.Unlock()
	if fail || r.URL.Path != "/rerank" {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"CUDA out of memory","error_type":"backend"}`))
		return
	}
	var out []map[string]any
	for i, text := range req.Texts {
		s := 0.1
		if strings.Contains(text, f.favour) {
			s = 0.9
		}
		out = append(out, map[string]any{"index": i, "score": s})
	}
	json.NewEncoder(w).Encode(out)
}

// With rerank.provider tei the hosted scores order the candidates; when
// the service fails, the answer comes in the first-stage order and the
// failure is logged without the key.
func TestHostedRerankerWired(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(t.TempDir(), "qa.csv")
	os.WriteFile(csv, []byte(`qid,question,ASIN,title,candidate,source
1,does it fit the iPad Air?,B001,Lumi Tablet Case,fits the iPad Air 11 inch and the iPad Air 13 inch,cqa
3,does it fit the iPad Air?,B002,Lumi Phone Case,it fits the iPhone 15; with the stand it holds an iPad Air upright,cqa
`), 0o644)
	if out, stderr, err := run(t, nil, "ingest", "--data-dir", dir, "--type", "product", "--group-by", "ASIN", "--title-field", "title", csv); err != nil {
		t.Fatalf("ingest: %v\n%s\n%s", err, out, stderr)
	}
	fake := &teiFake{favour: "iPhone"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "rerank.key")
	os.WriteFile(keyFile, []byte(rerankSecret+"\n"), 0o600)
	env := map[string]string{"KEFU_RERANK_PROVIDER": "tei", "KEFU_RERANK_URL": srv.URL + "/rerank", "KEFU_RERANK_API_KEY_FILE": keyFile}
	first := func() string {
		t.Helper()
		_, stderr, err := run(t, env, "ask", "--data-dir", dir, "--explain", "does it fit the iPad Air?")
		if err != nil {
			t.Fatalf("ask: %v\n%s", err, stderr)
		}
		if strings.Contains(stderr, rerankSecret) {
			t.Errorf("the key is in the output:\n%s", stderr)
		}
		_, line, _ := strings.Cut(stderr, " 1. ")
		line, _, _ = strings.Cut(line, "\n")
		return line
	}
	if line := first(); !strings.Contains(line, "#B002#") || !strings.Contains(line, "fused=0.9000") {
		t.Errorf("with the hosted reranker the first chunk is %q, want B002's with its score 0.9", line)
	}
	fake.mu.Lock()
	if len(fake.auth) == 0 || fake.auth[0] != "Bearer "+rerankSecret {
		t.Errorf("authorization %q", fake.auth)
	}
	fake.fail = true
	fake.mu.Unlock()
	if line := first(); !strings.Contains(line, "#B001#") {
		t.Errorf("with the reranker failing the first chunk is %q, want the first stage's (B001)", line)
	}
	_, stderr, _ := run(t, env, "ask", "--data-dir", dir, "does it fit the iPad Air?")
	if !strings.Contains(stderr, "rerank failed") || !strings.Contains(stderr, "CUDA out of memory") || strings.Contains(stderr, rerankSecret) {
		t.Errorf("the failure is not logged as it should be:\n%s", stderr)
	}
}
