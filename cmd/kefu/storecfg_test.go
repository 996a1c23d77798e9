package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/seal"
)

func TestStoreProviderConfig(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(seal.GenerateKey())
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte("postgres://kefu:pw@db:5432/kefu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yamlDSN := filepath.Join(t.TempDir(), "kefu.yaml")
	if err := os.WriteFile(yamlDSN, []byte("store:\n  provider: postgres\n  postgres:\n    dsn: postgres://kefu:pw@db/kefu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		problem    string // "" when the config is good
	}{
		{"default", "", nil, ""},
		{"postgres", "", map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_POSTGRES_DSN": "postgres://db/kefu", "KEFU_ENCRYPTION_KEY": key}, ""},
		{"dsn file", "", map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_POSTGRES_DSN_FILE": dsnFile, "KEFU_ENCRYPTION_KEY": key}, ""},
		{"no dsn", "", map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_ENCRYPTION_KEY": key}, "needs KEFU_POSTGRES_DSN"},
		{"no key", "", map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_POSTGRES_DSN": "postgres://db/kefu"}, "the same on every replica"},
		{"unknown", "", map[string]string{"KEFU_STORE_PROVIDER": "mysql"}, `store.provider "mysql" is not embedded or postgres`},
		{"both", "", map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_POSTGRES_DSN": "x", "KEFU_POSTGRES_DSN_FILE": dsnFile, "KEFU_ENCRYPTION_KEY": key}, "both set"},
		{"conns", "", map[string]string{"KEFU_POSTGRES_MAX_CONNS": "-3"}, "max_conns -3"},
		{"dsn in yaml", yamlDSN, map[string]string{"KEFU_ENCRYPTION_KEY": key}, "not kefu.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(tc.file, func(k string) string { return tc.env[k] })
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("config refused: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("error = %v, want one saying %q", err, tc.problem)
			case err != nil && strings.Contains(err.Error(), "pw@"):
				t.Errorf("the error repeats the DSN's password: %v", err)
			}
		})
	}
	cfg, err := LoadConfig("", func(k string) string {
		return map[string]string{"KEFU_STORE_PROVIDER": "postgres", "KEFU_POSTGRES_DSN_FILE": dsnFile, "KEFU_ENCRYPTION_KEY": key}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if dsn, err := postgresDSN(cfg.Store.Postgres); err != nil || dsn != "postgres://kefu:pw@db:5432/kefu" {
		t.Errorf("dsn from file = %q, %v", dsn, err)
	}
}
