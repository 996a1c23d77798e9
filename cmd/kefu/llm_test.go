package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/llm/llmtest"
)

// modelEnv points kefu at the fake model server.
func modelEnv(srv *llmtest.Server, key string) map[string]string {
	return map[string]string{
		"KEFU_LLM_PROVIDER": "openai", "KEFU_LLM_BASE_URL": srv.URL, "KEFU_LLM_MODEL": "fake-model",
		"KEFU_LLM_API_KEY": key, "KEFU_LLM_FIRST_TOKEN_TIMEOUT": "5s",
	}
}

func TestAskWithALanguageModel(t *testing.T) {
	dir := demoDataDir(t)
	const key = "sk-e2e-7d1f0a9b3c"
	srv := llmtest.NewServer(llmtest.WithAPIKey(key))
	defer srv.Close()
	env := modelEnv(srv, key)

	t.Run("the model answers", func(t *testing.T) {
		srv.Reset()
		answer := "大部分商品自签收之日起30天内可以退货。[1]"
		srv.Script(llmtest.Reply{Text: answer})
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "退货期限是多久？")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, answer+"\n") || !strings.Contains(out, "[1] ") || !strings.Contains(out, "returns.zh.md") {
			t.Fatalf("answer:\n%s\nwant the model's answer with its citation", out)
		}
		if !strings.Contains(stderr, "backend=openai/fake-model") {
			t.Errorf("stderr %q does not name the model", stderr)
		}
		reqs := srv.ChatRequests()
		if len(reqs) != 1 || reqs[0].Model != "fake-model" || reqs[0].Messages[0].Role != "system" || !strings.Contains(reqs[0].LastUser(), "30天") {
			t.Fatalf("the model got %+v", reqs)
		}
	})

	t.Run("no personal data reaches the model", func(t *testing.T) {
		srv.Reset()
		srv.Script(llmtest.Reply{Text: "Most items can be returned within 30 days. [1]"})
		q := "return window for items, how many days do I have to return an item after delivery? jane.doe@example.com"
		if _, stderr, err := run(t, env, "ask", "--data-dir", dir, q); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests reached the model; want 1", len(reqs))
		}
		for _, pii := range []string{"jane.doe@example.com", "jane.doe"} {
			if strings.Contains(string(reqs[0].Body), pii) {
				t.Errorf("%s reached the model", pii)
			}
		}
	})

	t.Run("a failing model falls back to the documents", func(t *testing.T) {
		srv.Reset()
		srv.Script(llmtest.Reply{Fault: llmtest.ServerError}, llmtest.Reply{Fault: llmtest.ServerError})
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "退货期限是多久？")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, llm.FallbackNotes["zh"]+"\n") || !strings.Contains(out, "30天") || !strings.Contains(out, "returns.zh.md") {
			t.Fatalf("answer:\n%s\nwant the note, then the extractive answer with its citation", out)
		}
		if n := len(srv.ChatRequests()); n != 2 {
			t.Errorf("%d model calls, want 2 (one retry)", n)
		}
		if !strings.Contains(stderr, "backend=extractive") {
			t.Errorf("stderr %q does not name the fallback that answered", stderr)
		}
		if strings.Contains(out+stderr, key) {
			t.Error("the API key was printed")
		}
	})

	t.Run("the key file", func(t *testing.T) {
		srv.Reset()
		srv.Script(llmtest.Reply{Text: "Most items can be returned within 30 days. [1]"})
		file := filepath.Join(t.TempDir(), "key")
		os.WriteFile(file, []byte(key+"\n"), 0o600)
		env := modelEnv(srv, "")
		env["KEFU_LLM_API_KEY_FILE"] = file
		out, stderr, err := run(t, env, "ask", "--data-dir", dir, "how long do I have to return an item?")
		if err != nil || !strings.HasPrefix(out, "Most items can be returned within 30 days. [1]") {
			t.Fatalf("%v\n%s\n%s", err, out, stderr)
		}
	})
}

func TestModelEmbeddingsEndToEnd(t *testing.T) {
	srv := llmtest.NewServer(llmtest.WithDims(64))
	defer srv.Close()
	env := map[string]string{
		"KEFU_EMBEDDING_PROVIDER": "openai", "KEFU_EMBEDDING_BASE_URL": srv.URL,
		"KEFU_EMBEDDING_MODEL": "fake-embed", "KEFU_EMBEDDING_DIMS": "64",
	}
	dir := t.TempDir()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "gift.en.md"), []byte("# Gift cards\n\nGift cards never expire and can be used for any product."), 0o644)
	if out, stderr, err := run(t, env, "ingest", "--data-dir", dir, src); err != nil {
		t.Fatalf("ingest: %v\n%s\n%s", err, out, stderr)
	}
	out, stderr, err := run(t, env, "ask", "--data-dir", dir, "do gift cards expire?")
	if err != nil || !strings.Contains(out, "never expire") {
		t.Fatalf("ask: %v\n%s\n%s", err, out, stderr)
	}
	embeds := 0
	for _, r := range srv.Requests() {
		if r.Embed != nil {
			embeds++
		}
	}
	if embeds < 2 {
		t.Errorf("%d embedding requests; want the ingest's and the question's", embeds)
	}
	// The data dir remembers its embedder: the local one may not read it.
	if _, _, err := run(t, nil, "ask", "--data-dir", dir, "do gift cards expire?"); err == nil || !strings.Contains(err.Error(), "openai:fake-embed") {
		t.Errorf("asking with another embedder: %v; want a refusal naming the store's embedder", err)
	}
	// A model whose vectors are not the configured size fails clearly.
	env["KEFU_EMBEDDING_DIMS"] = "32"
	if _, _, err := run(t, env, "ingest", "--data-dir", t.TempDir(), src); err == nil {
		t.Error("ingest with a wrong embedding.dims succeeded")
	}
}

func TestModelConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string
	}{
		{"", map[string]string{"KEFU_LLM_PROVIDER": "openai"}, "llm.model"},
		{"llm:\n  provider: ollama\n", nil, "llm.model"},
		{"llm:\n  api_key: sk-in-the-file\n", nil, "llm.api_key is a secret"},
		{"", map[string]string{"KEFU_LLM_API_KEY": "k", "KEFU_LLM_API_KEY_FILE": "/k"}, "llm.api_key_file"},
		{"", map[string]string{"KEFU_LLM_BASE_URL": "localhost:8000"}, "llm.base_url"},
		{"", map[string]string{"KEFU_LLM_TIMEOUT": "soon"}, "KEFU_LLM_TIMEOUT"},
		{"llm:\n  timeout: 10s\n  first_token_timeout: 20s\n", nil, "llm.first_token_timeout"},
		{"llm:\n  temperature: 3\n", nil, "llm.temperature"},
		{"", map[string]string{"KEFU_LLM_MAX_TOKENS": "-1"}, "llm.max_tokens"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "openai"}, "embedding.model"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "openai", "KEFU_EMBEDDING_MODEL": "m"}, "embedding.dims is required"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "word2vec"}, "embedding.provider"},
		{"embedding:\n  api_key: sk-in-the-file\n", nil, "embedding.api_key is a secret"},
	} {
		path := filepath.Join(dir, "kefu.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		_, err := LoadConfig(path, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %v: error %v, want one naming %s", tc.yaml, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-in-the-file") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	cfg, err := LoadConfig("", func(k string) string {
		return map[string]string{"KEFU_LLM_PROVIDER": "ollama", "KEFU_LLM_MODEL": "qwen2.5:7b", "KEFU_LLM_TEMPERATURE": "0"}[k]
	})
	if err != nil || *cfg.LLM.Temperature != 0 || cfg.LLM.Timeout != 60*time.Second || cfg.LLM.FirstTokenTimeout != 15*time.Second || cfg.LLM.MaxTokens != 512 {
		t.Fatalf("config %+v, %v", cfg.LLM, err)
	}
	if _, name, _, err := newGenerator(cfg.LLM); err != nil || name != "ollama/qwen2.5:7b" {
		t.Errorf("generator %q, %v", name, err)
	}
}

func TestFakeLLMCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runFakeLLM(ctx, fakeLLMOptions{addr: "127.0.0.1:0", dims: 8, reply: "scripted", models: []string{"fake-model"}},
			func(url string) { urls <- url }, func(w string) { t.Errorf("warning for a loopback address: %s", w) })
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"content":"scripted"`) {
		t.Errorf("reply %s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var warned string
	err = runFakeLLM(context.Background(), fakeLLMOptions{addr: "bad", dims: 8}, func(string) {}, func(w string) { warned = w })
	if err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("bad address: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := runFakeLLM(ctx2, fakeLLMOptions{addr: "0.0.0.0:0", dims: 8}, func(string) {}, func(w string) { warned = w }); err != nil || !strings.Contains(warned, "other machines") {
		t.Errorf("a public address: %v, warning %q", err, warned)
	}
}
