package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOrdersConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "orders.key")
	os.WriteFile(keyFile, []byte("ord-secret-1\n"), 0o600)
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string // "" for a valid config
	}{
		{"", map[string]string{"KEFU_ORDERS_ENDPOINT": "https://shop.example.com/orders", "KEFU_ORDERS_API_KEY": "k"}, ""},
		{"orders:\n  endpoint: https://shop.example.com/orders\n  api_key_file: " + keyFile + "\n  timeout: 2s\n", nil, ""},
		{"", map[string]string{"KEFU_ORDERS_ENDPOINT": "shop.example.com/orders"}, "orders.endpoint"},
		{"orders:\n  api_key: k\n", nil, "KEFU_ORDERS_API_KEY"},
		{"", map[string]string{"KEFU_ORDERS_API_KEY": "k", "KEFU_ORDERS_API_KEY_FILE": keyFile}, "keep one"},
		{"", map[string]string{"KEFU_ORDERS_TIMEOUT": "-1s"}, "orders.timeout"},
		{"orders:\n  endpoint: https://shop.example.com/orders\n  actions_endpoint: https://shop.example.com/actions\n  action_attempts: 2\nactions:\n  proposal_ttl: 5m\n", nil, ""},
		{"", map[string]string{"KEFU_ORDERS_ENDPOINT": "https://shop.example.com/orders", "KEFU_ORDERS_ACTIONS_ENDPOINT": "ftp://x"}, "orders.actions_endpoint"},
		{"", map[string]string{"KEFU_ORDERS_ACTIONS_ENDPOINT": "https://shop.example.com/actions"}, "needs orders.endpoint"},
		{"", map[string]string{"KEFU_ORDERS_ACTION_ATTEMPTS": "99"}, "orders.action_attempts"},
		{"", map[string]string{"KEFU_ACTIONS_PROPOSAL_TTL": "48h"}, "actions.proposal_ttl"},
	} {
		path := filepath.Join(dir, "kefu.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		cfg, err := LoadConfig(path, func(k string) string { return tc.env[k] })
		if tc.want == "" {
			if err != nil {
				t.Errorf("config %q env %v: %v", tc.yaml, tc.env, err)
				continue
			}
			if _, err := newOrderLookup(cfg.Orders); err != nil {
				t.Errorf("config %q env %v: %v", tc.yaml, tc.env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %v: error %v, want one naming %s", tc.yaml, tc.env, err, tc.want)
		}
	}
}
