package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadmeDocumentsEveryConfigKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../kefu.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range configKeys {
		if !strings.Contains(string(readme), "`"+k.Path+"`") || !strings.Contains(string(readme), "`"+k.Env+"`") {
			t.Errorf("README.md does not document %s / %s", k.Path, k.Env)
		}
		leaf := k.Path[strings.LastIndex(k.Path, ".")+1:]
		if !strings.Contains(string(example), leaf+":") {
			t.Errorf("kefu.example.yaml lacks %s", k.Path)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../../kefu.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("kefu.example.yaml: %v", err)
	}
	if cfg.Shop.Name["zh"] != "鹿米家居数码" || cfg.Embedding.Dims != 512 || cfg.Server.Addr != "" || cfg.Auth.TokenMaxTTL != 24*time.Hour || cfg.Limits.AddressRate != 20 {
		t.Fatalf("example config read as %+v", cfg)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string
	}{
		{"retrievl:\n  top_k: 3\n", nil, "retrievl"},
		{"log:\n  level: loud\n", nil, "log.level"},
		{"", map[string]string{"KEFU_TOP_K": "many"}, "KEFU_TOP_K"},
		{"", map[string]string{"KEFU_MIN_LEXICAL": "2"}, "retrieval.min_lexical"},
		{"", map[string]string{"KEFU_API_KEYS": "just-a-key"}, "KEFU_API_KEYS"},
		{"", map[string]string{"KEFU_LLM_PROVIDER": "gpt"}, "llm.provider"},
		{"auth:\n  token_secret: short\n", nil, "auth.token_secret"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "use"}, "embedding.model_dir"},
		{"", map[string]string{"KEFU_EMBEDDING_MODEL_DIR": "models/use"}, "embedding.model_dir"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "use", "KEFU_EMBEDDING_MODEL_DIR": "m", "KEFU_EMBEDDING_DIMS": "768"}, "embedding.dims"},
		{"", map[string]string{"KEFU_EMBEDDING_PROVIDER": "use", "KEFU_EMBEDDING_MODEL_DIR": "m", "KEFU_EMBEDDING_MODEL": "x"}, "embedding.model"},
	} {
		path := filepath.Join(dir, "kefu.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		_, err := LoadConfig(path, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %v: error %v, want one naming %s", tc.yaml, tc.env, err, tc.want)
		}
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(path, []byte("server:\n  addr: \":9000\"\nretrieval:\n  top_k: 3\n"), 0o600)
	cfg, err := LoadConfig(path, func(k string) string {
		return map[string]string{"KEFU_ADDR": "127.0.0.1:7000", "KEFU_API_KEYS": "web:widget:sha256:abcd"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:7000" || cfg.Retrieval.TopK != 3 || len(cfg.Auth.APIKeys) != 1 || cfg.Auth.APIKeys[0].Hash != "sha256:abcd" {
		t.Fatalf("got %+v", cfg)
	}
}
